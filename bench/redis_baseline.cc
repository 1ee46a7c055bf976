// redis_baseline: the Redis target's own limit. One process, no ZeroMQ, no log: it writes the rows
// the pipeline writes (the standard workload of bench/workload.h, offsets 1..N) into a running
// Redis in two ways and reports rows/s:
//   plain HSET:   hiredis pipelining HSET <collection>:<key> v .. o .. d .. (the same hash the
//                 target writes, without the fence), N commands per round trip. The fastest a
//                 single client writes these rows.
//   target alone: targets::redis_target::deliver (the fenced EVALSHA chunks) on batches of N,
//                 the target's code without the pipeline around it.
//
//   redis_baseline --uri redis://127.0.0.1:PORT/DB [--records N] [--keys K] [--batch SIZE[,SIZE...]]
//
// FLUSHDB runs before every case (the database in --uri is wiped). Output: a markdown table.
#include <hiredis/hiredis.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/workload.h"
#include "targets/target.h"

namespace {

using namespace syncline;
using steady = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "redis_baseline: %s\n", what.c_str());
    std::exit(1);
}

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct timing {
    double seconds = 0, cpu = 0;
};

// The target's own connection settings come from the URI; the raw client needs host, port, db.
struct raw_client {
    redisContext* c = nullptr;
    explicit raw_client(const std::string& uri) {
        // redis://HOST:PORT/DB
        const auto host_begin = uri.find("://") + 3;
        const auto colon = uri.find(':', host_begin);
        const auto slash = uri.find('/', host_begin);
        if (colon == std::string::npos || slash == std::string::npos) die("--uri must be redis://HOST:PORT/DB");
        const std::string host = uri.substr(host_begin, colon - host_begin);
        c = redisConnect(host.c_str(), std::atoi(uri.substr(colon + 1, slash - colon - 1).c_str()));
        if (c == nullptr || c->err) die("cannot connect to " + uri);
        run({"SELECT", uri.substr(slash + 1)});
    }
    ~raw_client() { redisFree(c); }
    void run(std::initializer_list<std::string> args) {
        std::vector<const char*> a;
        std::vector<std::size_t> l;
        for (const auto& s : args) a.push_back(s.data()), l.push_back(s.size());
        auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(a.size()), a.data(), l.data()));
        if (r == nullptr || r->type == REDIS_REPLY_ERROR) die("command failed");
        freeReplyObject(r);
    }
};

timing plain_hset(raw_client& redis, const std::vector<record>& rows, std::size_t batch) {
    std::vector<std::string> keys;
    keys.reserve(rows.size());
    for (const auto& r : rows) keys.push_back(r.collection + ":" + r.key);
    std::vector<std::string> offsets;
    offsets.reserve(rows.size());
    for (const auto& r : rows) offsets.push_back(std::to_string(r.offset));
    const auto t0 = steady::now();
    const double c0 = process_cpu_seconds();
    for (std::size_t i = 0; i < rows.size(); i += batch) {
        const std::size_t end = std::min(rows.size(), i + batch);
        for (std::size_t j = i; j < end; ++j) {
            const bool tombstone = rows[j].operation == op::del;
            const char* argv[] = {"HSET", keys[j].data(), "v", rows[j].value.data(), "o", offsets[j].data(), "d",
                                  tombstone ? "1" : "0"};
            const std::size_t len[] = {4, keys[j].size(), 1, rows[j].value.size(), 1, offsets[j].size(), 1, 1};
            redisAppendCommandArgv(redis.c, 8, argv, len);
        }
        for (std::size_t j = i; j < end; ++j) {
            void* reply = nullptr;
            if (redisGetReply(redis.c, &reply) != REDIS_OK) die("connection lost");
            freeReplyObject(reply);
        }
    }
    return {std::chrono::duration<double>(steady::now() - t0).count(), process_cpu_seconds() - c0};
}

timing target_alone(const std::string& uri, const std::vector<record>& rows, std::size_t batch) {
    auto t = targets::open_target(uri);
    if (!t.ok()) die(t.get_status().message());
    std::vector<record_view> views;
    views.reserve(rows.size());
    for (const auto& r : rows)
        views.push_back({.offset = r.offset, .ts_ms = r.ts_ms, .collection = r.collection, .key = r.key,
                         .operation = r.operation, .value = r.value, .headers = {}});
    const auto t0 = steady::now();
    const double c0 = process_cpu_seconds();
    for (std::size_t i = 0; i < views.size(); i += batch) {
        auto out = (*t)->deliver(std::span<const record_view>(views).subspan(i, std::min(batch, views.size() - i)));
        if (!out.transient.ok() || !out.failures.empty()) die("deliver failed");
    }
    return {std::chrono::duration<double>(steady::now() - t0).count(), process_cpu_seconds() - c0};
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t records = 1'000'000, keys = 100'000;
    std::vector<std::size_t> batches = {1000, 10'000};
    std::string uri;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--records") records = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--keys") keys = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--uri") uri = argv[i + 1];
        else if (a == "--batch") {
            batches.clear();
            for (const char* p = argv[i + 1]; *p;) {
                char* end = nullptr;
                batches.push_back(std::strtoull(p, &end, 10));
                if (batches.back() == 0) die("--batch wants positive sizes, e.g. 1000,10000");
                p = *end == ',' ? end + 1 : end;
            }
        } else die("unknown option " + a + " (see the usage at the top of bench/redis_baseline.cc)");
    }
    if (argc % 2 == 0 || uri.empty()) die("usage: redis_baseline --uri redis://HOST:PORT/DB [--records N] [--keys K]");

    std::vector<record> rows;
    bench::workload gen(keys);
    gen.fill(rows, records);
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i].offset = i + 1;

    raw_client redis(uri);
    std::printf("| writer | records per round trip | seconds | rows/s | client CPU µs/row |\n|---|---:|---:|---:|---:|\n");
    auto row = [&](const char* what, std::size_t batch, timing t) {
        std::printf("| %s | %zu | %.2f | %.0f | %.2f |\n", what, batch, t.seconds, static_cast<double>(records) / t.seconds,
                    t.cpu * 1e6 / static_cast<double>(records));
        std::fflush(stdout);
    };
    for (std::size_t batch : batches) {
        redis.run({"FLUSHDB"});
        row("plain HSET, pipelined", batch, plain_hset(redis, rows, batch));
        redis.run({"FLUSHDB"});
        row("redis_target::deliver (fenced)", batch, target_alone(uri, rows, batch));
    }
    redis.run({"FLUSHDB"});
    return 0;
}
