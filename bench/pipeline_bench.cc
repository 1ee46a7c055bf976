// pipeline_bench: the end-to-end pipeline on real processes (sink, ventilator, N workers) over
// ipc sockets, on a fresh log of the standard workload (docs/benchmarks.md). Two modes:
//   throughput: append N records first, then time the pipeline from start until all are
//               committed; report records/s and each process's peak RSS (from its stop line).
//   latency:    append at a fixed offered rate while the pipeline runs; for every append batch,
//               measure append -> committed (p50/p99) by polling the committed offset.
// Usage: pipeline_bench --bin-dir DIR --target URI|null: --workers N [--records N]
//                       [--latency --rate R --seconds S] [--dir D]
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>

#include "common/subprocess.h"
#include "store/change_log.h"
#include "store/state_store.h"

namespace fs = std::filesystem;
using namespace syncline;
using steady = std::chrono::steady_clock;

namespace {

// The standard workload: ~100-byte JSON values over `keys` keys in 3 collections, 10% deletes.
void fill_batch(std::vector<record>& batch, std::size_t n, std::mt19937_64& rng, std::uint64_t keys, std::uint64_t& seq) {
    static const char* collections[] = {"accounts", "orders", "events"};
    static const std::string pad(48, 'x');
    batch.resize(n);
    for (auto& r : batch) {
        r.collection = collections[rng() % 3];
        r.key = "key-" + std::to_string(rng() % keys);
        r.headers.clear();
        if (rng() % 10 == 0) {
            r.operation = op::del;
            r.value.clear();
        } else {
            r.operation = op::upsert;
            r.value = "{\"seq\":" + std::to_string(++seq) + ",\"amount\":" + std::to_string(rng() % 100000) +
                      ",\"pad\":\"" + pad + "\"}";
        }
    }
}

std::uint64_t committed(store::state_store* reader) {
    if (!reader || !reader->refresh().ok()) return 0;
    auto c = reader->committed();
    return c.ok() ? c->value_or(0) : 0;
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
    std::string bin_dir, target = "null:", dir;
    unsigned workers = 2;
    std::uint64_t records = 1'000'000, keys = 100'000;
    bool latency = false;
    double rate = 100'000, seconds = 10;
    po::options_description desc("pipeline_bench");
    desc.add_options()("bin-dir", po::value(&bin_dir)->required())("target", po::value(&target))(
        "workers", po::value(&workers))("records", po::value(&records))("keys", po::value(&keys))(
        "latency", po::bool_switch(&latency))("rate", po::value(&rate))("seconds", po::value(&seconds))(
        "dir", po::value(&dir));
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
    std::mt19937_64 rng(42);
    std::uint64_t seq = 0;
    std::vector<record> batch;
    if (!latency) {
        for (std::uint64_t done = 0; done < records; done += 1000) {
            fill_batch(batch, std::min<std::uint64_t>(1000, records - done), rng, keys, seq);
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
    auto sink = start_child("syncline-sink", "sink", {"--state", state, "--pipeline", "bench", "--acks", acks, "--control", control});
    std::vector<child_process> worker_procs;
    for (unsigned i = 0; i < workers; ++i)
        worker_procs.push_back(start_child("syncline-worker", "worker-" + std::to_string(i + 1),
                                           {"--target", target, "--pipeline", "bench", "--work", work, "--acks", acks}));
    auto ventilator = start_child("syncline-ventilator", "ventilator",
                                  {"--log", log_dir, "--pipeline", "bench", "--work", work, "--control", control});

    std::unique_ptr<store::state_store> reader;
    auto open_reader = [&] {
        while (!reader) {
            auto r = store::state_store::open_reader(state, "bench");
            if (r.ok()) reader = std::move(r.value());
            else std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    };

    std::string result_line;
    if (!latency) {
        open_reader();
        while (committed(reader.get()) < records) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const double secs = std::chrono::duration<double>(steady::now() - began).count();
        char line[256];
        std::snprintf(line, sizeof line, "| %s | %u | %llu | %.2f | %.0f |", target.substr(0, target.find(':') + 1).c_str(),
                      workers, static_cast<unsigned long long>(records), secs, records / secs);
        result_line = line;
    } else {
        open_reader();
        // Offered load: batches of 100 records at `rate` records/s; latency per batch.
        const std::size_t batch_size = 100;
        const auto interval = std::chrono::duration<double>(batch_size / rate);
        std::vector<std::pair<std::uint64_t, steady::time_point>> pending;
        std::vector<double> latencies_ms;
        const auto end = steady::now() + std::chrono::duration<double>(seconds);
        auto next = steady::now();
        while (steady::now() < end || !pending.empty()) {
            if (steady::now() >= next && steady::now() < end) {
                fill_batch(batch, batch_size, rng, keys, seq);
                auto appended = (*log)->append(batch);
                if (!appended.ok()) return 1;
                pending.emplace_back(appended->last, steady::now());
                next += std::chrono::duration_cast<steady::duration>(interval);
            }
            const auto c = committed(reader.get());
            const auto now = steady::now();
            while (!pending.empty() && pending.front().first <= c) {
                latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - pending.front().second).count());
                pending.erase(pending.begin());
            }
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        std::sort(latencies_ms.begin(), latencies_ms.end());
        auto pct = [&](double p) { return latencies_ms[std::min(latencies_ms.size() - 1, static_cast<std::size_t>(p * latencies_ms.size()))]; };
        char line[256];
        std::snprintf(line, sizeof line, "| %s | %u | %.0f | %zu | %.1f | %.1f |", target.substr(0, target.find(':') + 1).c_str(),
                      workers, rate, latencies_ms.size(), pct(0.50), pct(0.99));
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
    fs::remove_all(dir);
    return 0;
}
