// `syncline dlq list|show|retry|purge`: a pipeline's dead letters (records its target refused for
// good; the watermark moved past them). list and show read the state while the pipeline runs;
// retry and purge change it and so take the state's writer lock, which the running sink holds:
// they are refused until the pipeline stops, never racing its commits.
// retry delivers straight to the target through the same target code the workers use. Targets
// are fenced by offset, so re-delivering an old record never overwrites a newer change.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/display.h"
#include "cli/internal/command_util.h"
#include "cli/internal/records.h"
#include "cli/syncline_cli.h"
#include "common/codec.h"
#include "common/process.h"
#include "store/state_store.h"
#include "targets/target.h"

namespace syncline::cli {
namespace {

using internal::failure;
using internal::usage_error;
using ojson = nlohmann::ordered_json;

constexpr std::size_t retry_chunk = 1000;  // Records per target round trip, like a worker batch.

struct dlq_args {
    std::string root, pipeline, log, target;
    std::vector<std::string> offset_texts;
    std::vector<std::uint64_t> offsets;
    bool json = false;
    bool all = false;
};

// Adds the options every dlq command takes.
void add_common(po::options_description& desc, dlq_args& a) {
    desc.add_options()
        ("state", po::value(&a.root)->required()->value_name("DIR"), "state root directory")
        ("pipeline", po::value(&a.pipeline)->required()->value_name("NAME"), "the pipeline");
}
void add_offsets(po::options_description& desc, dlq_args& a, const char* help) {
    desc.add_options()("offset", po::value(&a.offset_texts)->multitoken()->composing()->value_name("N"), help);
}
void add_log(po::options_description& desc, dlq_args& a) {
    desc.add_options()("log", po::value(&a.log)->value_name("DIR"),
                       "change log: reads records a dead letter holds no copy of");
}

// Parses argv into `a`; an exit code when the command must stop now (help, bad usage).
std::optional<int> parse_dlq(std::string_view cmd, int argc, const char* const* argv, po::options_description desc,
                             std::string_view usage, dlq_args& a) {
    auto parsed = parse(argc, argv, std::move(desc), usage, nullptr, &internal::pipeline_file_keys());
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;
    if (status s = validate_name("--pipeline", a.pipeline); !s.ok()) return usage_error(cmd, s.message());
    for (const auto& t : a.offset_texts) {
        auto n = internal::parse_count("--offset", t);
        if (!n.ok()) return usage_error(cmd, n.get_status().message());
        a.offsets.push_back(*n);
    }
    std::sort(a.offsets.begin(), a.offsets.end());
    a.offsets.erase(std::unique(a.offsets.begin(), a.offsets.end()), a.offsets.end());
    return std::nullopt;
}

// The pipeline's state: a reader (works while it runs) or the writer (refused while it runs).
result<std::unique_ptr<store::state_store>> open_state(const dlq_args& a, bool writer) {
    auto names = store::state_store::list_pipelines(a.root);
    if (!names.ok()) return names.get_status();
    if (std::find(names->begin(), names->end(), a.pipeline) == names->end())
        return status{errc::not_found, "pipeline " + a.pipeline + " has no state under " + a.root};
    if (!writer) return store::state_store::open_reader(a.root, a.pipeline);
    auto opened = store::state_store::open({.root = a.root, .pipeline = a.pipeline, .sync = true});
    if (!opened.ok() && opened.get_status().code() == errc::busy)
        return status{errc::busy, "pipeline " + a.pipeline + " is running (its sink holds the state lock): stop it first"};
    return opened;
}

// The dead letters at `offsets` (all when empty); not_found naming the offsets that have none.
result<std::vector<store::dead_letter>> select(const store::state_store& state, const dlq_args& a) {
    if (a.offsets.empty()) return state.dead_letters();
    std::vector<store::dead_letter> out;
    std::string missing;
    for (std::uint64_t o : a.offsets) {
        auto one = state.dead_letters(o, 1);
        if (!one.ok()) return one.get_status();
        if (!one->empty() && one->front().offset == o) {
            out.push_back(std::move(one->front()));
        } else {
            if (!missing.empty()) missing += ", ";
            missing += std::to_string(o);
        }
    }
    if (!missing.empty())
        return status{errc::not_found, "pipeline " + a.pipeline + " has no dead letter at offset " + missing +
                                           " (see `syncline dlq list`)"};
    return out;
}

// A dead letter with its record decoded (views into `bytes`), or why it cannot be.
struct resolved {
    store::dead_letter entry;
    std::string bytes;
    std::string source;  // "dead letter" or "log".
    std::optional<record_view> record;
    std::string problem;
};

// Decodes each entry's stored copy, or reads the record from the log when the entry has none
// (the sink ran without --log). The result must not be resized: records point into it.
result<std::vector<resolved>> resolve(std::vector<store::dead_letter> entries, const std::string& log_path) {
    std::unique_ptr<store::change_log> log;
    if (!log_path.empty()) {
        auto opened = internal::open_log_reader(log_path);
        if (!opened.ok()) return opened.get_status();
        log = std::move(*opened);
    }
    std::vector<resolved> out(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        resolved& r = out[i];
        r.entry = std::move(entries[i]);
        if (!r.entry.record.empty()) {
            r.bytes = std::move(r.entry.record);
            r.entry.record.clear();
            r.source = "dead letter";
        } else if (log) {
            auto stored = internal::read_stored_record(*log, r.entry.offset);
            if (!stored.ok()) return stored.get_status();
            if (!*stored) {
                r.problem = "no copy in the dead letter and the log no longer holds offset " + std::to_string(r.entry.offset);
                continue;
            }
            r.bytes = std::move(**stored);
            r.source = "log";
        } else {
            r.problem = "the dead letter holds no copy of the record: give --log DIR to read it from the log";
            continue;
        }
        auto decoded = codec::decode_record(r.bytes);
        if (!decoded.ok()) r.problem = "cannot decode the record: " + decoded.get_status().message();
        else if (decoded->offset != r.entry.offset)
            r.problem = "the stored record has offset " + std::to_string(decoded->offset);
        else r.record = std::move(*decoded);
    }
    return out;
}

int report_open_error(std::string_view cmd, const status& s) {
    return failure(cmd, s.message());
}

}  // namespace

int dlq_list_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "dlq list";
    dlq_args a;
    po::options_description desc("dlq list options");
    add_common(desc, a);
    add_log(desc, a);
    desc.add_options()("json", po::bool_switch(&a.json), "JSON Lines {offset, ts, attempts, error, collection, key}");
    if (auto code = parse_dlq(cmd, argc, argv, desc,
                              "usage: syncline dlq list --state DIR --pipeline NAME [--log DIR] [--json]\n\n"
                              "One line per dead letter: offset, when it was dead-lettered (UTC), delivery attempts,\n"
                              "collection and key of the record, and the target's reason. Works while the pipeline runs.",
                              a))
        return *code;
    auto state = open_state(a, false);
    if (!state.ok()) return report_open_error(cmd, state.get_status());
    auto entries = (*state)->dead_letters();
    if (!entries.ok()) return failure(cmd, entries.get_status().message());
    auto rows = resolve(std::move(*entries), a.log);
    if (!rows.ok()) return failure(cmd, rows.get_status().message());

    std::string out;
    if (a.json) {
        for (const auto& r : *rows) {
            ojson j;
            j["offset"] = r.entry.offset;
            j["ts"] = r.entry.ts_ms;
            j["attempts"] = r.entry.attempts;
            j["error"] = r.entry.error;
            j["collection"] = r.record ? ojson(std::string(r.record->collection)) : ojson(nullptr);
            j["key"] = r.record ? ojson(std::string(r.record->key)) : ojson(nullptr);
            out += j.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n";
        }
        std::cout << out << std::flush;
        return exit_ok;
    }
    if (rows->empty()) {
        std::cout << "no dead letters for pipeline " << a.pipeline << "\n" << std::flush;
        return exit_ok;
    }
    std::vector<std::vector<std::string>> table{{"OFFSET", "DEAD-LETTERED", "ATTEMPTS", "COLLECTION", "KEY", "ERROR"}};
    for (const auto& r : *rows)
        table.push_back({std::to_string(r.entry.offset), format_iso_time(r.entry.ts_ms), std::to_string(r.entry.attempts),
                         r.record ? escape_for_display(r.record->collection, 30) : "?",
                         r.record ? escape_for_display(r.record->key, 40) : "?", escape_for_display(r.entry.error, 120)});
    out += format_table(table);
    std::cout << out << std::flush;
    return exit_ok;
}

int dlq_show_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "dlq show";
    dlq_args a;
    po::options_description desc("dlq show options");
    add_common(desc, a);
    add_offsets(desc, a, "the dead letters to show (repeatable). Default: all");
    add_log(desc, a);
    desc.add_options()("json", po::bool_switch(&a.json), "JSON Lines {offset, ts, attempts, error, record}");
    if (auto code = parse_dlq(cmd, argc, argv, desc,
                              "usage: syncline dlq show --state DIR --pipeline NAME [--offset N ...] [--log DIR] [--json]\n\n"
                              "Dead letters in full: the target's reason, attempts, time, and the decoded record\n"
                              "(collection, key, op, whole value, headers). Works while the pipeline runs.",
                              a))
        return *code;
    auto state = open_state(a, false);
    if (!state.ok()) return report_open_error(cmd, state.get_status());
    auto entries = select(**state, a);
    if (!entries.ok()) return failure(cmd, entries.get_status().message());
    auto rows = resolve(std::move(*entries), a.log);
    if (!rows.ok()) return failure(cmd, rows.get_status().message());

    std::string out;
    for (const auto& r : *rows) {
        if (a.json) {
            ojson j;
            j["offset"] = r.entry.offset;
            j["ts"] = r.entry.ts_ms;
            j["attempts"] = r.entry.attempts;
            j["error"] = r.entry.error;
            j["record"] = r.record ? internal::record_to_json(*r.record) : ojson(nullptr);
            if (!r.problem.empty()) j["problem"] = r.problem;
            out += j.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n";
            continue;
        }
        auto row = [&](std::string_view label, const std::string& value) {
            out += label;
            out.append(label.size() < 16 ? 16 - label.size() : 1, ' ');
            out += value;
            out += '\n';
        };
        if (!out.empty()) out += '\n';
        row("offset", std::to_string(r.entry.offset));
        row("dead-lettered", format_iso_time(r.entry.ts_ms));
        row("attempts", std::to_string(r.entry.attempts));
        row("error", escape_for_display(r.entry.error));
        if (!r.record) {
            row("record", "unavailable: " + r.problem);
            continue;
        }
        const record_view& rec = *r.record;
        row("appended", format_iso_time(rec.ts_ms) + " (record from the " + r.source + ")");
        row("collection", escape_for_display(rec.collection));
        row("key", escape_for_display(rec.key));
        row("op", std::string(op_name(rec.operation)));
        if (rec.operation != op::del || !rec.value.empty()) row("value", escape_for_display(rec.value));
        for (const auto& [k, v] : rec.headers) row("header", escape_for_display(k) + "=" + escape_for_display(v));
    }
    if (out.empty() && !a.json) out = "no dead letters for pipeline " + a.pipeline + "\n";
    std::cout << out << std::flush;
    return exit_ok;
}

int dlq_purge_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "dlq purge";
    dlq_args a;
    po::options_description desc("dlq purge options");
    add_common(desc, a);
    add_offsets(desc, a, "the dead letters to remove (repeatable)");
    desc.add_options()("all", po::bool_switch(&a.all), "remove every dead letter of the pipeline");
    if (auto code = parse_dlq(cmd, argc, argv, desc,
                              "usage: syncline dlq purge --state DIR --pipeline NAME (--offset N ... | --all)\n\n"
                              "Removes dead letters for good (their records stay skipped). Refused while the pipeline\n"
                              "runs: stop it first.",
                              a))
        return *code;
    if (a.all == !a.offsets.empty()) return usage_error(cmd, "give --offset N (repeatable) or --all");
    auto state = open_state(a, true);
    if (!state.ok()) return report_open_error(cmd, state.get_status());
    auto entries = select(**state, a);
    if (!entries.ok()) return failure(cmd, entries.get_status().message());
    std::vector<std::uint64_t> offsets;
    for (const auto& d : *entries) offsets.push_back(d.offset);
    if (status s = (*state)->remove_dead_letters(offsets); !s.ok()) return failure(cmd, s.message());
    std::cout << "removed " << offsets.size() << (offsets.size() == 1 ? " dead letter" : " dead letters")
              << " of pipeline " << a.pipeline << "\n" << std::flush;
    return exit_ok;
}

int dlq_retry_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "dlq retry";
    dlq_args a;
    po::options_description desc("dlq retry options");
    add_common(desc, a);
    add_offsets(desc, a, "the dead letters to retry (repeatable). Default: all");
    add_log(desc, a);
    desc.add_options()("target", po::value(&a.target)->required()->value_name("URI"),
                       "target URI to deliver to (usually the pipeline's own; docs/targets)");
    if (auto code = parse_dlq(cmd, argc, argv, desc,
                              "usage: syncline dlq retry --state DIR --pipeline NAME --target URI [--offset N ...] [--log DIR]\n\n"
                              "Delivers dead-lettered records (all, or those given) to --target again, in offset order;\n"
                              "removes the ones it accepts and reports those refused again (their attempts and reason\n"
                              "are updated; exit 1). Targets are fenced by offset, so retrying an old record never\n"
                              "overwrites a newer change. Refused while the pipeline runs: stop it first.",
                              a))
        return *code;
    auto state = open_state(a, true);
    if (!state.ok()) return report_open_error(cmd, state.get_status());
    auto entries = select(**state, a);
    if (!entries.ok()) return failure(cmd, entries.get_status().message());
    if (entries->empty()) {
        std::cout << "no dead letters for pipeline " << a.pipeline << "\n" << std::flush;
        return exit_ok;
    }
    auto rows = resolve(std::move(*entries), a.log);
    if (!rows.ok()) return failure(cmd, rows.get_status().message());
    auto target = targets::open_target(a.target, {a.pipeline});
    if (!target.ok()) {
        const auto& s = target.get_status();
        return s.code() == errc::invalid_argument ? usage_error(cmd, s.message()) : failure(cmd, s.message());
    }

    std::map<std::uint64_t, std::string> refused;  // offset -> reason
    std::vector<std::uint64_t> delivered;
    std::vector<record_view> chunk;
    status unavailable;
    for (std::size_t i = 0; i < rows->size() && unavailable.ok();) {
        chunk.clear();
        for (; i < rows->size() && chunk.size() < retry_chunk; ++i) {
            const resolved& r = (*rows)[i];
            if (r.record) chunk.push_back(*r.record);
            else refused[r.entry.offset] = r.problem;
        }
        if (chunk.empty()) continue;
        targets::delivery_outcome outcome = (*target)->deliver(chunk);
        if (!outcome.transient.ok()) {
            unavailable = outcome.transient;  // Nothing of this chunk counts as done.
            break;
        }
        for (const auto& f : outcome.failures) refused[f.offset] = f.reason;
        for (const auto& rec : chunk)
            if (!refused.contains(rec.offset)) delivered.push_back(rec.offset);
    }

    // What the target accepted leaves the queue; what it refused again records the new attempt.
    if (status s = (*state)->remove_dead_letters(delivered); !s.ok()) return failure(cmd, s.message());
    std::vector<store::dead_letter> again;
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    for (auto& r : *rows) {
        auto it = refused.find(r.entry.offset);
        if (it == refused.end()) continue;
        store::dead_letter d = r.entry;
        d.record = r.source == "dead letter" ? r.bytes : std::string();
        d.error = it->second;
        d.attempts += 1;
        d.ts_ms = now_ms;
        again.push_back(std::move(d));
    }
    if (!again.empty()) {
        auto committed = (*state)->committed();
        if (!committed.ok()) return failure(cmd, committed.get_status().message());
        // A commit at the same offset rewrites the entries without moving the watermark.
        if (committed->has_value())
            if (status s = (*state)->commit(**committed, again); !s.ok()) return failure(cmd, s.message());
    }

    std::string out = "retried " + std::to_string(delivered.size() + refused.size()) + " dead letters of pipeline " +
                      a.pipeline + ": " + std::to_string(delivered.size()) + " delivered and removed, " +
                      std::to_string(refused.size()) + " refused again\n";
    for (const auto& [offset, reason] : refused)
        out += "  offset " + std::to_string(offset) + ": " + escape_for_display(reason, 200) + "\n";
    std::cout << out << std::flush;
    if (!unavailable.ok())
        return failure(cmd, "target unavailable: " + unavailable.message() + " (" +
                                std::to_string(rows->size() - delivered.size() - refused.size()) +
                                " dead letters not tried; they stay queued)");
    if (!refused.empty())
        return failure(cmd, std::to_string(refused.size()) + " dead letters were refused again (they stay queued)");
    return exit_ok;
}

}  // namespace syncline::cli
