// latency_floor: the commit-latency floor of syncline's design without syncline, measured in the
// same run as pipeline_bench --latency (docs/benchmarks.md "Commit latency (issue 16)"): a hand-
// written loop with the same two synced writes in series and one ZeroMQ hop between them.
//   producer thread: every ~1 ms appends the records due at `rate` to a change log (one synced
//                    append, store::change_log, the workload of bench/workload.h), then PUSHes
//                    the append's last offset over ipc;
//   committer thread: PULLs, drains what else is queued, and commits the highest offset in one
//                    synced write (store::state_store::commit, the sink's group commit).
// Latency per append: append call -> the commit covering it returned (no ventilator, worker or
// sink hops, no polling). What pipeline_bench adds on top of this is syncline's own cost.
// Usage: latency_floor [--rate R] [--seconds S] [--dir D]
// Output: one markdown row | offered rec/s | achieved | appends | commits | p50 ms | p99 ms | max ms | append p99 ms |
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/program_options.hpp>
#include <zmq.hpp>

#include "bench/workload.h"
#include "store/change_log.h"
#include "store/state_store.h"

namespace fs = std::filesystem;
using namespace syncline;
using steady = std::chrono::steady_clock;

int main(int argc, char** argv) {
    namespace po = boost::program_options;
    double rate = 100'000, seconds = 10;
    std::string dir;
    po::options_description desc("latency_floor");
    desc.add_options()("rate", po::value(&rate))("seconds", po::value(&seconds))("dir", po::value(&dir));
    try {
        po::variables_map vm;
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "latency_floor: %s (see the usage at the top of bench/latency_floor.cc)\n", e.what());
        return 2;
    }
    if (dir.empty()) dir = fs::temp_directory_path() / ("syncline-latency-floor-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto log = store::change_log::open_writer({.path = dir + "/log"});
    auto state = store::state_store::open({.root = dir + "/state", .pipeline = "floor"});
    if (!log.ok() || !state.ok()) {
        std::fprintf(stderr, "latency_floor: cannot open the stores in %s\n", dir.c_str());
        return 1;
    }
    zmq::context_t context(1);
    const std::string endpoint = "ipc://" + dir + "/floor.sock";
    zmq::socket_t pull(context, zmq::socket_type::pull);
    pull.bind(endpoint);

    std::mutex mu;
    std::map<std::uint64_t, steady::time_point> started;  // Last offset of an append -> its call time.
    std::vector<double> latencies_ms, append_ms;
    std::atomic<bool> producing{true};
    std::atomic<std::uint64_t> last_appended{0};
    std::uint64_t offered = 0, commits = 0;

    std::thread producer([&] {
        zmq::socket_t push(context, zmq::socket_type::push);
        push.connect(endpoint);
        bench::workload gen(100'000);
        std::vector<record> batch;
        const auto t0 = steady::now();
        const auto end = t0 + std::chrono::duration<double>(seconds);
        for (auto now = steady::now(); now < end; now = steady::now()) {
            const auto due = static_cast<std::uint64_t>(rate * std::chrono::duration<double>(now - t0).count());
            if (due > offered) {
                gen.fill(batch, static_cast<std::size_t>(std::min<std::uint64_t>(due - offered, 100'000)));
                auto appended = (*log)->append(batch);
                if (!appended.ok()) break;
                offered += batch.size();
                {
                    std::lock_guard lock(mu);
                    append_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - now).count());
                    started.emplace(appended->last, now);
                }
                last_appended = appended->last;
                push.send(zmq::buffer(&appended->last, sizeof appended->last));
            }
            std::this_thread::sleep_until(now + std::chrono::milliseconds(1));
        }
        producing = false;
    });

    std::uint64_t committed = 0;
    while (producing || committed < last_appended) {
        zmq::pollitem_t item{pull.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, std::chrono::milliseconds(100));
        std::uint64_t high = committed;
        zmq::message_t msg;
        while (pull.recv(msg, zmq::recv_flags::dontwait))
            if (msg.size() == sizeof(std::uint64_t)) high = std::max(high, *msg.data<std::uint64_t>());
        if (high == committed) continue;
        if (!(*state)->commit(high).ok()) return 1;
        ++commits;
        committed = high;
        const auto now = steady::now();
        std::lock_guard lock(mu);
        for (auto it = started.begin(); it != started.end() && it->first <= committed; it = started.erase(it))
            latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
    }
    producer.join();
    if (latencies_ms.empty()) return std::fprintf(stderr, "latency_floor: nothing committed\n"), 1;
    std::sort(latencies_ms.begin(), latencies_ms.end());
    std::sort(append_ms.begin(), append_ms.end());
    auto pct = [](const std::vector<double>& v, double p) {
        return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
    };
    std::printf("| %.0f | %.0f | %zu | %llu | %.1f | %.1f | %.1f | %.1f |\n", rate, offered / seconds,
                latencies_ms.size(), static_cast<unsigned long long>(commits), pct(latencies_ms, 0.5),
                pct(latencies_ms, 0.99), latencies_ms.back(), pct(append_ms, 0.99));
    pull.close();
    state->reset();
    log->reset();
    fs::remove_all(dir);
    return 0;
}
