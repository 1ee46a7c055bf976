// pipeline_bench: the end-to-end pipeline on real processes (sink, ventilator, N workers) over
// ipc sockets, on a fresh log of the standard workload (docs/benchmarks.md). Two modes:
//   throughput: append N records first, then time the pipeline from start until all are
//               committed; report records/s and each process's peak RSS (from its stop line).
//   latency:    append at a fixed offered rate while the pipeline runs; for every append batch,
//               measure append -> committed (p50/p99/max): a state reader refreshes whenever the
//               sink writes its state (store::wal_watch), else every 2 ms. --rate 0: idle.
// Usage: pipeline_bench --bin-dir DIR --target URI|null:|sqlite: --workers N [--records N]
//                       [--latency --rate R --seconds S [--histogram FILE]] [--dir D] [--keep]
//                       [--sink-arg=OPT ...] [--ventilator-arg=OPT ...] [--worker-arg=OPT ...]
// Output: one markdown row. Throughput: | target | workers | records | seconds | records/s |
// first commit after s | records/s after the first commit |
// Latency: | target | workers | offered rate | achieved offered rate | appends | p50 ms | p99 ms |
// max ms | poll period ms | append p99 ms | p99 ms after the append returned | CPU % ventilator,
// worker (busiest), sink |; both followed
// by peak RSS per process. `sqlite:` alone means a file in the run dir. --histogram FILE writes
// every latency (ms, one per line) for bench/plot_benchmarks.sh.
#include <algorithm>
#include <atomic>
#include <deque>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <unistd.h>

#include <boost/program_options.hpp>

#include "bench/workload.h"
#include "common/subprocess.h"
#include "store/change_log.h"
#include "store/state_store.h"
#include "store/wal_watch.h"

namespace fs = std::filesystem;
using namespace syncline;
using steady = std::chrono::steady_clock;

namespace {

std::uint64_t committed(store::state_store* reader) {
    if (!reader || !reader->catch_up().ok()) return 0;
    auto c = reader->committed();
    return c.ok() ? c->value_or(0) : 0;
}

// CPU seconds (user + system) a process has used so far; 0 when /proc does not say.
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) return 0;
    std::istringstream fields(stat.substr(paren + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt: fields 3-13.
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long peak_rss_from_log(const std::string& path) {
    std::ifstream in(path);
    std::regex re("peak_rss_kb=([0-9]+)");
    long peak = -1;
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_search(line, m, re)) peak = std::stol(m[1]);
    }
    return peak;
}

}  // namespace

int main(int argc, char** argv) {
    namespace po = boost::program_options;
    std::string bin_dir, target = "null:", dir, histogram;
    unsigned workers = 2;
    std::uint64_t records = 1'000'000, keys = 100'000;
    bool latency = false, keep = false;  // keep: leave the run dir (logs, process logs) behind.
    double rate = 100'000, seconds = 10;
    // Extra options passed through to each process (e.g. --ventilator-arg=--window=128).
    std::vector<std::string> sink_args, ventilator_args, worker_args;
    po::options_description desc("pipeline_bench");
    desc.add_options()("bin-dir", po::value(&bin_dir)->required())("target", po::value(&target))(
        "workers", po::value(&workers))("records", po::value(&records))("keys", po::value(&keys))(
        "latency", po::bool_switch(&latency))("rate", po::value(&rate))("seconds", po::value(&seconds))("histogram", po::value(&histogram))(
        "dir", po::value(&dir))("keep", po::bool_switch(&keep))("sink-arg", po::value(&sink_args)->composing())(
        "ventilator-arg", po::value(&ventilator_args)->composing())("worker-arg", po::value(&worker_args)->composing());
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pipeline_bench: %s\n%s", e.what(), "see the usage at the top of bench/pipeline_bench.cc\n");
        return 2;
    }
    if (dir.empty()) dir = fs::temp_directory_path() / ("syncline-bench-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string log_dir = dir + "/log", state = dir + "/state";
    if (target.rfind("sqlite:", 0) == 0 && target == "sqlite:") target = "sqlite:" + dir + "/target.db";

    auto log = store::change_log::open_writer({.path = log_dir});
    if (!log.ok()) return std::fprintf(stderr, "%s\n", log.get_status().message().c_str()), 1;
    bench::workload gen(keys);
    std::vector<record> batch;
    if (!latency) {
        for (std::uint64_t done = 0; done < records; done += 1000) {
            gen.fill(batch, std::min<std::uint64_t>(1000, records - done));
            if (!(*log)->append(batch).ok()) return 1;
        }
    }

    const std::string work = "ipc://" + dir + "/w.sock", acks = "ipc://" + dir + "/a.sock", control = "ipc://" + dir + "/c.sock";
    std::vector<std::string> logs;
    auto start_child = [&](const std::string& program, const std::string& label, std::vector<std::string> args) {
        args.insert(args.begin(), bin_dir + "/" + program);
        const std::string path = dir + "/" + label + ".log";
        logs.push_back(path);
        auto c = child_process::spawn({.argv = args, .stdout_path = path, .stderr_path = path, .stdin_path = "/dev/null"});
        if (!c.ok()) throw std::runtime_error(c.get_status().message());
        return std::move(c.value());
    };

    const auto began = steady::now();
    auto with = [](std::vector<std::string> args, const std::vector<std::string>& extra) {
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    auto sink = start_child("syncline-sink", "sink",
                            with({"--state", state, "--pipeline", "bench", "--acks", acks, "--control", control}, sink_args));
    std::vector<child_process> worker_procs;
    for (unsigned i = 0; i < workers; ++i)
        worker_procs.push_back(start_child("syncline-worker", "worker-" + std::to_string(i + 1),
                                           with({"--target", target, "--pipeline", "bench", "--work", work, "--acks", acks},
                                                worker_args)));
    auto ventilator = start_child("syncline-ventilator", "ventilator",
                                  with({"--log", log_dir, "--pipeline", "bench", "--work", work, "--control", control},
                                       ventilator_args));

    std::unique_ptr<store::state_store> reader;
    auto open_reader = [&] {
        while (!reader) {
            auto r = store::state_store::open_reader(state, "bench");
            if (r.ok()) reader = std::move(r.value());
            else std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    };

    std::string result_line;
    double offered_rate = 0;
    std::size_t appends = 0;
    if (!latency) {
        open_reader();
        // Also the steady rate: from the first commit seen to the last, which leaves out process
        // start (the ventilator's secondary replays the log's WAL when it opens) and the first
        // commit interval.
        std::uint64_t first_seen = 0;
        steady::time_point first_at{};
        for (std::uint64_t c = 0; c < records; std::this_thread::sleep_for(std::chrono::milliseconds(2))) {
            c = committed(reader.get());
            if (first_seen == 0 && c > 0) first_seen = c, first_at = steady::now();
        }
        const auto done = steady::now();
        const double secs = std::chrono::duration<double>(done - began).count();
        const double steady_secs = std::chrono::duration<double>(done - first_at).count();
        const double steady_rate = first_seen < records && steady_secs > 0 ? (records - first_seen) / steady_secs : 0;
        char line[256];
        std::snprintf(line, sizeof line, "| %s | %u | %llu | %.2f | %.0f | %.2f | %.0f |",
                      target.substr(0, target.find(':') + 1).c_str(), workers, static_cast<unsigned long long>(records),
                      secs, records / secs, std::chrono::duration<double>(first_at - began).count(), steady_rate);
        result_line = line;
    } else {
        open_reader();
        // Offered load: `rate` records/s from an appender thread, which every ~1 ms appends the
        // records due by then in one durable append (~rate/1000 records; more when an append's
        // fsync made it fall behind, so the offered rate holds on a slow disk). This thread
        // refreshes a state reader each time the sink writes its state (an inotify event on the
        // state directory's WAL, store::wal_watch; every 2 ms without one); latency per append is
        // from the append call to the first refresh that sees it committed, so it includes the
        // append's own fsync and up to one refresh (the mean poll period is reported).
        // Warm-up: one append committed before the clock starts, so process start (connects,
        // the ventilator's resume handshake, the first catch-up) is not counted as latency.
        gen.fill(batch, 1);
        auto warm = (*log)->append(batch);
        if (!warm.ok()) return 1;
        for (const auto warm_end = steady::now() + std::chrono::seconds(60);
             committed(reader.get()) < warm->last && steady::now() < warm_end;)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::mutex mu;
        struct appended_batch {
            std::uint64_t last;
            steady::time_point called, returned;  // The append call, and when it returned (synced).
        };
        std::deque<appended_batch> pending;
        std::atomic<bool> appending{true};
        std::atomic<bool> failed{false};
        std::uint64_t offered = 0;
        std::vector<double> append_ms;
        const auto t0 = steady::now();
        const auto end = t0 + std::chrono::duration<double>(seconds);
        std::thread appender([&] {
            for (auto now = steady::now(); now < end; now = steady::now()) {
                const auto due = static_cast<std::uint64_t>(rate * std::chrono::duration<double>(now - t0).count());
                if (due > offered) {
                    gen.fill(batch, static_cast<std::size_t>(std::min<std::uint64_t>(due - offered, 100'000)));
                    auto appended = (*log)->append(batch);
                    if (!appended.ok()) {
                        failed = true;
                        break;
                    }
                    offered += batch.size();
                    std::lock_guard lock(mu);
                    const auto returned = steady::now();
                    append_ms.push_back(std::chrono::duration<double, std::milli>(returned - now).count());
                    pending.push_back({appended->last, now, returned});
                }
                std::this_thread::sleep_until(now + std::chrono::milliseconds(1));
            }
            appending = false;
        });
        std::vector<double> latencies_ms, after_append_ms;
        std::size_t polls = 0;
        const auto poll_start = steady::now();
        std::optional<store::wal_watch> watch;
        if (auto w = store::wal_watch::open(state + "/bench"); w.ok()) watch.emplace(std::move(w.value()));
        auto cpu_now = [&] {
            std::vector<double> cpu{cpu_seconds(ventilator.pid()), cpu_seconds(sink.pid())};
            for (auto& w : worker_procs) cpu.push_back(cpu_seconds(w.pid()));
            return cpu;
        };
        const auto cpu_before = cpu_now();
        while (!failed) {
            const bool last_round = !appending;
            const auto c = committed(reader.get());
            const auto now = steady::now();
            ++polls;
            {
                std::lock_guard lock(mu);
                while (!pending.empty() && pending.front().last <= c) {
                    latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - pending.front().called).count());
                    after_append_ms.push_back(std::chrono::duration<double, std::milli>(now - pending.front().returned).count());
                    pending.pop_front();
                }
                if (last_round && pending.empty()) break;
                if (now > end + std::chrono::seconds(60) && !pending.empty()) {
                    std::fprintf(stderr, "pipeline_bench: %zu appends not committed 60 s after the load stopped\n",
                                 pending.size());
                    failed = true;
                }
            }
            if (watch) watch->wait(std::chrono::milliseconds(2));
            else std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        const auto cpu_after = cpu_now();
        const double cpu_secs = std::chrono::duration<double>(steady::now() - poll_start).count();
        appender.join();
        if (failed || (latencies_ms.empty() && rate > 0)) {
            std::fprintf(stderr, "pipeline_bench: latency run failed (run dir %s)\n", dir.c_str());
            ventilator.stop(std::chrono::seconds(5));
            for (auto& w : worker_procs) w.stop(std::chrono::seconds(5));
            sink.stop(std::chrono::seconds(5));
            return 1;
        }
        const double poll_ms = std::chrono::duration<double, std::milli>(steady::now() - poll_start).count() / polls;
        offered_rate = offered / seconds;
        appends = latencies_ms.size();
        if (!histogram.empty()) {
            std::ofstream out(histogram);
            for (double ms : latencies_ms) out << ms << '\n';
        }
        std::sort(latencies_ms.begin(), latencies_ms.end());
        std::sort(append_ms.begin(), append_ms.end());
        std::sort(after_append_ms.begin(), after_append_ms.end());
        auto pct = [](const std::vector<double>& v, double p) {
            return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
        };
        auto cpu_pct = [&](std::size_t i) { return 100.0 * (cpu_after[i] - cpu_before[i]) / cpu_secs; };
        double worker_cpu = 0;
        for (std::size_t i = 2; i < cpu_after.size(); ++i) worker_cpu = std::max(worker_cpu, cpu_pct(i));
        char line[360];
        std::snprintf(line, sizeof line, "| %s | %u | %.0f | %.0f | %zu | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f, %.1f, %.1f |",
                      target.substr(0, target.find(':') + 1).c_str(), workers, rate, offered_rate, appends,
                      pct(latencies_ms, 0.50), pct(latencies_ms, 0.99), latencies_ms.empty() ? 0.0 : latencies_ms.back(),
                      poll_ms, pct(append_ms, 0.99), pct(after_append_ms, 0.99), cpu_pct(0), worker_cpu, cpu_pct(1));
        result_line = line;
    }

    ventilator.stop(std::chrono::seconds(30));
    for (auto& w : worker_procs) w.stop(std::chrono::seconds(30));
    sink.stop(std::chrono::seconds(30));
    long vent_rss = peak_rss_from_log(dir + "/ventilator.log"), sink_rss = peak_rss_from_log(dir + "/sink.log"), worker_rss = 0;
    for (unsigned i = 0; i < workers; ++i)
        worker_rss = std::max(worker_rss, peak_rss_from_log(dir + "/worker-" + std::to_string(i + 1) + ".log"));
    std::printf("%s peak RSS MiB: ventilator %.0f, worker %.0f, sink %.0f |\n", result_line.c_str(), vent_rss / 1024.0,
                worker_rss / 1024.0, sink_rss / 1024.0);
    reader.reset();
    log->reset();
    if (!keep) fs::remove_all(dir);
    return 0;
}
