#include "cli/runner.h"

#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <vector>

#if SYNCLINE_WITH_POSTGRES  // Change capture is built with the postgres switch (cmake/syncline.cmake).
#include "capture/source.h"
#endif
#include "cli/internal/command_util.h"
#include "cli/progress.h"
#include "cli/status.h"
#include "cli/status_page.h"
#include "common/bin_dir.h"
#include "common/cli_options.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/metrics_endpoint.h"
#include "common/subprocess.h"
#include "sink/sink.h"
#include "store/change_log.h"
#include "store/run_lock.h"
#include "store/state_store.h"
#include "targets/target.h"
#include "ventilator/filter.h"
#include "ventilator/ventilator.h"
#include "workers/worker.h"

namespace syncline::cli {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

const logger log_run("run");

// Restart backoff: the first restart after `restart_backoff_min`, doubling per consecutive
// failure up to `restart_backoff_max`; a child that ran `stable_period` before dying counts as
// healthy again, so a crash after hours of work is retried quickly.
constexpr milliseconds restart_backoff_min{500};
constexpr milliseconds restart_backoff_max{30'000};
constexpr std::chrono::seconds stable_period{10};
// A bounded pass (--to, --until-caught-up) is a job a script waits for: a child failing this many
// times in a row (0.5 + 1 + 2 + 4 s of backoff) fails the run instead of retrying forever.
constexpr unsigned bounded_pass_max_failures = 5;

// A child the runner keeps alive: restarted with backoff whenever it dies.
struct supervised {
    std::string name;
    spawn_options spawn;
    std::optional<child_process> child{};
    steady::time_point started{};
    unsigned consecutive_failures = 0;  // Deaths since it last ran for stable_period.
    // Restarts of this child: the one count, rendered into restarts.json and the runner's
    // /metrics (syncline_run_restarts_total{child}); owned by the runner's registry.
    metrics::counter* restarts = nullptr;
    std::optional<steady::time_point> restart_at{};  // Set while it waits to be restarted.
    std::string last_exit{};                         // "exit code 1", "signal 9 (SIGKILL)"; empty if none.
    std::int64_t last_exit_ms = 0;                 // Wall clock of that exit.
};

std::int64_t now_ms() {
    return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// child_process reports a death by signal as 128 + signal; syncline processes exit 0, 1 or 2.
std::string describe_exit(int code) {
    if (code > 128 && code < 128 + NSIG) {
        const int sig = code - 128;
        const char* name = sigabbrev_np(sig);
        return "signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
    }
    std::string text = "exit code " + std::to_string(code);
    if (code == exit_usage) text += " (bad usage or configuration)";
    return text;
}

milliseconds restart_delay(unsigned consecutive_failures) {
    milliseconds delay = restart_backoff_min;
    for (unsigned i = 1; i < consecutive_failures && delay < restart_backoff_max; ++i) delay *= 2;
    return std::min(delay, restart_backoff_max);
}

std::vector<std::string> split_args(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

std::string last_line_of(const std::string& path) {
    std::ifstream in(path);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

void write_pid_file(const fs::path& path, pid_t pid) {
    std::ofstream(path, std::ios::trunc) << pid << "\n";
}

class runner {
public:
    explicit runner(run_options o)
        : _o(std::move(o)), _registry(metrics::const_labels{{"pipeline", _o.pipeline}}) {}

    status run(const stop_flag& stop) {
        if (_o.until_caught_up) {
            auto log = store::change_log::open_reader(_o.log);
            if (!log.ok()) return log.get_status();
            _o.to = (*log)->last_offset();
            if (_o.to == 0) {
                std::printf("caught up: the log is empty\n");
                return {};
            }
        }
        SYNCLINE_RETURN_IF_ERROR(prepare());
        SYNCLINE_RETURN_IF_ERROR(serve_metrics());
        if (_o.to != 0) log_run.info("running until offset " + std::to_string(_o.to) + " is committed");
        start_all();
        const auto began = steady::now();
        std::optional<std::uint64_t> committed_at_start;
        auto next_progress = steady::now();

        status outcome;
        while (!stop.stop_requested()) {
            _health.beat();
            auto finished = supervise();
            if (!finished.ok()) {
                outcome = finished.get_status();
                break;
            }
            const auto committed = read_committed();
            if (committed && !committed_at_start) committed_at_start = committed;
            report_readiness();
            if (_o.progress && steady::now() >= next_progress) {
                print_progress(committed.value_or(0), committed_at_start.value_or(0), began);
                next_progress = steady::now() + std::chrono::seconds(1);
            }
            if (*finished) {
                // The ventilator exits 0 by itself only after its --to offset is committed.
                const auto done = read_committed().value_or(_o.to);
                if (_bar) {
                    const std::uint64_t start = committed_at_start.value_or(0);
                    _bar->update(done - std::min(done, start), _o.to - std::min(_o.to, start), "", true);
                    _bar.reset();  // Ends the line before the summary.
                }
                const double secs = std::chrono::duration<double>(steady::now() - began).count();
                const auto records = done - std::min(done, committed_at_start.value_or(0));
                std::printf("caught up: offset %llu committed, %llu records in %.2f s (%.0f records/s)\n",
                            static_cast<unsigned long long>(done), static_cast<unsigned long long>(records), secs,
                            secs > 0 ? records / secs : 0.0);
                std::fflush(stdout);
                break;
            }
            std::this_thread::sleep_for(milliseconds(100));
        }
        stop_all();
        return outcome;
    }

private:
    status prepare() {
        if (_o.run_dir.empty()) _o.run_dir = (fs::path(_o.state) / (_o.pipeline + ".run")).string();
        std::error_code ec;
        fs::create_directories(_o.run_dir, ec);
        if (ec) return status{errc::io_error, "cannot create run directory " + _o.run_dir + ": " + ec.message()};
        _o.run_dir = fs::absolute(_o.run_dir).string();
        auto ipc = [&](const char* name) { return "ipc://" + _o.run_dir + "/" + name + ".sock"; };
        if (_o.work.empty()) _o.work = ipc("work");
        if (_o.acks.empty()) _o.acks = ipc("acks");
        if (_o.control.empty()) _o.control = ipc("control");
        for (const auto* e : {&_o.work, &_o.acks, &_o.control})
            if (e->rfind("ipc://", 0) == 0 && e->size() - 6 > max_ipc_path_bytes)
                return status{errc::invalid_argument, "ipc endpoint path too long (max " +
                                                          std::to_string(max_ipc_path_bytes) + " bytes): " + *e +
                                                          ": choose a shorter --run-dir or tcp:// endpoints"};
        const fs::path bin = _o.bin_dir.empty() ? default_bin_dir() : fs::path(_o.bin_dir);
        for (const char* program : {"syncline-sink", "syncline-worker", "syncline-ventilator"})
            if (access((bin / program).c_str(), X_OK) != 0)
                return status{errc::invalid_argument, std::string("cannot find ") + program + " in " + bin.string() +
                                                          " (set SYNCLINE_BIN_DIR or --bin-dir)"};

        std::vector<std::string> server_curve, worker_curve;
        if (!_o.curve_keys.empty()) {
            SYNCLINE_RETURN_IF_ERROR(check_curve_keys());
            const std::string keys = fs::absolute(_o.curve_keys).string();
            const std::string allow = fs::absolute(_o.curve_allow).string();
            server_curve = {"--curve-secret", keys + "/server.key", "--curve-allow", allow};
            worker_curve = {"--curve-secret", keys + "/worker.key", "--curve-server-key", keys + "/server.pub"};
        } else {
            for (const auto& [channel, endpoints] : {std::pair{"work", _o.work}, {"acks", _o.acks}, {"control", _o.control}})
                curve::warn_if_exposed(log_run, channel, endpoints, false);
        }
        // Each child's command line is its options' to_argv (the one spelling, beside its
        // parse_cli), then the CURVE flags, then the user's extra arguments for it.
        unsigned metrics_port_offset = 0;
        auto metrics_for = [&](const std::string& name) {
            metrics::endpoint_options m;
            if (_o.metrics_listen != "off") {
                m.listen = child_metrics_address(metrics_port_offset++);
                m.address_file = _o.run_dir + "/" + name + ".metrics";
            }
            return m;
        };
        auto add = [&](std::string name, const char* program, std::vector<std::string> args, const std::string& extra,
                       const std::vector<std::string>& curve_args) {
            std::vector<std::string> argv{(bin / program).string()};
            argv.insert(argv.end(), args.begin(), args.end());
            argv.insert(argv.end(), curve_args.begin(), curve_args.end());
            for (auto& a : split_args(extra)) argv.push_back(std::move(a));
            const std::string log_path = _o.run_dir + "/" + name + ".log";
            _child_names.push_back(name);
            metrics::counter* restarts = &_restarts.with({name});  // Every child shows 0 from the start.
            // Own process groups: Ctrl-C reaches only this runner, which then stops the children in order.
            _children.push_back({.name = std::move(name),
                                 .spawn = {std::move(argv), log_path, log_path, "/dev/null", true},
                                 .restarts = restarts});
        };
        sink::sink_options sink_opts;
        sink_opts.state = _o.state;
        sink_opts.pipeline = _o.pipeline;
        sink_opts.log = _o.log;
        sink_opts.acks = _o.acks;
        sink_opts.control = _o.control;
        sink_opts.metrics = metrics_for("sink");
        add("sink", "syncline-sink", sink::to_argv(sink_opts), _o.sink_args, server_curve);
        for (unsigned i = 1; i <= _o.workers; ++i) {
            const std::string name = "worker-" + std::to_string(i);
            workers::worker_options w;
            w.target = _o.target;
            w.pipeline = _o.pipeline;
            w.origin_pipeline = _o.origin_pipeline;
            w.work = _o.work;
            w.acks = _o.acks;
            w.id = _o.pipeline + "-" + name;
            if (!_o.transform.empty()) w.transform = fs::absolute(_o.transform).string();
            w.metrics = metrics_for(name);
            add(name, "syncline-worker", workers::to_argv(w), _o.worker_args, worker_curve);
        }
        ventilator::ventilator_options v;
        v.log = _o.log;
        v.pipeline = _o.pipeline;
        v.work = _o.work;
        v.control = _o.control;
        v.to = _o.to;
        v.metrics = metrics_for("ventilator");
        // The filter and ordering are checked by the ventilator's own parse_cli, with its messages.
        std::vector<std::string> ventilator_argv = ventilator::to_argv(v);
        if (!_o.collections.empty()) ventilator_argv.insert(ventilator_argv.end(), {"--collections", _o.collections});
        if (!_o.ops.empty()) ventilator_argv.insert(ventilator_argv.end(), {"--ops", _o.ops});
        if (_o.ordering != "none") ventilator_argv.insert(ventilator_argv.end(), {"--ordering", _o.ordering});
        add("ventilator", "syncline-ventilator", std::move(ventilator_argv), _o.ventilator_args, server_curve);
        if (!_o.capture_source.empty()) {
            if (access((bin / "syncline-capture").c_str(), X_OK) != 0)
                return status{errc::invalid_argument, "cannot find syncline-capture in " + bin.string() +
                                                          " (set SYNCLINE_BIN_DIR or --bin-dir)"};
            std::vector<std::string> capture_argv{"--log", _o.log, "--source", _o.capture_source};
            metrics::append_endpoint_argv(metrics_for("capture"), capture_argv);
            add("capture", "syncline-capture", std::move(capture_argv), _o.capture_args, {});
        }
        write_pid_file(fs::path(_o.run_dir) / "run.pid", getpid());
        log_run.info("starting", {{"pipeline", _o.pipeline}, {"target", redact_secrets("target", _o.target)},
                                  {"workers", _o.workers}, {"run_dir", _o.run_dir}});
        return {};
    }

    // The pipeline's one scrape endpoint (--metrics-listen, address in RUN_DIR/run.metrics): the
    // runner's own series and every child's, merged, each labelled process="run"|"sink"|...
    status serve_metrics() {
        if (_o.metrics_listen == "off") return {};
        for (const auto& name : _child_names) _child_up.with({name});
        metrics::endpoint_options listen;
        listen.listen = _o.metrics_listen;
        listen.address_file = _o.run_dir + "/run.metrics";
        listen.index_html = status_page_html();  // The status page at /.
        auto served = metrics::serve(listen, [this] { return render_metrics(); }, _health, "run");
        if (!served.ok()) return served.get_status();
        _endpoint = std::move(*served);
        return {};
    }

    // On the endpoint's thread: reads only what does not change after prepare() (names, run
    // directory) and the registry's atomics, never the supervised children themselves.
    std::string render_metrics() {
        // The children in parallel: a child that does not answer costs its timeout once, not once per child.
        std::vector<std::future<std::optional<std::string>>> pending;
        for (const auto& name : _child_names)
            pending.push_back(std::async(std::launch::async, [this, &name] { return scrape_child(name); }));
        std::vector<metrics::exposition_source> sources(1);
        for (std::size_t i = 0; i < pending.size(); ++i) {
            auto text = pending[i].get();
            _child_up.with({_child_names[i]}).set(text ? 1 : 0);
            if (text) sources.push_back({_child_names[i], std::move(*text)});
        }
        sources[0] = {"run", _registry.expose()};
        return metrics::merge_expositions(sources, "process");
    }

    // A child's /metrics through the address file it wrote; nullopt while it does not run or answer.
    std::optional<std::string> scrape_child(const std::string& name) const {
        std::ifstream in(fs::path(_o.run_dir) / (name + ".metrics"));
        std::string address;
        if (!std::getline(in, address) || address.empty()) return std::nullopt;
        auto got = metrics::http_get(address, "/metrics", child_scrape_timeout);
        if (!got.ok() || got->status != 200 || !metrics::parse_exposition(got->body).ok()) return std::nullopt;
        return std::move(got->body);
    }

    // Ready (the runner's /ready) while every child runs; else the ones waiting for a restart.
    void report_readiness() {
        std::string waiting;
        for (const auto& c : _children)
            if (!c.child) waiting += (waiting.empty() ? "" : ", ") + c.name;
        if (waiting.empty()) _health.set_ready(true);
        else _health.set_ready(false, "waiting for a restart: " + waiting);
    }

    // Children's own endpoints: HOST:0 each, or HOST:(P + offset) when --child-metrics-listen
    // gives a base port P (sink P, ventilator P+1, worker i P+1+i). HOST defaults to the host of
    // --metrics-listen.
    std::string child_metrics_address(unsigned offset) const {
        const std::string& listen = _o.child_metrics_listen.empty() ? _o.metrics_listen : _o.child_metrics_listen;
        const auto colon = listen.rfind(':');
        const unsigned base =
            _o.child_metrics_listen.empty() ? 0 : static_cast<unsigned>(std::stoul(listen.substr(colon + 1)));
        return listen.substr(0, colon + 1) + std::to_string(base == 0 ? 0 : base + offset);
    }

    // The key files `curve_keys` needs, loaded once here so a mistake is one clear message
    // (exit 2) instead of children failing one by one; and the local workers must be admitted.
    status check_curve_keys() {
        if (_o.curve_allow.empty()) _o.curve_allow = _o.curve_keys;
        const fs::path dir(_o.curve_keys);
        for (const char* name : {"server", "worker"})
            if (!fs::exists(dir / (std::string(name) + ".key")))
                return status{errc::invalid_argument,
                              "--curve-keys: " + (dir / (std::string(name) + ".key")).string() +
                                  " is missing; create it with: syncline keygen --out " + _o.curve_keys + " --name " + name};
        for (const char* name : {"server.key", "worker.key"}) {
            auto pair = curve::load_secret_key((dir / name).string());
            if (!pair.ok()) return pair.get_status();
        }
        auto worker_public = curve::load_public_key((dir / "worker.pub").string());
        if (!worker_public.ok()) return worker_public.get_status();
        if (!fs::is_directory(_o.curve_allow))
            return status{errc::invalid_argument, "--curve-allow: " + _o.curve_allow + " is not a directory"};
        curve::allow_list allowed(_o.curve_allow, log_run);
        if (!allowed.admits(*worker_public))
            return status{errc::invalid_argument, "--curve-allow: the local workers' key " + (dir / "worker.pub").string() +
                                                      " is not in " + _o.curve_allow + "; copy it there"};
        log_run.info("curve on:", {{"keys", _o.curve_keys}, {"allow", _o.curve_allow}});
        return {};
    }

    void start(supervised& c) {
        auto spawned = child_process::spawn(c.spawn);
        c.started = steady::now();
        if (!spawned.ok()) {
            log_run.error(c.name + ": " + spawned.get_status().message());
            c.child.reset();
            return;
        }
        c.child.emplace(std::move(spawned.value()));
        write_pid_file(fs::path(_o.run_dir) / (c.name + ".pid"), c.child->pid());
    }

    void start_all() {
        // Children inherit this: if the runner dies, even by SIGKILL, they drain and stop.
        setenv(stop_with_parent_env, std::to_string(getpid()).c_str(), 1);
        // ...and log as this runner was told to (their own --log-* in *-args still win).
        setenv("SYNCLINE_LOG_LEVEL", std::string(log_level_name(current_log_level())).c_str(), 1);
        setenv("SYNCLINE_LOG_FORMAT", std::string(log_format_name(current_log_format())).c_str(), 1);
        for (auto& c : _children) start(c);
        write_restarts();
    }

    // Restarts children that died, each after its own backoff, without disturbing the others.
    // True once a bounded pass is complete (the ventilator exited 0 after committing its --to offset).
    result<bool> supervise() {
        const auto now = steady::now();
        bool changed = false;
        for (auto& c : _children) {
            if (c.restart_at) {
                if (now < *c.restart_at) continue;
                c.restart_at.reset();
                c.restarts->inc();
                start(c);
                log_run.info(c.name + " restarted", {{"pid", c.child ? std::to_string(c.child->pid()) : "none"},
                                                     {"restarts", c.restarts->value()}});
                changed = true;
                continue;
            }
            if (c.child && c.child->running()) {
                if (now - c.started >= stable_period) c.consecutive_failures = 0;
                continue;
            }
            const int code = c.child && c.child->exit_code() ? *c.child->exit_code() : exit_failure;
            if (code == exit_ok && c.name == "ventilator" && _o.to != 0) return true;
            if (now - c.started >= stable_period) c.consecutive_failures = 0;
            ++c.consecutive_failures;
            const milliseconds delay = restart_delay(c.consecutive_failures);
            c.last_exit = c.child ? describe_exit(code) : "did not start";
            c.last_exit_ms = now_ms();
            c.restart_at = now + delay;
            c.child.reset();
            std::error_code ec;
            fs::remove(fs::path(_o.run_dir) / (c.name + ".pid"), ec);
            // Its port may go to another process: nobody scrapes it until the restart writes a new one.
            fs::remove(fs::path(_o.run_dir) / (c.name + ".metrics"), ec);
            const std::string log_path = c.spawn.stderr_path;
            if (_o.to != 0 && c.consecutive_failures >= bounded_pass_max_failures) {
                write_restarts();
                return status{errc::unavailable, c.name + " failed " + std::to_string(c.consecutive_failures) +
                                                     " times in a row, last with " + c.last_exit + ": " +
                                                     last_line_of(log_path) + " (log: " + log_path + ")"};
            }
            log_run.error(c.name + " died: " + c.last_exit + "; restarting in " + std::to_string(delay.count()) + " ms",
                          {{"last_line", last_line_of(log_path)}, {"log", log_path},
                           {"consecutive_failures", c.consecutive_failures}});
            changed = true;
        }
        if (changed) write_restarts();
        return false;
    }

    // STATE/<pipeline>.run/restarts.json (format: docs/operations.md "Supervision"), replaced
    // atomically so readers (`syncline status`) never see half a file. The counts are the
    // registry's counters, the same the runner's /metrics serves.
    void write_restarts() {
        std::uint64_t total = 0;
        std::string children;
        for (const auto& c : _children) {
            const std::uint64_t restarts = c.restarts->value();
            total += restarts;
            if (!children.empty()) children += ",";
            children += "\n    \"" + c.name + "\": {\"pid\": " + (c.child ? std::to_string(c.child->pid()) : "null") +
                        ", \"restarts\": " + std::to_string(restarts) +
                        ", \"consecutive_failures\": " + std::to_string(c.consecutive_failures) +
                        ", \"last_exit\": " + (c.last_exit.empty() ? "null" : "\"" + c.last_exit + "\"") +
                        ", \"last_exit_ms\": " + (c.last_exit.empty() ? "null" : std::to_string(c.last_exit_ms)) +
                        ", \"restart_at_ms\": " +
                        (c.restart_at ? std::to_string(now_ms() + std::chrono::duration_cast<milliseconds>(
                                                                          *c.restart_at - steady::now()).count())
                                      : "null") +
                        "}";
        }
        const std::string text = scrub_secrets("{\n  \"version\": 1,\n  \"pipeline\": \"" + _o.pipeline +
                                 "\",\n  \"runner_pid\": " + std::to_string(getpid()) +
                                 ",\n  \"updated_ms\": " + std::to_string(now_ms()) +
                                 ",\n  \"restarts_total\": " + std::to_string(total) + ",\n  \"children\": {" +
                                 children + "\n  }\n}\n");
        const fs::path final_path = fs::path(_o.run_dir) / "restarts.json";
        const fs::path temp_path = fs::path(_o.run_dir) / "restarts.json.tmp";
        {
            std::ofstream out(temp_path, std::ios::trunc);
            out << text;
            if (!out.flush()) {
                log_run.warn("cannot write " + temp_path.string());
                return;
            }
        }
        std::error_code ec;
        fs::rename(temp_path, final_path, ec);
        if (ec) log_run.warn("cannot write " + final_path.string() + ": " + ec.message());
    }

    void stop_all() {
        // Ventilator first: it stops cutting batches and waits for in-flight ones to commit,
        // which needs the workers and the sink still running.
        auto stop_named = [&](const std::string& prefix, milliseconds grace) {
            for (auto& c : _children)
                if (c.name.rfind(prefix, 0) == 0 && c.child) c.child->signal(SIGTERM);
            for (auto& c : _children) {
                if (c.name.rfind(prefix, 0) != 0 || !c.child) continue;
                const int code = c.child->wait_or_kill(grace);
                if (code != 0) log_run.warn(c.name + " stopped with code " + std::to_string(code));
                std::error_code ec;
                fs::remove(fs::path(_o.run_dir) / (c.name + ".pid"), ec);
                fs::remove(fs::path(_o.run_dir) / (c.name + ".metrics"), ec);
            }
        };
        stop_named("capture", milliseconds(30'000));  // The producer first: it finishes its transaction.
        stop_named("ventilator", milliseconds(30'000));
        stop_named("worker-", milliseconds(15'000));
        stop_named("sink", milliseconds(15'000));
        std::error_code ec;
        fs::remove(fs::path(_o.run_dir) / "run.pid", ec);
        fs::remove(fs::path(_o.run_dir) / "run.metrics", ec);
        log_run.info("stopped", {{"pipeline", _o.pipeline}});
    }

    std::optional<std::uint64_t> read_committed() {
        if (!_state) {
            auto opened = store::state_store::open_reader(_o.state, _o.pipeline);
            if (!opened.ok()) return std::nullopt;
            _state = std::move(opened.value());
        } else if (!_state->catch_up().ok()) {
            return std::nullopt;
        }
        auto c = _state->committed();
        if (!c.ok()) return std::nullopt;
        return c->value_or(0);
    }

    void print_progress(std::uint64_t committed, std::uint64_t committed_at_start, steady::time_point began) {
        if (!_log) {
            auto opened = store::change_log::open_reader(_o.log);
            if (!opened.ok()) return;
            _log = std::move(opened.value());
        }
        (void)_log->catch_up();
        const std::uint64_t last = _log->last_offset();
        // On a terminal: one bar redrawn in place (towards --to in a bounded pass, else the count).
        if (!_bar) _bar.emplace("run " + _o.pipeline);
        if (_bar->active()) {
            const std::uint64_t done = committed - std::min(committed, committed_at_start);
            const std::string extra = "committed=" + with_thousands(committed) +
                                      " lag=" + with_thousands(last > committed ? last - committed : 0);
            _bar->update(done, _o.to != 0 ? _o.to - std::min(_o.to, committed_at_start) : 0, extra);
            return;
        }
        const double secs = std::chrono::duration<double>(steady::now() - began).count();
        const double rate = secs > 0 ? (committed - committed_at_start) / secs : 0;
        std::fprintf(stderr, "progress committed=%llu last=%llu lag=%llu rate=%.0f/s\n",
                     static_cast<unsigned long long>(committed), static_cast<unsigned long long>(last),
                     static_cast<unsigned long long>(last > committed ? last - committed : 0), rate);
    }

    static constexpr milliseconds child_scrape_timeout{2000};

    run_options _o;
    metrics::registry _registry;
    metrics::family<metrics::counter>& _restarts = _registry.counter_family(
        "syncline_run_restarts_total", "Children restarted by syncline run after they exited.", {"child"});
    metrics::family<metrics::gauge>& _child_up = _registry.gauge_family(
        "syncline_run_child_up", "1 while the child runs and its /metrics answered the last scrape, else 0.",
        {"child"});
    metrics::health _health;
    std::vector<std::string> _child_names;  // Fixed by prepare(); the endpoint's thread reads it.
    std::vector<supervised> _children;
    std::unique_ptr<metrics::endpoint> _endpoint;  // After what it serves: destroyed first.
    std::unique_ptr<store::state_store> _state;
    std::unique_ptr<store::change_log> _log;
    std::optional<progress_line> _bar;  // --progress on a terminal.
};

}  // namespace

po::options_description run_options_description(run_options& o) {
    po::options_description desc("run options");
    desc.add_options()
        ("log", po::value(&o.log)->required(), "change log directory")
        ("state", po::value(&o.state)->required(), "state root directory")
        ("pipeline", po::value(&o.pipeline)->default_value(o.pipeline), "pipeline name")
        ("target", po::value(&o.target)->default_value(o.target), "target URI, one of the kinds listed above (docs/targets)")
        ("workers", po::value(&o.workers)->default_value(o.workers), "number of worker processes")
        ("until-caught-up", po::bool_switch(&o.until_caught_up), "exit 0 once what the log held at start is committed")
        ("to", po::value(&o.to), "exit 0 once this offset is committed (a bounded pass)")
        ("run-dir", po::value(&o.run_dir), "directory for child logs and PID files (default STATE/PIPELINE.run)")
        ("work", po::value(&o.work), "work endpoint (default ipc:// in the run directory)")
        ("acks", po::value(&o.acks), "acks endpoint (default ipc:// in the run directory)")
        ("control", po::value(&o.control), "control endpoint (default ipc:// in the run directory)")
        ("bin-dir", po::value(&o.bin_dir), "directory holding syncline-sink/-worker/-ventilator")
        ("progress", po::bool_switch(&o.progress),
         "show progress: on a terminal one bar redrawn in place (rate, ETA towards --to / --until-caught-up); "
         "else a plain line every second")
        ("collections", po::value(&o.collections)->value_name("GLOB[,GLOB...]"),
         "send only records of these collections (fnmatch globs); the others count as done unsent")
        ("ops", po::value(&o.ops)->value_name("upsert|delete"), "send only these operations (upsert, delete or both)")
        ("ordering", po::value(&o.ordering)->default_value(o.ordering)->value_name("none|key"),
         "key: at most one change per key in flight (channels: receivers see each key in offset order)")
        ("transform", po::value(&o.transform)->value_name("FILE.lua"),
         "each worker runs transform(rec) of this Lua 5.4 file on every record (docs/processing.md)")
        ("ventilator-args", po::value(&o.ventilator_args), "extra ventilator options, e.g. \"--window 64\"")
        ("worker-args", po::value(&o.worker_args), "extra worker options")
        ("sink-args", po::value(&o.sink_args), "extra sink options")
        ("capture-source", po::value(&o.capture_source),
         "also run and supervise syncline-capture into --log from this PostgreSQL source URI (docs/capture.md)")
        ("capture-args", po::value(&o.capture_args), "extra syncline-capture options")
        ("metrics-listen", po::value(&o.metrics_listen)->default_value(o.metrics_listen)->value_name("HOST:PORT"),
         "the pipeline's one scrape endpoint: /metrics of every process merged, each series labelled "
         "process=run|sink|ventilator|worker-N, and /live, /ready (PORT 0 = a free port; address in "
         "RUN_DIR/run.metrics); off = no metrics at all")
        ("child-metrics-listen", po::value(&o.child_metrics_listen)->value_name("HOST:PORT"),
         "each child's own endpoint: HOST:0 = free ports (the default, on the host of --metrics-listen), HOST:P = "
         "sink P, ventilator P+1, worker i P+1+i; addresses in RUN_DIR/<name>.metrics")
        ("curve-keys", po::value(&o.curve_keys)->value_name("DIR"),
         "CurveZMQ on every socket: DIR holds server.key/.pub (ventilator, sink) and worker.key/.pub (the workers "
         "started here); create them with syncline keygen --out DIR --name server|worker")
        ("curve-allow", po::value(&o.curve_allow)->value_name("DIR"),
         "CurveZMQ: directory of admitted clients' public keys (*.pub), re-read on change (default: --curve-keys)");
    return desc;
}

std::vector<std::string> validate_run_options(const run_options& o, const parse_outcome& parsed) {
    std::vector<std::string> problems;
    auto check = [&](std::string_view option, const status& s) {
        if (!s.ok()) problems.push_back(parsed.locate(option, s.message()));
    };
    // STATE/NAME.run is the run directory of pipeline NAME, NAME.replay its replay's pipeline: a
    // pipeline named either way would share their directories (common/names.h).
    check("pipeline", validate_pipeline_name("--pipeline", o.pipeline));
    if (o.workers < 1 || o.workers > 256) check("workers", status{errc::invalid_argument, "must be between 1 and 256"});
    if (o.until_caught_up && o.to != 0)
        check("to", status{errc::invalid_argument, "--until-caught-up and --to exclude each other"});
    if (status s = targets::check_target_uri(o.target, {o.pipeline}); !s.ok())
        check("target", status{s.code(), redact_secrets_in(s.message(), "target", o.target)});
    for (const auto& [name, endpoint] : {std::pair{"work", &o.work}, {"acks", &o.acks}, {"control", &o.control}})
        if (!endpoint->empty()) check(name, validate_endpoint(name, *endpoint));
    if (o.metrics_listen != "off") {
        metrics::endpoint_options listen;
        listen.listen = o.metrics_listen;
        check("metrics-listen", metrics::validate_endpoint_options(listen));
        if (!o.child_metrics_listen.empty()) {
            listen.listen = o.child_metrics_listen;
            if (status s = metrics::validate_endpoint_options(listen); !s.ok()) {
                check("child-metrics-listen", status{s.code(), "--child-metrics-listen: " + s.message()});
            } else {
                const auto port = std::stoul(o.child_metrics_listen.substr(o.child_metrics_listen.rfind(':') + 1));
                const unsigned capture = o.capture_source.empty() ? 0 : 1;
                if (port != 0 && port + 1 + o.workers + capture > 65535)
                    check("child-metrics-listen",
                          status{errc::invalid_argument, "ports " + std::to_string(port) + ".." +
                                                             std::to_string(port + 1 + o.workers + capture) + " run past 65535"});
            }
        }
    } else if (!o.child_metrics_listen.empty()) {
        check("child-metrics-listen", status{errc::invalid_argument, "needs --metrics-listen (it is off)"});
    }
    {
        ventilator::record_filter filter;
        check("collections", ventilator::parse_collections(o.collections, filter));
        check("ops", ventilator::parse_ops(o.ops, filter));
        if (auto order = ventilator::parse_ordering(o.ordering); !order.ok()) check("ordering", order.get_status());
    }
#if SYNCLINE_WITH_POSTGRES
    if (!o.capture_source.empty())
        if (auto src = capture::parse_source_uri(o.capture_source, true); !src.ok())
            check("capture-source", src.get_status());
#else
    if (!o.capture_source.empty())
        check("capture-source", status{errc::invalid_argument, "change capture is not in this build "
                                                               "(rebuild with -DSYNCLINE_WITH_POSTGRES=ON)"});
#endif
    if (!o.curve_allow.empty() && o.curve_keys.empty())
        check("curve-allow", status{errc::invalid_argument, "needs --curve-keys"});
    return problems;
}

result<std::pair<run_options, bool>> parse_run_cli(int argc, const char* const* argv) {
    run_options o;
    const std::string usage =
        "usage: syncline run --log DIR --state DIR [--pipeline NAME] [--target URI] [--workers N] [--until-caught-up]\n\n" +
        targets::target_uri_help();
    auto parsed = parse(argc, argv, run_options_description(o), usage);
    if (!parsed.ok()) return parsed.get_status();
    if (parsed->exit_now) return std::pair{o, true};
    const auto problems = validate_run_options(o, *parsed);
    if (!problems.empty()) return status{errc::invalid_argument, problems.front()};
    return std::pair{o, false};
}

status run_pipeline(const run_options& options, const stop_flag& stop) {
    // Held while anything of the pipeline may run, restart backoffs included: `offsets set
    // --execute` refuses while it is held (store/run_lock.h).
    auto lock = store::run_lock::acquire(options.state, options.pipeline);
    if (!lock.ok()) return lock.get_status();
    runner r(options);
    return r.run(stop);
}

int run_command(int argc, const char* const* argv) {
    auto parsed = parse_run_cli(argc, argv);
    if (!parsed.ok()) return report_usage_error("syncline run", parsed.get_status());
    if (parsed->second) return exit_ok;
    stop_flag stop = install_stop_handlers();
    status s = run_pipeline(parsed->first, stop);
    if (s.ok()) return exit_ok;
    return s.code() == errc::invalid_argument ? report_usage_error("syncline run", s) : report_fatal("syncline run", s);
}

}  // namespace syncline::cli
