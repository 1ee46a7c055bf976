#include "cli/runner.h"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common/cli_options.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/subprocess.h"
#include "store/change_log.h"
#include "store/state_store.h"

namespace syncline::cli {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

const logger log_run("run");

// A child the runner keeps alive: restarted when it dies, unless it dies at once repeatedly.
struct supervised {
    std::string name;
    spawn_options spawn;
    std::optional<child_process> child;
    steady::time_point started{};
    unsigned quick_failures = 0;
};

std::vector<std::string> split_args(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

fs::path default_bin_dir() {
    if (const char* env = std::getenv("SYNCLINE_BIN_DIR"); env && *env) return env;
    std::error_code ec;
    auto self = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path(".") : self.parent_path();
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
    explicit runner(run_options o) : _o(std::move(o)) {}

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
        if (_o.to != 0) log_run.info("running until offset " + std::to_string(_o.to) + " is committed");
        start_all();
        const auto began = steady::now();
        std::optional<std::uint64_t> committed_at_start;
        auto next_progress = steady::now();
        status outcome;

        while (!stop.stop_requested()) {
            auto finished = supervise();
            if (!finished.ok()) {
                outcome = finished.get_status();
                break;
            }
            const auto committed = read_committed();
            if (committed && !committed_at_start) committed_at_start = committed;
            if (_o.progress && steady::now() >= next_progress) {
                print_progress(committed.value_or(0), committed_at_start.value_or(0), began);
                next_progress = steady::now() + std::chrono::seconds(1);
            }
            if (*finished) {
                // The ventilator exits 0 by itself only after its --to offset is committed.
                const auto done = read_committed().value_or(_o.to);
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
            if (e->rfind("ipc://", 0) == 0 && e->size() - 6 >= 100)
                return status{errc::invalid_argument, "ipc endpoint path too long (max 100 chars): " + *e +
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
        auto add = [&](std::string name, std::vector<std::string> argv, const std::string& extra,
                       const std::vector<std::string>& curve_args) {
            argv.insert(argv.end(), curve_args.begin(), curve_args.end());
            for (auto& a : split_args(extra)) argv.push_back(std::move(a));
            const std::string log_path = _o.run_dir + "/" + name + ".log";
            // Own process groups: Ctrl-C reaches only this runner, which then stops the children in order.
            _children.push_back({name, {std::move(argv), log_path, log_path, "/dev/null", true}, std::nullopt, {}, 0});
        };
        add("sink",
            {(bin / "syncline-sink").string(), "--state", _o.state, "--pipeline", _o.pipeline, "--log", _o.log,
             "--acks", _o.acks, "--control", _o.control},
            _o.sink_args, server_curve);
        for (unsigned i = 1; i <= _o.workers; ++i)
            add("worker-" + std::to_string(i),
                {(bin / "syncline-worker").string(), "--target", _o.target, "--pipeline", _o.pipeline, "--work",
                 _o.work, "--acks", _o.acks, "--id", _o.pipeline + "-worker-" + std::to_string(i)},
                _o.worker_args, worker_curve);
        std::vector<std::string> ventilator_argv = {(bin / "syncline-ventilator").string(), "--log", _o.log,
                                                    "--pipeline", _o.pipeline, "--work", _o.work, "--control", _o.control};
        if (_o.to != 0) ventilator_argv.insert(ventilator_argv.end(), {"--to", std::to_string(_o.to)});
        add("ventilator", std::move(ventilator_argv), _o.ventilator_args, server_curve);
        write_pid_file(fs::path(_o.run_dir) / "run.pid", getpid());
        log_run.info("pipeline=" + _o.pipeline + " target=" + _o.target + " workers=" + std::to_string(_o.workers) +
                     " run_dir=" + _o.run_dir);
        return {};
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
        log_run.info("curve on: keys=" + _o.curve_keys + " allow=" + _o.curve_allow);
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
        for (auto& c : _children) start(c);
    }

    // Restarts children that died; fails when one keeps dying right after starting. True once
    // a bounded pass is complete (the ventilator exited 0 after committing its --to offset).
    result<bool> supervise() {
        for (auto& c : _children) {
            if (c.child && c.child->running()) {
                if (steady::now() - c.started > std::chrono::seconds(5)) c.quick_failures = 0;
                continue;
            }
            const int code = c.child && c.child->exit_code() ? *c.child->exit_code() : 255;
            if (code == exit_ok && c.name == "ventilator" && _o.to != 0) return true;
            const bool quick = steady::now() - c.started < std::chrono::seconds(2);
            c.quick_failures = quick ? c.quick_failures + 1 : 0;
            const std::string log_path = c.spawn.stderr_path;
            if (code == exit_usage || c.quick_failures >= 3)
                return status{errc::unavailable, c.name + " exited with code " + std::to_string(code) + ": " +
                                                     last_line_of(log_path) + " (log: " + log_path + ")"};
            log_run.warn(c.name + " exited with code " + std::to_string(code) + ", restarting (log: " + log_path + ")");
            if (quick) std::this_thread::sleep_for(milliseconds(500));
            start(c);
        }
        return false;
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
            }
        };
        stop_named("ventilator", milliseconds(30'000));
        stop_named("worker-", milliseconds(15'000));
        stop_named("sink", milliseconds(15'000));
        std::error_code ec;
        fs::remove(fs::path(_o.run_dir) / "run.pid", ec);
        log_run.info("stopped pipeline=" + _o.pipeline);
    }

    std::optional<std::uint64_t> read_committed() {
        if (!_state) {
            auto opened = store::state_store::open_reader(_o.state, _o.pipeline);
            if (!opened.ok()) return std::nullopt;
            _state = std::move(opened.value());
        } else if (!_state->refresh().ok()) {
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
        const double secs = std::chrono::duration<double>(steady::now() - began).count();
        const double rate = secs > 0 ? (committed - committed_at_start) / secs : 0;
        std::fprintf(stderr, "progress committed=%llu last=%llu lag=%llu rate=%.0f/s\n",
                     static_cast<unsigned long long>(committed), static_cast<unsigned long long>(last),
                     static_cast<unsigned long long>(last > committed ? last - committed : 0), rate);
    }

    run_options _o;
    std::vector<supervised> _children;
    std::unique_ptr<store::state_store> _state;
    std::unique_ptr<store::change_log> _log;
};

}  // namespace

result<std::pair<run_options, bool>> parse_run_cli(int argc, const char* const* argv) {
    run_options o;
    po::options_description desc("run options");
    desc.add_options()
        ("log", po::value(&o.log)->required(), "change log directory")
        ("state", po::value(&o.state)->required(), "state root directory")
        ("pipeline", po::value(&o.pipeline)->default_value(o.pipeline), "pipeline name")
        ("target", po::value(&o.target)->default_value(o.target), "target URI: sqlite:PATH, jsonl:PATH, null:")
        ("workers", po::value(&o.workers)->default_value(o.workers), "number of worker processes")
        ("until-caught-up", po::bool_switch(&o.until_caught_up), "exit 0 once what the log held at start is committed")
        ("to", po::value(&o.to), "exit 0 once this offset is committed (a bounded pass)")
        ("run-dir", po::value(&o.run_dir), "directory for child logs and PID files (default STATE/PIPELINE.run)")
        ("work", po::value(&o.work), "work endpoint (default ipc:// in the run directory)")
        ("acks", po::value(&o.acks), "acks endpoint (default ipc:// in the run directory)")
        ("control", po::value(&o.control), "control endpoint (default ipc:// in the run directory)")
        ("bin-dir", po::value(&o.bin_dir), "directory holding syncline-sink/-worker/-ventilator")
        ("progress", po::bool_switch(&o.progress), "print a progress line every second")
        ("ventilator-args", po::value(&o.ventilator_args), "extra ventilator options, e.g. \"--window 64\"")
        ("worker-args", po::value(&o.worker_args), "extra worker options")
        ("sink-args", po::value(&o.sink_args), "extra sink options")
        ("curve-keys", po::value(&o.curve_keys)->value_name("DIR"),
         "CurveZMQ on every socket: DIR holds server.key/.pub (ventilator, sink) and worker.key/.pub (the workers "
         "started here); create them with syncline keygen --out DIR --name server|worker")
        ("curve-allow", po::value(&o.curve_allow)->value_name("DIR"),
         "CurveZMQ: directory of admitted clients' public keys (*.pub), re-read on change (default: --curve-keys)");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline run --log DIR --state DIR [--pipeline NAME] [--target URI] [--workers N] "
                        "[--until-caught-up]");
    if (!parsed.ok()) return parsed.get_status();
    if (parsed->exit_now) return std::pair{o, true};
    SYNCLINE_RETURN_IF_ERROR(validate_name("--pipeline", o.pipeline));
    if (o.workers < 1 || o.workers > 256) return status{errc::invalid_argument, "--workers must be between 1 and 256"};
    if (o.until_caught_up && o.to != 0)
        return status{errc::invalid_argument, "--until-caught-up and --to exclude each other"};
    for (const auto* e : {&o.work, &o.acks, &o.control})
        if (!e->empty()) SYNCLINE_RETURN_IF_ERROR(validate_endpoint("endpoint", *e));
    if (!o.curve_allow.empty() && o.curve_keys.empty())
        return status{errc::invalid_argument, "--curve-allow needs --curve-keys"};
    return std::pair{o, false};
}

status run_pipeline(const run_options& options, const stop_flag& stop) {
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
