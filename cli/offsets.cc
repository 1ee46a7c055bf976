// `syncline offsets show` and `syncline offsets set`: read and move a pipeline's committed offset.
// Moving it is how operators replay (rewind) or skip: the sink resumes at committed + 1, and the
// fenced targets make a replay converge to the log's state. `set` takes the state's writer lock,
// which the running sink holds, so it can never race a live pipeline.
#include "cli/offsets.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/display.h"
#include "cli/internal/command_util.h"
#include "cli/syncline_cli.h"
#include "common/process.h"
#include "store/change_log.h"
#include "store/run_lock.h"
#include "store/state_store.h"

namespace syncline::cli {
namespace {

using internal::failure;
using internal::usage_error;

status invalid(std::string msg) { return status{errc::invalid_argument, std::move(msg)}; }

// Stored offsets in [lo, hi] given the log's bounds (dense offsets, retention trims from below).
std::uint64_t stored_between(std::uint64_t lo, std::uint64_t hi, const log_bounds& log) {
    if (log.first == 0) return 0;  // Nothing stored.
    lo = std::max(lo, log.first);
    hi = std::min(hi, log.last);
    return hi >= lo ? hi - lo + 1 : 0;
}

std::string committed_text(std::optional<std::uint64_t> c) {
    if (!c) return "never committed (starts at the first offset in the log)";
    return std::to_string(*c) + " (resumes at offset " + std::to_string(*c + 1) + ")";
}

std::string signed_text(std::int64_t v) { return (v > 0 ? "+" : "") + std::to_string(v); }

}  // namespace

result<offsets_plan> plan_offsets(std::optional<std::uint64_t> current, const reset_request& request,
                                  const std::optional<log_bounds>& log) {
    offsets_plan plan;
    plan.current = current;
    switch (request.kind) {
        case reset_kind::to_offset: {
            if (request.offset == 0) return invalid("--to-offset 0: offsets start at 1 (use --to-offset 1 to replay everything)");
            if (log && request.offset > log->last + 1)
                return invalid("--to-offset " + std::to_string(request.offset) +
                               " is past the end of the log (last offset " + std::to_string(log->last) +
                               "): use --to-latest to skip everything");
            plan.new_committed = request.offset - 1;
            if (log && log->first > 1 && request.offset < log->first)
                plan.note = "offsets below " + std::to_string(log->first) +
                            " were removed by retention: the pipeline resumes at offset " + std::to_string(log->first);
            break;
        }
        case reset_kind::shift_by: {
            if (!current)
                return invalid("the pipeline never committed, so there is nothing to shift: use --to-offset or --to-earliest");
            const std::uint64_t cur = *current;
            if (request.shift < 0) {
                const auto back = static_cast<std::uint64_t>(-(request.shift + 1)) + 1;  // No overflow at INT64_MIN.
                if (back > cur)
                    return invalid("--shift-by " + signed_text(request.shift) + " would move the committed offset " +
                                   std::to_string(cur) + " below 0: use --to-earliest");
                plan.new_committed = cur - back;
            } else {
                const auto ahead = static_cast<std::uint64_t>(request.shift);
                if (ahead > UINT64_MAX - cur) return invalid("--shift-by " + signed_text(request.shift) + " overflows");
                plan.new_committed = cur + ahead;
                if (log && plan.new_committed > log->last && ahead > 0)
                    return invalid("--shift-by " + signed_text(request.shift) + " would move the committed offset " +
                                   std::to_string(cur) + " past the end of the log (last offset " +
                                   std::to_string(log->last) + "): use --to-latest");
            }
            break;
        }
        case reset_kind::to_earliest:
            // Everything still stored is delivered again; with everything trimmed, that is nothing.
            plan.new_committed = !log ? 0 : log->first == 0 ? log->last : log->first - 1;
            break;
        case reset_kind::to_latest:
            if (!log) return invalid("--to-latest needs --log DIR (to know the last offset)");
            plan.new_committed = log->last;
            break;
        case reset_kind::to_time:
            if (!log) return invalid("--to-time needs --log DIR (to find the offset appended at that time)");
            if (log->offset_at_time) {
                plan.new_committed = *log->offset_at_time - 1;
                plan.note = "offset " + std::to_string(*log->offset_at_time) + " is the first record appended at or after " +
                            format_iso_time(request.time_ms);
            } else {
                plan.new_committed = log->last;
                plan.note = "no record was appended at or after " + format_iso_time(request.time_ms) +
                            ": the pipeline resumes after the last record";
            }
            break;
    }
    if (log) {
        const std::uint64_t cur = current.value_or(0);
        plan.replayed = plan.new_committed < cur ? stored_between(plan.new_committed + 1, cur, *log) : 0;
        plan.skipped = plan.new_committed > cur ? stored_between(cur + 1, plan.new_committed, *log) : 0;
    }
    return plan;
}

std::string describe_plan(const std::string& pipeline, const offsets_plan& plan, const std::optional<log_bounds>& log) {
    std::string out;
    auto row = [&](std::string_view label, const std::string& value) {
        out += label;
        out.append(20 - label.size(), ' ');
        out += value;
        out += '\n';
    };
    row("pipeline:", pipeline);
    row("current committed:", committed_text(plan.current));
    row("new committed:", std::to_string(plan.new_committed) + " (resume at offset " + std::to_string(plan.resume_at()) + ")");
    const std::uint64_t cur = plan.current.value_or(0);
    if (log) {
        row("log:", log->last == 0 ? std::string("empty")
                                   : "offsets " + std::to_string(log->first) + ".." + std::to_string(log->last));
        if (plan.replayed && *plan.replayed > 0) {
            row("effect:", "replays " + std::to_string(*plan.replayed) + " records (offsets " +
                               std::to_string(std::max(plan.new_committed + 1, log->first)) + ".." +
                               std::to_string(std::min(cur, log->last)) + " are delivered again)");
        } else if (plan.skipped && *plan.skipped > 0) {
            row("effect:", "skips " + std::to_string(*plan.skipped) + " records (offsets " +
                               std::to_string(std::max(cur + 1, log->first)) + ".." +
                               std::to_string(std::min(plan.new_committed, log->last)) + " are never delivered)");
        } else if (plan.new_committed == cur && plan.current) {
            row("effect:", "none (the committed offset does not change)");
        } else {
            row("effect:", "no stored records are replayed or skipped");
        }
    } else if (plan.new_committed < cur) {
        row("effect:", "moves back by " + std::to_string(cur - plan.new_committed) + " offsets (add --log to count records)");
    } else if (plan.new_committed > cur) {
        row("effect:", "moves forward by " + std::to_string(plan.new_committed - cur) + " offsets (add --log to count records)");
    } else if (plan.current) {
        row("effect:", "none (the committed offset does not change)");
    }
    if (!plan.note.empty()) row("note:", plan.note);
    return out;
}

int offsets_show_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "offsets show";
    std::string root, pipeline, log_path;
    bool as_json = false;
    po::options_description desc("offsets show options");
    desc.add_options()
        ("state", po::value(&root)->required()->value_name("DIR"), "state root directory")
        ("pipeline", po::value(&pipeline)->value_name("NAME"), "one pipeline. Default: every pipeline under --state")
        ("log", po::value(&log_path)->value_name("DIR"), "change log: also show its last offset and each pipeline's lag")
        ("json", po::bool_switch(&as_json), "JSON Lines {pipeline, committed, resume_at, log_last, lag}");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline offsets show --state DIR [--pipeline NAME] [--log DIR] [--json]\n\n"
                        "The committed offset of each pipeline (offsets up to it are done; it resumes at the next\n"
                        "one). With --log, also the lag: the log's last offset minus the committed one. Works while\n"
                        "the pipelines run.");
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;
    if (!pipeline.empty()) {
        if (status s = validate_name("--pipeline", pipeline); !s.ok()) return usage_error(cmd, s.message());
    }

    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) return failure(cmd, "state root " + root + " does not exist");
    std::vector<std::string> pipelines;
    if (!pipeline.empty()) {
        pipelines.push_back(pipeline);
    } else {
        auto listed = store::state_store::list_pipelines(root);
        if (!listed.ok()) return failure(cmd, "listing pipelines under " + root + ": " + listed.get_status().message());
        pipelines = std::move(*listed);
    }

    std::optional<std::uint64_t> log_last;
    if (!log_path.empty()) {
        auto log = internal::open_log_reader(log_path);
        if (!log.ok()) return failure(cmd, log.get_status().message());
        log_last = (*log)->last_offset();
    }

    struct row_t {
        std::string name;
        std::optional<std::uint64_t> committed;
    };
    std::vector<row_t> rows;
    for (const auto& name : pipelines) {
        auto reader = store::state_store::open_reader(root, name);
        if (!reader.ok()) {
            if (reader.get_status().code() == errc::not_found)
                return failure(cmd, "pipeline " + name + " has no state under " + root);
            return failure(cmd, "reading the state of pipeline " + name + ": " + reader.get_status().message());
        }
        auto c = (*reader)->committed();
        if (!c.ok()) return failure(cmd, "reading the state of pipeline " + name + ": " + c.get_status().message());
        rows.push_back({name, *c});
    }

    auto lag_of = [&](const row_t& r) { return *log_last > r.committed.value_or(0) ? *log_last - r.committed.value_or(0) : 0; };
    if (as_json) {
        for (const auto& r : rows) {
            nlohmann::ordered_json j;
            j["pipeline"] = r.name;
            j["committed"] = r.committed ? nlohmann::ordered_json(*r.committed) : nlohmann::ordered_json(nullptr);
            j["resume_at"] = r.committed.value_or(0) + 1;
            if (log_last) {
                j["log_last"] = *log_last;
                j["lag"] = lag_of(r);
            }
            std::cout << j.dump() << '\n';
        }
        std::cout << std::flush;
        return exit_ok;
    }
    if (rows.empty()) {
        std::cout << "no pipelines have state under " << root << "\n" << std::flush;
        return exit_ok;
    }

    std::vector<std::vector<std::string>> table;
    table.push_back({"PIPELINE", "COMMITTED", "RESUMES AT"});
    if (log_last) {
        table[0].push_back("LOG LAST");
        table[0].push_back("LAG");
    }
    for (const auto& r : rows) {
        std::vector<std::string> cells{r.name, r.committed ? std::to_string(*r.committed) : "never committed",
                                       std::to_string(r.committed.value_or(0) + 1)};
        if (log_last) {
            cells.push_back(std::to_string(*log_last));
            cells.push_back(std::to_string(lag_of(r)));
        }
        table.push_back(std::move(cells));
    }
    std::cout << format_table(table) << std::flush;
    return exit_ok;
}

int offsets_set_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "offsets set";
    std::string root, pipeline, log_path, to_time, to_offset;
    std::int64_t shift = 0;
    bool to_earliest = false, to_latest = false, execute = false;
    po::options_description desc("offsets set options");
    desc.add_options()
        ("state", po::value(&root)->required()->value_name("DIR"), "state root directory")
        ("pipeline", po::value(&pipeline)->required()->value_name("NAME"), "the pipeline to move")
        ("to-offset", po::value(&to_offset)->value_name("N"), "resume at offset N (commits N-1)")
        ("shift-by", po::value(&shift)->value_name("K"), "move the committed offset by K (negative: replay)")
        ("to-earliest", po::bool_switch(&to_earliest), "replay everything still in the log")
        ("to-latest", po::bool_switch(&to_latest), "skip everything in the log now (needs --log)")
        ("to-time", po::value(&to_time)->value_name("T"),
         "resume at the first record appended at or after T: ISO-8601 (2026-11-23T10:00:00Z) or ms since "
         "the epoch (needs --log)")
        ("log", po::value(&log_path)->value_name("DIR"), "change log: checks the target and counts replayed/skipped records")
        ("execute", po::bool_switch(&execute), "apply the plan (without it nothing changes)");
    std::vector<std::string> storage;
    const auto args = internal::join_negative_values(argc, argv, {"--shift-by"}, storage);
    auto parsed = parse(static_cast<int>(args.size()) - 1, args.data(), desc,
                        "usage: syncline offsets set --state DIR --pipeline NAME\n"
                        "         (--to-offset N | --shift-by K | --to-earliest | --to-latest | --to-time T)\n"
                        "         [--log DIR] [--execute]\n\n"
                        "Moves a stopped pipeline's committed offset to replay or skip records. Prints the plan\n"
                        "(current and new committed offset, records replayed or skipped) and changes nothing\n"
                        "unless --execute is given. Committed W means offsets up to W are done: the pipeline\n"
                        "resumes at W+1, so --to-offset N commits N-1. Refused while the pipeline runs.");
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;
    const auto& vm = parsed->values;
    if (status s = validate_name("--pipeline", pipeline); !s.ok()) return usage_error(cmd, s.message());

    reset_request request;
    int chosen = 0;
    if (vm.count("to-offset")) {
        ++chosen;
        request.kind = reset_kind::to_offset;
        auto n = internal::parse_count("--to-offset", to_offset);
        if (!n.ok()) return usage_error(cmd, n.get_status().message());
        request.offset = *n;
    }
    if (vm.count("shift-by")) {
        ++chosen;
        request.kind = reset_kind::shift_by;
        request.shift = shift;
    }
    if (to_earliest) {
        ++chosen;
        request.kind = reset_kind::to_earliest;
    }
    if (to_latest) {
        ++chosen;
        request.kind = reset_kind::to_latest;
    }
    if (vm.count("to-time")) {
        ++chosen;
        request.kind = reset_kind::to_time;
        auto t = parse_time(to_time);
        if (!t.ok()) return usage_error(cmd, "--to-time: " + t.get_status().message());
        request.time_ms = *t;
    }
    if (chosen != 1)
        return usage_error(cmd, std::string(chosen == 0 ? "missing target: " : "conflicting targets: ") +
                                    "give exactly one of --to-offset, --shift-by, --to-earliest, --to-latest, --to-time");
    if ((request.kind == reset_kind::to_latest || request.kind == reset_kind::to_time) && log_path.empty())
        return usage_error(cmd, std::string(request.kind == reset_kind::to_latest ? "--to-latest" : "--to-time") +
                                    " needs --log DIR");

    std::optional<log_bounds> bounds;
    if (!log_path.empty()) {
        auto log = internal::open_log_reader(log_path);
        if (!log.ok()) return failure(cmd, log.get_status().message());
        bounds = log_bounds{(*log)->first_offset(), (*log)->last_offset(), std::nullopt};
        if (request.kind == reset_kind::to_time) {
            auto at = (*log)->offset_at_time(request.time_ms);
            if (!at.ok()) return failure(cmd, "reading log " + log_path + ": " + at.get_status().message());
            bounds->offset_at_time = *at;
        }
    }

    const std::string running = "pipeline " + pipeline + " is running (its state is locked): stop it first";
    // The state's writer lock is free while `syncline run` waits to restart a crashed sink, and its
    // ventilator and workers keep running meanwhile: the runner's own lock covers that window.
    if (execute) {
        if (const auto runner = store::run_lock::holder(root, pipeline))
            return failure(cmd, "pipeline " + pipeline + " is running under syncline run or its sink" +
                                    (*runner > 0 ? " (pid " + std::to_string(*runner) + ")" : std::string()) +
                                    ", even while its sink restarts: stop it first (SIGTERM that pid, or "
                                    "scripts/pipeline.sh stop)");
    }
    std::error_code ec;
    const bool exists = std::filesystem::exists(std::filesystem::path(root) / pipeline, ec);
    std::unique_ptr<store::state_store> state;
    std::string note;
    if (exists || execute) {
        // The writer lock is what makes this safe: the running sink holds it.
        auto opened = store::state_store::open({.root = root, .pipeline = pipeline, .sync = true});
        if (!opened.ok() && opened.get_status().code() == errc::busy) {
            if (execute) return failure(cmd, running);
            note = "pipeline " + pipeline + " is running: --execute will be refused until it stops";
            opened = store::state_store::open_reader(root, pipeline);
        }
        if (!opened.ok())
            return failure(cmd, "opening the state of pipeline " + pipeline + ": " + opened.get_status().message());
        state = std::move(*opened);
    }
    std::optional<std::uint64_t> current;
    if (state) {
        auto c = state->committed();
        if (!c.ok()) return failure(cmd, "reading the state of pipeline " + pipeline + ": " + c.get_status().message());
        current = *c;
    } else {
        note = "pipeline " + pipeline + " has no state under " + root + " yet: --execute creates it";
    }

    auto plan = plan_offsets(current, request, bounds);
    if (!plan.ok()) return usage_error(cmd, plan.get_status().message());
    std::string text = describe_plan(pipeline, *plan, bounds);
    if (!note.empty()) text += "note:               " + note + "\n";
    std::cout << text;
    if (!execute) {
        std::cout << "dry run: nothing changed; add --execute to apply this plan\n" << std::flush;
        return exit_ok;
    }
    if (status s = state->reset(plan->new_committed); !s.ok())
        return failure(cmd, "setting the committed offset of pipeline " + pipeline + ": " + s.message());
    std::cout << "done: pipeline " << pipeline << " committed offset is now " << plan->new_committed
              << "; it resumes at offset " << plan->resume_at() << "\n"
              << std::flush;
    return exit_ok;
}

}  // namespace syncline::cli
