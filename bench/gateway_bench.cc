// gateway_bench: ingest throughput and ack latency of the gateway (gateway/gateway.h), run in this
// process on a fresh log, with N producer threads over ZeroMQ ipc, ZeroMQ tcp and HTTP, each
// sending requests of B records and waiting for each durable ack (one request in flight per
// producer; with --window W, ZeroMQ producers keep up to W requests in flight with
// client::send/collect). Prints one Markdown row per configuration:
//   | transport | producers | batch | records/s | acks/s | ack p50 ms | ack p99 ms |
// usage: gateway_bench [--seconds S] [--dir DIR] [--transports zmq-ipc,zmq-tcp,http]
//                      [--producers 1,4,16] [--batches 1,100,1000] [--no-sync] [--rate R] [--window W]
// --server-stats: after each configuration, the gateway's own histograms (from its /metrics):
// synced commit duration and server-side ack time (arrival to answer), p50/p99 as bucket bounds,
// on stderr. Tells a stall in the commit (disk, RocksDB) from one outside it (scheduling).
// --rate R: open loop; the producers together offer R records/s (each request sent at its
// scheduled time, or at once when late) and latency counts from the scheduled time, so a stall
// shows in p99 instead of slowing the offered load (no coordinated omission).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "common/log.h"
#include "gateway/client.h"
#include "gateway/gateway.h"

namespace {

using namespace syncline;
using clock_type = std::chrono::steady_clock;

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');) out.push_back(item);
    return out;
}

struct run_result {
    std::uint64_t records = 0, requests = 0, errors = 0;
    double seconds = 0;
    std::vector<double> latencies_ms;
};

std::string record_json(int producer, std::uint64_t n) {
    return "{\"collection\":\"users\",\"key\":\"p" + std::to_string(producer) + "-" + std::to_string(n) +
           "\",\"value\":{\"id\":" + std::to_string(n) + ",\"name\":\"user " + std::to_string(n) +
           "\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}\n";
}

// "le" bound (ms) under which fraction p of a Prometheus histogram's observations fall.
std::string histogram_quantile(const std::string& text, const std::string& name, double p) {
    std::vector<std::pair<double, double>> buckets;  // le seconds, cumulative count
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const std::string prefix = name + "_bucket{le=\"";
        if (!line.starts_with(prefix)) continue;
        const auto close = line.find('"', prefix.size());
        const std::string le = line.substr(prefix.size(), close - prefix.size());
        const double count = std::stod(line.substr(line.rfind(' ') + 1));
        buckets.emplace_back(le == "+Inf" ? 1e9 : std::stod(le), count);
    }
    if (buckets.empty() || buckets.back().second == 0) return "-";
    const double want = p * buckets.back().second;
    for (const auto& [le, count] : buckets)
        if (count >= want) {
            if (le >= 1e9) return "> " + std::to_string(buckets[buckets.size() - 2].first * 1000) + " ms";
            char out[32];
            std::snprintf(out, sizeof out, "<= %.1f ms", le * 1000);
            return out;
        }
    return "-";
}

void print_server_stats(const std::string& address_file) {
    std::ifstream in(address_file);
    std::string address;
    std::getline(in, address);
    if (address.empty()) return;
    httplib::Client c(address);
    auto res = c.Get("/metrics");
    if (!res || res->status != 200) return;
    const std::string& t = res->body;
    std::fprintf(stderr, "  server: commit p50 %s p99 %s; ack p50 %s p99 %s\n",
                 histogram_quantile(t, "syncline_gateway_commit_duration_seconds", 0.5).c_str(),
                 histogram_quantile(t, "syncline_gateway_commit_duration_seconds", 0.99).c_str(),
                 histogram_quantile(t, "syncline_gateway_ack_duration_seconds", 0.5).c_str(),
                 histogram_quantile(t, "syncline_gateway_ack_duration_seconds", 0.99).c_str());
}

run_result run_config(const std::string& transport, int producers, int batch, double seconds, const std::string& dir,
                      bool sync, double rate, unsigned window, bool server_stats) {
    std::filesystem::remove_all(dir);
    gateway::gateway_options o;
    o.log = dir + "/log";
    o.sync = sync;
    o.http_threads = std::max(producers, 4);
    if (server_stats) {
        o.metrics.listen = "127.0.0.1:0";
        o.metrics.address_file = dir + "/metrics.addr";
    }
    if (transport == "http") {
        o.zmq_listen.clear();
        o.http_listen = "127.0.0.1:0";
    } else if (transport == "zmq-tcp") {
        o.zmq_listen = "tcp://127.0.0.1:*";
    } else {
        o.zmq_listen = "ipc://" + dir + "/gw.sock";
    }
    std::filesystem::create_directories(dir);
    stop_flag stop;
    status gateway_status;
    std::thread gw([&] { gateway_status = gateway::run(o, stop); });
    std::optional<gateway::endpoints_info> where;
    while (!(where = gateway::read_endpoints_file(o.log))) std::this_thread::sleep_for(std::chrono::milliseconds(5));

    std::atomic<bool> go{false}, done{false};
    // Open loop: each producer sends a request every `interval` (0: closed loop, as fast as acks come).
    const auto interval = rate > 0 ? std::chrono::duration_cast<clock_type::duration>(
                                         std::chrono::duration<double>(producers * batch / rate))
                                   : clock_type::duration::zero();
    const auto start_at = clock_type::now() + std::chrono::milliseconds(200);
    std::vector<run_result> per(static_cast<std::size_t>(producers));
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            run_result& r = per[static_cast<std::size_t>(p)];
            std::uint64_t n = 0;
            if (transport == "http") {
                httplib::Client c(where->http);
                c.set_read_timeout(30, 0);
                c.set_tcp_nodelay(true);
                while (!go) std::this_thread::yield();
                std::string body;
                auto scheduled = start_at + interval * p / producers;
                while (!done) {
                    body.clear();
                    for (int i = 0; i < batch; ++i) body += record_json(p, n++);
                    if (interval.count() > 0) std::this_thread::sleep_until(scheduled);
                    const auto t0 = interval.count() > 0 ? scheduled : clock_type::now();
                    scheduled += interval;
                    auto res = c.Post("/v1/changes", body, "application/x-ndjson");
                    const auto t1 = clock_type::now();
                    if (!res || res->status != 200) {
                        if (r.errors++ < 3)
                            std::fprintf(stderr, "http error: %s\n",
                                         res ? (std::to_string(res->status) + " " + res->body).c_str()
                                             : httplib::to_string(res.error()).c_str());
                        continue;
                    }
                    r.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                    r.records += static_cast<std::uint64_t>(batch);
                    ++r.requests;
                }
            } else {
                gateway::client_options co;
                co.endpoint = where->zmq.front();
                co.producer = "bench-" + std::to_string(p);
                co.first_sequence = 1;
                co.window = window;
                auto c = gateway::client::connect(co);
                if (!c.ok()) {
                    ++r.errors;
                    return;
                }
                std::vector<record> records(static_cast<std::size_t>(batch));
                std::vector<clock_type::time_point> sent_at;  // By sequence - 1.
                auto take = [&](std::size_t max_unacked) {
                    auto acks = (*c)->collect(max_unacked);
                    if (!acks.ok()) {
                        if (r.errors++ < 3) std::fprintf(stderr, "zmq error: %s\n", acks.get_status().message().c_str());
                        return;
                    }
                    const auto t1 = clock_type::now();
                    for (const auto& a : *acks) {
                        if (a.refused) {
                            ++r.errors;
                            continue;
                        }
                        r.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - sent_at[a.sequence - 1]).count());
                        r.records += a.count;
                        ++r.requests;
                    }
                };
                while (!go) std::this_thread::yield();
                auto scheduled = start_at + interval * p / producers;
                while (!done) {
                    for (auto& rec : records) {
                        rec.collection = "users";
                        rec.key = "p" + std::to_string(p) + "-" + std::to_string(n);
                        rec.value = "{\"id\":" + std::to_string(n) + ",\"name\":\"user " + std::to_string(n) +
                                    "\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
                        ++n;
                    }
                    if (window > 1) {
                        sent_at.push_back(clock_type::now());
                        auto sent = (*c)->send(records);
                        if (!sent.ok()) {
                            if (r.errors++ < 3) std::fprintf(stderr, "zmq error: %s\n", sent.get_status().message().c_str());
                            sent_at.pop_back();
                            continue;
                        }
                        take(window);
                        continue;
                    }
                    if (interval.count() > 0) std::this_thread::sleep_until(scheduled);
                    const auto t0 = interval.count() > 0 ? scheduled : clock_type::now();
                    scheduled += interval;
                    auto ack = (*c)->publish(records);
                    const auto t1 = clock_type::now();
                    if (!ack.ok()) {
                        if (r.errors++ < 3) std::fprintf(stderr, "zmq error: %s\n", ack.get_status().message().c_str());
                        continue;
                    }
                    r.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                    r.records += static_cast<std::uint64_t>(batch);
                    ++r.requests;
                }
                if (window > 1) take(0);
            }
        });
    }
    std::this_thread::sleep_until(start_at);
    const auto began = clock_type::now();
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    done = true;
    for (auto& t : threads) t.join();
    const double elapsed = std::chrono::duration<double>(clock_type::now() - began).count();
    if (server_stats) print_server_stats(dir + "/metrics.addr");
    stop.request_stop();
    gw.join();

    run_result total;
    total.seconds = elapsed;
    for (auto& r : per) {
        total.records += r.records;
        total.requests += r.requests;
        total.errors += r.errors;
        total.latencies_ms.insert(total.latencies_ms.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    }
    std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
    if (!gateway_status.ok()) std::fprintf(stderr, "gateway: %s\n", gateway_status.message().c_str());
    return total;
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const std::size_t i = std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())));
    return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 3;
    std::string dir = "/tmp/syncline-gateway-bench";
    std::string transports = "zmq-ipc,zmq-tcp,http", producers = "1,4,16", batches = "1,100,1000";
    bool sync = true;
    double rate = 0;
    unsigned window = 1;
    bool server_stats = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--seconds") seconds = std::stod(next());
        else if (a == "--dir") dir = next();
        else if (a == "--transports") transports = next();
        else if (a == "--producers") producers = next();
        else if (a == "--batches") batches = next();
        else if (a == "--no-sync") sync = false;
        else if (a == "--rate") rate = std::stod(next());
        else if (a == "--window") window = static_cast<unsigned>(std::stoul(next()));
        else if (a == "--server-stats") server_stats = true;
        else {
            std::fprintf(stderr, "usage: gateway_bench [--seconds S] [--dir DIR] [--transports LIST] [--producers LIST] "
                                 "[--batches LIST] [--no-sync] [--rate RECORDS_PER_S] [--window W] [--server-stats]\n");
            return 2;
        }
    }
    syncline::set_log_level(syncline::log_level::warn);
    std::printf("| transport | producers | batch | records/s | acks/s | ack p50 ms | ack p99 ms | errors |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    if (window > 1 && rate > 0) {
        std::fprintf(stderr, "--window and --rate do not go together (the open loop sends one request at a time)\n");
        return 2;
    }
    for (const auto& t : split(transports))
        for (const auto& p : split(producers))
            for (const auto& b : split(batches)) {
                const auto r = run_config(t, std::stoi(p), std::stoi(b), seconds, dir, sync, rate, t == "http" ? 1 : window, server_stats);
                std::printf("| %s | %s | %s | %.0f | %.0f | %.2f | %.2f | %llu |\n", t.c_str(), p.c_str(), b.c_str(),
                            static_cast<double>(r.records) / r.seconds, static_cast<double>(r.requests) / r.seconds,
                            percentile(r.latencies_ms, 0.50), percentile(r.latencies_ms, 0.99),
                            static_cast<unsigned long long>(r.errors));
                std::fflush(stdout);
            }
    std::filesystem::remove_all(dir);
    return 0;
}
