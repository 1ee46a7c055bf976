// `syncline replay`: a bounded pass over [from, to] into a target. It runs as its own temporary
// pipeline `<pipeline>.replay` (state STATE/<pipeline>.replay, run directory
// STATE/<pipeline>.replay.run with its own ipc sockets), so the pipeline being repaired and every
// other pipeline keep running on the same log. Its committed offset is set to from - 1 before the
// sink starts, and cli/runner.h runs it with `to`: the ventilator exits once `to` is committed.
// While it runs, `log trim` sees the temporary pipeline and keeps the records it still needs.
#include "common/cli_options.h"
#include "cli/replay.h"

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "cli/display.h"
#include "cli/internal/command_util.h"
#include "cli/progress.h"
#include "cli/runner.h"
#include "targets/target.h"
#include "cli/syncline_cli.h"
#include "common/names.h"
#include "common/process.h"
#include "store/state_store.h"

namespace syncline::cli {
namespace {

namespace fs = std::filesystem;
using internal::failure;
using internal::usage_error;
using steady = std::chrono::steady_clock;

status invalid(std::string msg) { return status{errc::invalid_argument, std::move(msg)}; }

std::string duration_text(double secs) {
    char buf[32];
    if (secs < 60) std::snprintf(buf, sizeof buf, "%.0fs", secs);
    else if (secs < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(secs) / 60, static_cast<int>(secs) % 60);
    else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(secs) / 3600, (static_cast<int>(secs) % 3600) / 60);
    return buf;
}

// Prints "replay ...: done/total records (p%), rate/s, ETA" on stderr every second, reading
// the temporary pipeline's committed offset, until stopped.
class progress_reporter {
public:
    progress_reporter(std::string root, std::string pipeline, replay_range range)
        : _root(std::move(root)), _pipeline(std::move(pipeline)), _range(range), _thread([this] { loop(); }) {}
    ~progress_reporter() {
        {
            std::lock_guard lock(_mutex);
            _done = true;
        }
        _wake.notify_all();
        _thread.join();
    }

private:
    void loop() {
        const auto began = steady::now();
        std::unique_ptr<store::state_store> state;
        progress_line bar("replay " + _pipeline);
        std::unique_lock lock(_mutex);
        while (!_wake.wait_for(lock, std::chrono::seconds(1), [&] { return _done; })) {
            if (!state) {
                auto opened = store::state_store::open_reader(_root, _pipeline);
                if (!opened.ok()) continue;
                state = std::move(*opened);
            } else if (!state->catch_up().ok()) {
                continue;
            }
            auto c = state->committed();
            if (!c.ok()) continue;
            const std::uint64_t committed = c->value_or(0);
            const std::uint64_t done = committed >= _range.first ? std::min(committed, _range.last) - _range.first + 1 : 0;
            const std::uint64_t total = _range.records();
            const double secs = std::chrono::duration<double>(steady::now() - began).count();
            const double rate = secs > 0 ? done / secs : 0;
            if (bar.active()) {  // A terminal: one bar redrawn in place.
                bar.update(done, total, "committed=" + std::to_string(committed));
                continue;
            }
            const std::string eta = rate > 0 ? duration_text((total - done) / rate) : std::string("?");
            std::fprintf(stderr, "replay %s: %" PRIu64 "/%" PRIu64 " records (%.0f%%) committed=%" PRIu64
                                 " rate=%.0f/s eta=%s\n",
                         _pipeline.c_str(), done, total, total ? 100.0 * done / total : 100.0, committed, rate,
                         eta.c_str());
        }
    }

    std::string _root, _pipeline;
    replay_range _range;
    std::mutex _mutex;
    std::condition_variable _wake;
    bool _done = false;
    std::thread _thread;  // Last: starts after the members it uses.
};

}  // namespace

result<replay_range> plan_replay(const replay_request& request, std::uint64_t log_first, std::uint64_t log_last) {
    if (log_last == 0) return invalid("the log is empty: nothing to replay");
    replay_range range;
    if (request.since) {
        if (!request.since_offset) return invalid("--since: no record was appended at or after that time");
        range.first = *request.since_offset;
    } else if (request.from) {
        if (*request.from == 0) return invalid("--from 0: offsets start at 1");
        range.first = *request.from;
    } else {
        return invalid("give --from N or --since TIME");
    }
    range.last = request.to.value_or(log_last);
    if (range.last > log_last)
        return invalid("--to " + std::to_string(range.last) + " is past the end of the log (last offset " +
                       std::to_string(log_last) + ")");
    if (range.first > range.last)
        return invalid("the range starts at offset " + std::to_string(range.first) + ", after its end " +
                       std::to_string(range.last));
    if (log_first == 0 || range.first < log_first)
        return status{errc::not_found,
                      "offsets " + std::to_string(range.first) + ".." +
                          std::to_string(log_first == 0 ? log_last : log_first - 1) +
                          " were trimmed from the log (it now " +
                          (log_first == 0 ? std::string("holds no records") : "starts at offset " + std::to_string(log_first)) +
                          "): they cannot be replayed"};
    return range;
}

std::string replay_pipeline_name(const std::string& pipeline) { return pipeline + std::string(replay_suffix); }

int replay_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "replay";
    run_options o;
    std::string pipeline, from_text, to_text, since_text;
    bool keep_state = false;
    po::options_description desc("replay options");
    desc.add_options()
        ("log", po::value(&o.log)->required()->value_name("DIR"), "change log directory")
        ("state", po::value(&o.state)->required()->value_name("DIR"), "state root directory")
        ("pipeline", po::value(&pipeline)->required()->value_name("NAME"),
         "the pipeline being repaired: the pass runs as NAME.replay beside it")
        ("from", po::value(&from_text)->value_name("N"), "first offset to re-deliver")
        ("since", po::value(&since_text)->value_name("TIME"),
         "start at the first record appended at or after TIME: ISO-8601 (2026-11-23T10:00:00Z) or ms since the epoch")
        ("to", po::value(&to_text)->value_name("M"), "last offset to re-deliver. Default: the log's last offset at start")
        ("target", po::value(&o.target)->required()->value_name("URI"), "target URI, one of the kinds listed above (docs/targets)")
        ("workers", po::value(&o.workers)->default_value(2u)->value_name("K"), "worker processes")
        ("progress", po::bool_switch(&o.progress), "records, rate and ETA on stderr every second")
        ("keep-state", po::bool_switch(&keep_state),
         "keep the temporary pipeline's state (STATE/NAME.replay) and run directory afterwards")
        ("bin-dir", po::value(&o.bin_dir)->value_name("DIR"), "directory holding syncline-sink/-worker/-ventilator")
        ("worker-args", po::value(&o.worker_args), "extra worker options")
        ("sink-args", po::value(&o.sink_args), "extra sink options");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline replay --log DIR --state DIR --pipeline NAME (--from N | --since TIME)\n"
                        "         [--to M] --target URI [--workers K] [--progress] [--keep-state]\n\n"
                        "Re-delivers offsets N..M of the log into --target as a bounded pass and exits 0 once M is\n"
                        "committed. It runs as a separate temporary pipeline NAME.replay (its own state and ipc\n"
                        "sockets under STATE/NAME.replay.run), so NAME and other pipelines keep running on the same\n"
                        "log; its state is removed afterwards unless --keep-state. Targets are fenced by offset:\n"
                        "replaying into the target the pipeline also writes is harmless (a replayed change never\n"
                        "overwrites a newer one), so restoring a target from a copy taken at committed offset B and\n"
                        "replaying --from B+1 makes it exact again.\n\n" +
                            targets::target_uri_help(),
                        nullptr, &internal::pipeline_file_keys());
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;
    if (status s = validate_pipeline_name("--pipeline", pipeline); !s.ok()) return usage_error(cmd, s.message());
    o.pipeline = replay_pipeline_name(pipeline);
    o.origin_pipeline = pipeline;  // Channel ids stay the repaired pipeline's (docs/recovery.md).
    if (status s = validate_name("--pipeline", o.pipeline); !s.ok())
        return usage_error(cmd, "--pipeline: the name is too long for its replay pipeline " + o.pipeline);
    if (o.workers < 1 || o.workers > 256) return usage_error(cmd, "--workers must be between 1 and 256");

    replay_request request;
    if (!from_text.empty() && !since_text.empty()) return usage_error(cmd, "--from and --since exclude each other");
    if (from_text.empty() && since_text.empty()) return usage_error(cmd, "give --from N or --since TIME");
    if (!from_text.empty()) {
        auto n = internal::parse_count("--from", from_text);
        if (!n.ok()) return usage_error(cmd, n.get_status().message());
        request.from = *n;
    }
    if (!to_text.empty()) {
        auto n = internal::parse_count("--to", to_text);
        if (!n.ok()) return usage_error(cmd, n.get_status().message());
        request.to = *n;
    }
    std::optional<std::int64_t> since_ms;
    if (!since_text.empty()) {
        auto t = parse_time(since_text);
        if (!t.ok()) return usage_error(cmd, "--since: " + t.get_status().message());
        since_ms = *t;
        request.since = true;
    }

    replay_range range;
    {
        auto log = internal::open_log_reader(o.log);
        if (!log.ok()) return failure(cmd, log.get_status().message());
        if (since_ms) {
            auto at = (*log)->offset_at_time(*since_ms);
            if (!at.ok()) return failure(cmd, "reading log " + o.log + ": " + at.get_status().message());
            request.since_offset = *at;
        }
        auto planned = plan_replay(request, (*log)->first_offset(), (*log)->last_offset());
        if (!planned.ok()) {
            const auto& s = planned.get_status();
            return s.code() == errc::invalid_argument ? usage_error(cmd, s.message()) : failure(cmd, s.message());
        }
        range = *planned;
    }

    // The temporary pipeline resumes at range.first. Its writer lock also refuses a second
    // replay of the same pipeline while this one runs.
    {
        auto state = store::state_store::open({.root = o.state, .pipeline = o.pipeline, .sync = true});
        if (!state.ok()) {
            if (state.get_status().code() == errc::busy)
                return failure(cmd, "a replay of pipeline " + pipeline + " is already running (" + o.pipeline +
                                        " is locked)");
            return failure(cmd, "preparing " + o.pipeline + ": " + state.get_status().message());
        }
        if (status s = (*state)->reset(range.first - 1); !s.ok())
            return failure(cmd, "preparing " + o.pipeline + ": " + s.message());
    }
    o.to = range.last;
    const bool show_progress = o.progress;
    o.progress = false;  // The runner's line shows lag against the log; ours shows the range.
    std::fprintf(stderr, "syncline replay: offsets %" PRIu64 "..%" PRIu64 " (%" PRIu64 " records) of pipeline %s into %s as %s\n",
                 range.first, range.last, range.records(), pipeline.c_str(), cli::redact_secrets("target", o.target).c_str(),
                 o.pipeline.c_str());

    const auto began = steady::now();
    stop_flag stop = install_stop_handlers();
    status outcome;
    {
        std::optional<progress_reporter> progress;
        if (show_progress) progress.emplace(o.state, o.pipeline, range);
        outcome = run_pipeline(o, stop);
    }
    const double secs = std::chrono::duration<double>(steady::now() - began).count();

    std::uint64_t committed = 0;
    std::size_t dead = 0;
    if (auto reader = store::state_store::open_reader(o.state, o.pipeline); reader.ok()) {
        if (auto c = (*reader)->committed(); c.ok()) committed = c->value_or(0);
        if (auto d = (*reader)->dead_letters(0, 1000); d.ok()) dead = d->size();
    }
    const bool complete = outcome.ok() && committed >= range.last;
    const std::string run_dir = (fs::path(o.state) / (o.pipeline + ".run")).string();
    const bool keep_requested = keep_state;
    if (dead > 0) {
        // Records the target refused during the pass are the operator's to see: the temporary
        // state stays (it only protects offsets up to the pass's end from `log trim`).
        internal::warn(cmd, std::to_string(dead) + (dead == 1000 ? "+" : "") +
                                " records were refused by the target and dead-lettered in " + o.pipeline +
                                ", whose state is kept: `syncline dlq list --state " + o.state + " --pipeline " +
                                o.pipeline + "` (retry them from there, then delete the directory " +
                                (fs::path(o.state) / o.pipeline).string() + ")");
        keep_state = true;
    }

    if (!keep_state) {
        if (status s = store::state_store::remove_pipeline(o.state, o.pipeline); !s.ok())
            internal::warn(cmd, "could not remove the temporary state of " + o.pipeline + ": " + s.message());
    }
    // The run directory holds the children's logs: kept when something went wrong.
    std::error_code ec;
    if (complete && !keep_requested) fs::remove_all(run_dir, ec);
    if (!outcome.ok()) {
        const std::string where = " (children's logs: " + run_dir + ")";
        return outcome.code() == errc::invalid_argument ? usage_error(cmd, outcome.message())
                                                        : failure(cmd, outcome.message() + where);
    }
    if (!complete) {
        // Stopped by SIGINT/SIGTERM: a clean stop, and the operator knows where to pick up.
        if (committed >= range.first)
            std::printf("replay stopped: offsets %" PRIu64 "..%" PRIu64 " were re-delivered; continue with --from %" PRIu64
                        "\n", range.first, committed, committed + 1);
        else
            std::printf("replay stopped before anything was committed; start again with --from %" PRIu64 "\n",
                        range.first);
        std::fflush(stdout);
        return exit_ok;
    }
    std::printf("replayed %" PRIu64 " records (offsets %" PRIu64 "..%" PRIu64 ") into %s in %.2f s (%.0f records/s)\n",
                range.records(), range.first, range.last, cli::redact_secrets("target", o.target).c_str(), secs, secs > 0 ? range.records() / secs : 0.0);
    std::fflush(stdout);
    return exit_ok;
}

}  // namespace syncline::cli
