// `syncline status`: every pipeline on a state root, running or not, with its offsets, lag, rate,
// ETA, workers, dead letters and the stall watchdog's verdict. Stores give the offsets (so a
// stopped pipeline still shows them); the /metrics of the running processes, found through the
// address files in STATE/<pipeline>.run/ (written there by `syncline run`, or by processes started
// by hand with --metrics-file), give the live part. A pipeline runs when its `syncline run` is
// alive (run.pid) or, started by hand or by a unit of its own, when a process holds its state lock.
#include "cli/status.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/display.h"
#include "cli/internal/command_util.h"
#include "cli/syncline_cli.h"
#include "common/metrics_endpoint.h"
#include "common/process.h"
#include "store/change_log.h"
#include "store/state_store.h"

namespace syncline::cli {

std::optional<double> commit_rate(const pipeline_observation& before, const pipeline_observation& after) {
    const double dt = after.taken_at - before.taken_at;
    if (dt <= 0) return std::nullopt;
    const auto b = before.committed.value_or(0), a = after.committed.value_or(0);
    return a >= b ? static_cast<double>(a - b) / dt : 0.0;  // A rewind between the two is no rate.
}

std::optional<double> append_rate(const pipeline_observation& before, const pipeline_observation& after) {
    const double dt = after.taken_at - before.taken_at;
    if (dt <= 0 || !before.log_last || !after.log_last) return std::nullopt;
    return *after.log_last >= *before.log_last ? static_cast<double>(*after.log_last - *before.log_last) / dt : 0.0;
}

std::optional<double> eta_seconds(std::uint64_t lag_records, double commit_rate, double append_rate) {
    if (lag_records == 0) return 0.0;
    const double net = commit_rate - append_rate;
    if (net <= 0) return std::nullopt;
    return static_cast<double>(lag_records) / net;
}

std::string with_thousands(std::uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
        out.push_back(digits[i]);
    }
    return out;
}

std::string human_duration(double seconds) {
    const auto s = static_cast<std::uint64_t>(std::max(0.0, std::round(seconds)));
    auto two = [](std::uint64_t big, const char* big_unit, std::uint64_t small, const char* small_unit) {
        std::string out = std::to_string(big) + " " + big_unit;
        if (small > 0) out += " " + std::to_string(small) + " " + small_unit;
        return out;
    };
    if (s < 60) return std::to_string(s) + " s";
    if (s < 3600) return two(s / 60, "min", s % 60, "s");
    if (s < 86400) return two(s / 3600, "h", s % 3600 / 60, "min");
    return two(s / 86400, "d", s % 86400 / 3600, "h");
}

verdict judge(const pipeline_observation& o, std::chrono::seconds stall_after) {
    const std::uint64_t lag = o.lag_records();
    if (!o.running) {
        if (lag > 0) return {health_state::stopped, "stopped, " + with_thousands(lag) + " records behind the log"};
        return {health_state::stopped, "stopped"};
    }
    if (!o.ventilator_scraped) return {health_state::unknown, "running; the ventilator's metrics do not answer"};
    if (o.stalled_seconds >= static_cast<double>(stall_after.count())) {
        const std::string quiet = "no progress for " + human_duration(o.stalled_seconds);
        if (o.in_flight == 0)
            return {health_state::stalled, "all acknowledged, " + quiet + ": the sink is not committing"};
        const std::string offset = "offset " + with_thousands(o.oldest_unacked);
        if (o.oldest_attempt == 0)
            return {health_state::stalled, "in flight, " + quiet + ": " + offset + " not sent: no worker takes work"};
        const std::string attempt = " (attempt " + std::to_string(o.oldest_attempt) + ")";
        if (o.oldest_holder.empty())
            return {health_state::stalled, "in flight, " + quiet + ": " + offset +
                                               " not confirmed by any worker" + attempt +
                                               ": queued, or lost with a dead worker until the ack timeout"};
        return {health_state::stalled,
                "in flight, " + quiet + ": " + offset + " held by worker " + o.oldest_holder + attempt};
    }
    if (lag == 0 && o.in_flight == 0) return {health_state::caught_up, "caught up"};
    return {health_state::catching_up, "catching up"};
}

namespace {

using internal::failure;
using internal::usage_error;
namespace fs = std::filesystem;

// Workers heard from within this long count as "seen recently".
constexpr double recent_worker_seconds = 60;

double steady_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double unix_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string first_line(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

bool pid_alive(const fs::path& pid_file) {
    const std::string text = first_line(pid_file);
    if (text.empty()) return false;
    char* end = nullptr;
    const long pid = std::strtol(text.c_str(), &end, 10);
    if (pid <= 0 || end == text.c_str()) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// The process holding the state's RocksDB lock (STATE/<pipeline>/LOCK, an fcntl lock the sink
// takes while it runs, however it was started); nullopt when none.
std::optional<pid_t> lock_holder(const fs::path& lock_file) {
    const int fd = ::open(lock_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct flock query {};
    query.l_type = F_WRLCK;
    query.l_whence = SEEK_SET;
    const int rc = ::fcntl(fd, F_GETLK, &query);
    ::close(fd);
    if (rc != 0 || query.l_type == F_UNLCK) return std::nullopt;
    return query.l_pid;
}

// restarts_total of RUN_DIR/restarts.json (written by `syncline run`); nullopt without one.
std::optional<std::uint64_t> restarts_total(const fs::path& file) {
    std::ifstream in(file);
    if (!in) return std::nullopt;
    const auto doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.contains("restarts_total") || !doc["restarts_total"].is_number_unsigned())
        return std::nullopt;
    return doc["restarts_total"].get<std::uint64_t>();
}

// The samples of a running process, through the address file it wrote; nullopt if it does not answer.
std::optional<std::vector<metrics::sample>> scrape(const fs::path& address_file) {
    const std::string address = first_line(address_file);
    if (address.empty()) return std::nullopt;
    auto got = metrics::http_get(address, "/metrics", std::chrono::milliseconds(1000));
    if (!got.ok() || got->status != 200) return std::nullopt;
    auto samples = metrics::parse_exposition(got->body);
    if (!samples.ok()) return std::nullopt;
    return std::move(*samples);
}

struct status_options {
    std::string root, pipeline, log_path;
    bool watch = false, as_json = false;
    std::chrono::seconds stall_after{30};
    std::chrono::milliseconds interval{2000};
};

class observer {
public:
    explicit observer(const status_options& o) : _o(o) {}

    status open_log() {
        if (_o.log_path.empty()) return {};
        auto log = internal::open_log_reader(_o.log_path);
        if (!log.ok()) return log.get_status();
        _log = std::move(*log);
        return {};
    }

    result<std::vector<pipeline_observation>> observe_all() {
        std::vector<std::string> names;
        if (!_o.pipeline.empty()) {
            names.push_back(_o.pipeline);
        } else {
            auto listed = store::state_store::list_pipelines(_o.root);
            if (!listed.ok()) return listed.get_status().with_context("listing pipelines under " + _o.root);
            names = std::move(*listed);
        }
        if (_log) SYNCLINE_RETURN_IF_ERROR(_log->catch_up());
        std::vector<pipeline_observation> out;
        for (const auto& name : names) {
            auto one = observe(name);
            if (!one.ok()) return one.get_status();
            out.push_back(std::move(*one));
        }
        return out;
    }

private:
    result<pipeline_observation> observe(const std::string& name) {
        pipeline_observation o;
        o.pipeline = name;
        auto state = store::state_store::open_reader(_o.root, name);
        if (!state.ok()) return state.get_status().with_context("reading the state of pipeline " + name);
        auto committed = (*state)->committed();
        if (!committed.ok()) return committed.get_status().with_context("reading the state of pipeline " + name);
        o.committed = *committed;
        auto dead = (*state)->dead_letter_count();
        if (!dead.ok()) return dead.get_status().with_context("reading the dead letters of pipeline " + name);
        o.dead_letters = *dead;
        o.taken_at = steady_seconds();

        const fs::path run_dir = fs::path(_o.root) / (name + ".run");
        o.supervised = pid_alive(run_dir / "run.pid");
        o.running = o.supervised || lock_holder(fs::path(_o.root) / name / "LOCK").has_value();
        o.restarts = restarts_total(run_dir / "restarts.json");
        if (o.running) observe_processes(run_dir, o);
        if (_log) {
            o.log_last = _log->last_offset();
            o.lag_seconds = 0.0;
            if (o.lag_records() > 0) {
                auto ts = _log->append_time(o.committed.value_or(0) + 1);
                if (ts.ok() && ts->has_value()) o.lag_seconds = std::max(0.0, unix_seconds() - **ts / 1000.0);
                else o.lag_seconds.reset();
            }
        }
        return o;
    }

    static void observe_processes(const fs::path& run_dir, pipeline_observation& o) {
        if (auto v = scrape(run_dir / "ventilator.metrics")) {
            o.ventilator_scraped = true;
            auto get = [&](const char* metric) { return metrics::find_sample(*v, metric).value_or(0); };
            o.log_last = static_cast<std::uint64_t>(get("syncline_ventilator_log_last_offset"));
            o.lag_seconds = get("syncline_ventilator_lag_seconds");
            o.in_flight = static_cast<std::uint64_t>(get("syncline_ventilator_in_flight_batches"));
            o.stalled_seconds = get("syncline_ventilator_stalled_seconds");
            o.oldest_unacked = static_cast<std::uint64_t>(get("syncline_ventilator_oldest_unacked_offset"));
            o.oldest_attempt = static_cast<std::uint32_t>(get("syncline_ventilator_oldest_unacked_attempt"));
            o.records_sent = static_cast<std::uint64_t>(get("syncline_ventilator_records_sent_total"));
            o.records_filtered = static_cast<std::uint64_t>(get("syncline_ventilator_records_filtered_total"));
            // The holder: the worker whose oldest held batch is the pipeline's oldest unacknowledged one.
            for (const auto& s : *v)
                if (s.name == "syncline_ventilator_worker_oldest_unacked_offset" && o.oldest_unacked != 0 &&
                    static_cast<std::uint64_t>(s.value) == o.oldest_unacked && s.labels.count("worker"))
                    o.oldest_holder = s.labels.at("worker");
        }
        if (auto capture = scrape(run_dir / "capture.metrics")) {
            o.capture_slot_lag_bytes = metrics::find_sample(*capture, "syncline_capture_slot_lag_bytes");
            o.capture_retained_wal_bytes = metrics::find_sample(*capture, "syncline_capture_retained_wal_bytes");
            o.capture_lag_seconds = metrics::find_sample(*capture, "syncline_capture_lag_seconds");
        }
        if (auto sink = scrape(run_dir / "sink.metrics")) {
            const double now = unix_seconds();
            for (const auto& s : *sink)
                if (s.name == "syncline_sink_worker_last_seen_timestamp_seconds" && s.labels.count("worker") &&
                    now - s.value <= recent_worker_seconds)
                    o.recent_workers.push_back(s.labels.at("worker"));
        }
    }

    const status_options& _o;
    std::unique_ptr<store::change_log> _log;
};

std::string opt_text(const std::optional<std::uint64_t>& v) { return v ? with_thousands(*v) : "-"; }

nlohmann::ordered_json to_json(const pipeline_observation& o, std::optional<double> rate, std::optional<double> eta,
                               const verdict& v) {
    using json = nlohmann::ordered_json;
    auto opt = [](const auto& x) { return x ? json(*x) : json(nullptr); };
    json j;
    j["pipeline"] = o.pipeline;
    j["running"] = o.running;
    j["committed"] = opt(o.committed);
    j["log_last"] = opt(o.log_last);
    j["lag_records"] = o.log_last ? json(o.lag_records()) : json(nullptr);
    j["lag_seconds"] = opt(o.lag_seconds);
    j["rate_records_per_second"] = opt(rate);
    j["eta_seconds"] = opt(eta);
    j["in_flight_batches"] = o.in_flight;
    j["records_sent"] = o.ventilator_scraped ? json(o.records_sent) : json(nullptr);
    j["records_filtered"] = o.ventilator_scraped ? json(o.records_filtered) : json(nullptr);
    j["oldest_unacked_offset"] = o.oldest_unacked == 0 ? json(nullptr) : json(o.oldest_unacked);
    j["oldest_unacked_holder"] = o.oldest_holder.empty() ? json(nullptr) : json(o.oldest_holder);
    j["workers_seen"] = o.recent_workers;
    j["dead_letters"] = o.dead_letters;
    j["restarts"] = opt(o.restarts);
    j["capture_slot_lag_bytes"] = opt(o.capture_slot_lag_bytes);
    j["capture_retained_wal_bytes"] = opt(o.capture_retained_wal_bytes);
    j["capture_lag_seconds"] = opt(o.capture_lag_seconds);
    static constexpr const char* states[] = {"stopped", "caught_up", "catching_up", "stalled", "unknown"};
    j["state"] = states[static_cast<int>(v.state)];
    j["verdict"] = v.text;
    // After the older keys, so scripts matching the line's beginning keep working.
    j["supervised"] = o.supervised;
    return j;
}

// Prints one report; true if any pipeline is stalled.
bool report(const status_options& opts, const std::vector<pipeline_observation>& now,
            const std::vector<pipeline_observation>* before) {
    std::vector<std::vector<std::string>> table{
        {"PIPELINE", "STATE", "COMMITTED", "LOG LAST", "LAG", "LAG AGE", "RATE/S", "ETA", "SENT", "FILTERED", "WORKERS",
         "RESTARTS", "DLQ", "VERDICT"}};
    bool any_stalled = false;
    std::string json_lines, capture_lines;
    for (const auto& o : now) {
        const pipeline_observation* prev = nullptr;
        if (before)
            for (const auto& b : *before)
                if (b.pipeline == o.pipeline) prev = &b;
        std::optional<double> rate, eta;
        if (prev && o.running) {
            rate = commit_rate(*prev, o);
            if (rate && o.log_last) eta = eta_seconds(o.lag_records(), *rate, append_rate(*prev, o).value_or(0));
        }
        const verdict v = judge(o, opts.stall_after);
        any_stalled |= v.stalled();
        if (opts.as_json) {
            json_lines += to_json(o, rate, eta, v).dump() + "\n";
            continue;
        }
        table.push_back({o.pipeline, o.running ? "running" : "stopped", opt_text(o.committed), opt_text(o.log_last),
                         o.log_last ? with_thousands(o.lag_records()) : "-",
                         o.lag_seconds ? human_duration(*o.lag_seconds) : "-",
                         rate ? with_thousands(static_cast<std::uint64_t>(*rate)) : "-",
                         eta ? human_duration(*eta) : (rate && o.lag_records() > 0 ? "never" : "-"),
                         o.ventilator_scraped ? with_thousands(o.records_sent) : "-",
                         o.ventilator_scraped ? with_thousands(o.records_filtered) : "-",
                         o.running ? std::to_string(o.recent_workers.size()) : "-",
                         o.running && o.restarts ? std::to_string(*o.restarts) : "-", with_thousands(o.dead_letters),
                         v.text});
        if (o.capture_slot_lag_bytes || o.capture_lag_seconds)
            capture_lines += o.pipeline + " capture: slot lag " +
                             with_thousands(static_cast<std::uint64_t>(o.capture_slot_lag_bytes.value_or(0))) +
                             " bytes, retained WAL " +
                             with_thousands(static_cast<std::uint64_t>(o.capture_retained_wal_bytes.value_or(0))) +
                             " bytes, capture lag " + human_duration(o.capture_lag_seconds.value_or(0)) + "\n";
    }
    if (opts.as_json) {
        std::cout << json_lines << std::flush;
    } else if (now.empty()) {
        std::cout << "no pipelines have state under " << opts.root << "\n" << std::flush;
    } else {
        std::cout << format_table(table) << capture_lines << std::flush;
    }
    return any_stalled;
}

}  // namespace

int status_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "status";
    status_options o;
    long stall_after = o.stall_after.count(), interval_ms = o.interval.count();
    po::options_description desc("status options");
    desc.add_options()
        ("state", po::value(&o.root)->required()->value_name("DIR"), "state root directory")
        ("log", po::value(&o.log_path)->value_name("DIR"),
         "change log: the last offset and lag also for stopped pipelines")
        ("pipeline", po::value(&o.pipeline)->value_name("NAME"), "one pipeline. Default: every pipeline under --state")
        ("watch", po::bool_switch(&o.watch), "refresh every --interval-ms until interrupted")
        ("interval-ms", po::value(&interval_ms)->default_value(interval_ms),
         "time between the two observations that give the rate (and between --watch refreshes)")
        ("stall-after", po::value(&stall_after)->default_value(stall_after)->value_name("SECONDS"),
         "a running pipeline with work in flight and no commit for this long is stalled")
        ("json", po::bool_switch(&o.as_json), "JSON Lines, one object per pipeline (and per refresh)");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline status --state DIR [--log DIR] [--pipeline NAME] [--watch] [--json]\n\n"
                        "Every pipeline under the state root: running or stopped, committed offset, lag (records\n"
                        "and age of the oldest uncommitted record), commit rate, ETA to catch up, workers heard\n"
                        "from in the last minute, dead letters, and the stall watchdog's verdict. Running\n"
                        "pipelines are observed through their processes' /metrics, at the addresses in\n"
                        "STATE/PIPELINE.run/NAME.metrics (syncline run writes them; processes started by hand\n"
                        "do with --metrics-file STATE/PIPELINE.run/sink.metrics, ventilator.metrics).\n"
                        "Exit codes: 0 ok, 1 runtime failure, 2 bad usage, 3 a pipeline is stalled.");
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;
    if (!o.pipeline.empty())
        if (status s = validate_name("--pipeline", o.pipeline); !s.ok()) return usage_error(cmd, s.message());
    if (stall_after < 1 || stall_after > 86'400) return usage_error(cmd, "--stall-after must be between 1 and 86400");
    if (interval_ms < 100 || interval_ms > 3'600'000)
        return usage_error(cmd, "--interval-ms must be between 100 and 3600000");
    o.stall_after = std::chrono::seconds(stall_after);
    o.interval = std::chrono::milliseconds(interval_ms);
    std::error_code ec;
    if (!fs::is_directory(o.root, ec)) return failure(cmd, "state root " + o.root + " does not exist");

    observer watcher(o);
    if (status s = watcher.open_log(); !s.ok()) return failure(cmd, s.message());
    auto first = watcher.observe_all();
    if (!first.ok()) return failure(cmd, first.get_status().message());
    const bool any_running =
        std::any_of(first->begin(), first->end(), [](const auto& p) { return p.running; });
    if (!o.watch) {
        if (!any_running) return report(o, *first, nullptr) ? 3 : exit_ok;
        // A second look gives the rate and the ETA.
        std::this_thread::sleep_for(o.interval);
        auto second = watcher.observe_all();
        if (!second.ok()) return failure(cmd, second.get_status().message());
        return report(o, *second, &*first) ? 3 : exit_ok;
    }
    stop_flag stop = install_stop_handlers();
    std::vector<pipeline_observation> previous = std::move(*first);
    report(o, previous, nullptr);
    while (!stop.stop_requested()) {
        const auto next = std::chrono::steady_clock::now() + o.interval;
        while (!stop.stop_requested() && std::chrono::steady_clock::now() < next)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (stop.stop_requested()) break;
        auto current = watcher.observe_all();
        if (!current.ok()) return failure(cmd, current.get_status().message());
        if (!o.as_json) std::cout << "\n";
        report(o, *current, &previous);
        previous = std::move(*current);
    }
    return exit_ok;
}

}  // namespace syncline::cli
