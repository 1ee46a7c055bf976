// capture_bench: syncline-capture's throughput next to pg_recvlogical (the source's own limit:
// the same slot type, plugin and publication, output to /dev/null), then the capture latency
// from source commit to durable append at a steady offered rate. Starts its own PostgreSQL 15
// (tests/support/postgres_server.h, wal_level=logical) in a temp dir. Results: docs/benchmarks.md.
// First, the snapshot of a --snapshot-rows table (200,000) while a writer updates, inserts and
// deletes in it: snapshot time, rows/s, and the log's state checked against the table.
//   capture_bench [--snapshot-rows N] [--updates N] [--txn-rows R] [--rate CHANGES_PER_S] [--seconds S]
//                 [--only-snapshot 1] [--rounds K]
#include <libpq-fe.h>
#include <signal.h>

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <atomic>
#include <mutex>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "capture/capture.h"
#include "capture/pg_values.h"
#include "common/codec.h"
#include "common/subprocess.h"
#include "store/change_log.h"
#include "tests/support/harness.h"
#include "tests/support/postgres_server.h"

using namespace syncline;
using namespace std::chrono;

namespace {

void exec(PGconn* c, const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    const auto st = PQresultStatus(r);
    std::string err = PQresultErrorMessage(r);
    PQclear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        std::fprintf(stderr, "%s: %s\n", sql.c_str(), err.c_str());
        std::exit(1);
    }
}

std::string value(PGconn* c, const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return v;
}

// The capture's stored position, read through one tailing reader (opening a reader per poll would
// cost the machine more than the capture's own work).
class position_watch {
public:
    position_watch(std::string dir, std::string slot) : _dir(std::move(dir)), _slot(std::move(slot)) {}
    std::uint64_t get() {
        if (!_log) {
            auto log = store::change_log::open_reader(_dir);
            if (!log.ok()) return 0;
            _log = std::move(*log);
        }
        if (!_log->catch_up().ok()) return 0;
        auto v = _log->get_meta(capture::position_key(_slot));
        return v.ok() && *v ? std::stoull(**v) : 0;
    }

private:
    std::string _dir, _slot;
    std::unique_ptr<store::change_log> _log;
};

std::uint64_t stored_position(const std::string& log_dir, const std::string& slot) {
    auto log = store::change_log::open_reader(log_dir);
    if (!log.ok()) return 0;
    auto v = (*log)->get_meta(capture::position_key(slot));
    return v.ok() && *v ? std::stoull(**v) : 0;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// The log's state (last value per key) of `collection`.
std::map<std::string, std::string> log_state(const std::string& dir, const std::string& collection) {
    std::map<std::string, std::string> state;
    auto log = store::change_log::open_reader(dir);
    if (!log.ok()) return state;
    (void)(*log)->scan(1, SIZE_MAX, SIZE_MAX, [&](std::uint64_t, std::string_view encoded) {
        auto r = codec::decode_record(encoded);
        if (!r.ok() || r->collection != collection) return true;
        if (r->operation == op::del) state.erase(std::string(r->key));
        else state[std::string(r->key)] = std::string(r->value);
        return true;
    });
    return state;
}

// Snapshot of a `rows`-row table while a writer changes it, then streaming: the log must equal the table.
int snapshot_run(syncline::testing::postgres_server& server, const std::string& dir, long rows) {
    PGconn* c = PQconnectdb(server.conninfo().c_str());
    exec(c, "CREATE TABLE big (id int PRIMARY KEY, n int, pad text)");
    exec(c, "INSERT INTO big SELECT g, 0, 'padding-' || g FROM generate_series(1, " + std::to_string(rows) + ") g");
    exec(c, "ANALYZE big");
    std::atomic<bool> stop{false};
    std::atomic<long> writes{0};
    std::thread writer([&] {
        PGconn* w = PQconnectdb(server.conninfo().c_str());
        unsigned long x = 12345;
        while (!stop) {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            const long id = 1 + static_cast<long>((x >> 33) % static_cast<unsigned long>(rows + rows / 4));
            if ((x >> 20) % 5 == 0) exec(w, "DELETE FROM big WHERE id = " + std::to_string(id));
            else exec(w, "INSERT INTO big VALUES (" + std::to_string(id) + ", " + std::to_string(writes.load()) +
                             ", 'w') ON CONFLICT (id) DO UPDATE SET n = excluded.n, pad = 'u'");
            ++writes;
        }
        PQfinish(w);
    });
    while (writes < 50) std::this_thread::sleep_for(milliseconds(1));
    const std::string source = server.uri_without_password("postgres", "publication=ps&slot=snap&create=true&tables=big&password_env=SYNCLINE_BENCH_PGPASSWORD");
    const std::string log_dir = dir + "/snaplog";
    const long writes_at_start = writes;
    const auto t0 = steady_clock::now();
    auto cap = syncline::testing::start("syncline-capture", {"--log", log_dir, "--source", source}, dir + "/snap.log");
    while (syncline::testing::read_file(dir + "/snap.log").find("streaming slot=snap") == std::string::npos) {
        if (!cap.running()) {
            std::fprintf(stderr, "capture exited: %s\n", syncline::testing::read_file(dir + "/snap.log").c_str());
            return 1;
        }
        std::this_thread::sleep_for(milliseconds(5));
    }
    const double snap_s = duration<double>(steady_clock::now() - t0).count();
    const long writes_during = writes - writes_at_start;
    std::this_thread::sleep_for(seconds(1));  // writes go on across the boundary
    stop = true;
    writer.join();
    const auto end = *capture::parse_lsn(value(c, "SELECT pg_current_wal_insert_lsn()"));
    while (stored_position(log_dir, "snap") < end) std::this_thread::sleep_for(milliseconds(20));
    cap.signal(SIGTERM);
    cap.wait_for(seconds(30));
    std::map<std::string, std::string> table;
    PGresult* r = PQexec(c, "SELECT id, n, pad FROM big");
    for (int i = 0; i < PQntuples(r); ++i)
        table[PQgetvalue(r, i, 0)] = std::string("{\"id\":") + PQgetvalue(r, i, 0) + ",\"n\":" + PQgetvalue(r, i, 1) + ",\"pad\":\"" +
                                     PQgetvalue(r, i, 2) + "\"}";
    PQclear(r);
    const auto state = log_state(log_dir, "public.big");
    std::size_t differ = 0;
    for (const auto& [k, v] : table) {
        auto it = state.find(k);
        if (it == state.end() || it->second != v) ++differ;
    }
    for (const auto& [k, v] : state) differ += table.count(k) ? 0 : 1;
    std::printf("snapshot of %ld rows while writing: %.2f s from start to streaming (%.0f rows/s), %ld writes during it, "
                "%ld in all; log state vs table: %zu rows, %zu differences\n",
                rows, snap_s, static_cast<double>(rows) / snap_s, writes_during, writes.load(), table.size(), differ);
    (void)value(c, "SELECT pg_drop_replication_slot('snap')");  // its walsender may still be ending
    PQfinish(c);
    return differ == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    long updates = 1'000'000, txn_rows = 1000, rate = 10'000, seconds_run = 10, snapshot_rows = 200'000, only_snapshot = 0, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const long v = std::atol(argv[i + 1]);
        if (a == "--updates") updates = v;
        else if (a == "--txn-rows") txn_rows = v;
        else if (a == "--rate") rate = v;
        else if (a == "--seconds") seconds_run = v;
        else if (a == "--snapshot-rows") snapshot_rows = v;
        else if (a == "--only-snapshot") only_snapshot = v;
        else if (a == "--rounds") rounds = std::max(1L, v);
    }
    ::setenv("SYNCLINE_BENCH_PGPASSWORD", syncline::testing::postgres_server::password, 1);
    syncline::testing::postgres_server server({"wal_level=logical", "max_wal_senders=10", "max_replication_slots=20",
                                     "max_wal_size=4GB"});
    syncline::testing::temp_dir dir;
    if (snapshot_rows > 0 && snapshot_run(server, dir.path(), snapshot_rows) != 0) return 1;
    if (only_snapshot) return 0;
    PGconn* c = PQconnectdb(server.conninfo().c_str());
    const long keys = std::max(txn_rows, 100'000L);
    exec(c, "CREATE TABLE t (id int PRIMARY KEY, n bigint, pad text)");
    exec(c, "INSERT INTO t SELECT g, 0, 'padding-' || g FROM generate_series(1, " + std::to_string(keys) + ") g");
    exec(c, "CREATE PUBLICATION p FOR TABLE t");
    for (long r = 1; r <= rounds; ++r) {
        exec(c, "SELECT pg_create_logical_replication_slot('peer" + std::to_string(r) + "', 'pgoutput')");
        exec(c, "SELECT pg_create_logical_replication_slot('cap" + std::to_string(r) + "', 'pgoutput')");
    }

    // The backlog both consumers decode: `updates` row updates in transactions of `txn_rows`.
    const auto w0 = steady_clock::now();
    for (long done = 0; done < updates; done += txn_rows) {
        const long first = 1 + (done % keys);
        exec(c, "UPDATE t SET n = n + 1 WHERE id BETWEEN " + std::to_string(first) + " AND " + std::to_string(first + txn_rows - 1));
    }
    const double write_s = duration<double>(steady_clock::now() - w0).count();
    const std::string end_lsn = value(c, "SELECT pg_current_wal_insert_lsn()");
    std::printf("backlog: %ld updates in transactions of %ld rows written in %.2f s, WAL to %s\n", updates, txn_rows, write_s,
                end_lsn.c_str());

    // Rounds, each on fresh slots over the same backlog: the peer (pg_recvlogical to /dev/null, up
    // to the same LSN), then syncline-capture into a fresh (synced) log until its stored position
    // passes that LSN. Back to back, so both meet the same load; the median ratio is the figure.
    const std::string conninfo = server.conninfo();
    const auto target = *capture::parse_lsn(end_lsn);
    std::vector<double> ratios;
    std::string source;
    std::string log_dir;
    std::optional<child_process> cap;
    for (long r = 1; r <= rounds; ++r) {
        const std::string round = std::to_string(r);
        const auto p0 = steady_clock::now();
        spawn_options o;
        o.argv = {"/usr/lib/postgresql/15/bin/pg_recvlogical", "-d", conninfo, "--slot", "peer" + round, "--start", "-o", "proto_version=1",
                  "-o", "publication_names=p", "-f", "/dev/null", "--endpos", end_lsn, "--no-loop"};
        o.stderr_path = dir / "recvlogical.log";
        auto peer = child_process::spawn(o);
        if (!peer.ok() || peer->wait_for(hours(1)) != 0) {
            std::fprintf(stderr, "pg_recvlogical failed: %s\n", syncline::testing::read_file(dir / "recvlogical.log").c_str());
            return 1;
        }
        const double peer_s = duration<double>(steady_clock::now() - p0).count();

        source = server.uri_without_password("postgres", "publication=p&slot=cap" + round + "&password_env=SYNCLINE_BENCH_PGPASSWORD");
        log_dir = dir / ("log" + round);
        const std::string cap_log = dir / ("capture" + round + ".log");
        position_watch watch(log_dir, "cap" + round);
        const auto c0 = steady_clock::now();
        cap.emplace(syncline::testing::start("syncline-capture", {"--log", log_dir, "--source", source}, cap_log));
        while (watch.get() < target) {
            if (!cap->running()) {
                std::fprintf(stderr, "capture exited: %s\n", syncline::testing::read_file(cap_log).c_str());
                return 1;
            }
            std::this_thread::sleep_for(milliseconds(20));
        }
        const double cap_s = duration<double>(steady_clock::now() - c0).count();
        ratios.push_back(cap_s / peer_s);
        std::string load = syncline::testing::read_file("/proc/loadavg");
        load = load.substr(0, load.find(' ', load.find(' ', load.find(' ') + 1) + 1));
        std::printf("round %ld: pg_recvlogical -> /dev/null %.2f s, %.0f changes/s; syncline-capture -> log (synced) %.2f s, "
                    "%.0f changes/s: %.2fx pg_recvlogical's time (load %s)\n",
                    r, peer_s, static_cast<double>(updates) / peer_s, cap_s, static_cast<double>(updates) / cap_s, cap_s / peer_s,
                    load.c_str());
        if (r < rounds) {
            cap->signal(SIGTERM);
            cap->wait_for(seconds(30));
            const std::string text = syncline::testing::read_file(cap_log);
            const auto stopped = text.find("stopped");
            if (stopped != std::string::npos) std::printf("  capture: %s", text.substr(stopped).c_str());
        }
    }
    std::sort(ratios.begin(), ratios.end());
    std::printf("capture / pg_recvlogical time over %ld rounds: median %.2fx, best %.2fx, worst %.2fx\n", rounds,
                ratios[ratios.size() / 2], ratios.front(), ratios.back());
    const std::string slot_name = "cap" + std::to_string(rounds);

    // Latency at a steady rate: transactions of 100 rows, paced; source commit -> append time.
    const auto first_new = [&] {
        auto log = store::change_log::open_reader(log_dir);
        return (*log)->last_offset() + 1;
    }();
    const long per_txn = 100;
    const auto interval = duration<double>(static_cast<double>(per_txn) / static_cast<double>(rate));
    const auto l0 = steady_clock::now();
    long sent = 0;
    for (long i = 0; steady_clock::now() - l0 < seconds(seconds_run); ++i) {
        const auto due = l0 + duration_cast<steady_clock::duration>(interval * static_cast<double>(i));
        std::this_thread::sleep_until(due);
        const long first = 1 + ((i * per_txn) % keys);
        exec(c, "UPDATE t SET n = n + 1 WHERE id BETWEEN " + std::to_string(first) + " AND " + std::to_string(first + per_txn - 1));
        sent += per_txn;
    }
    const std::string last = value(c, "SELECT pg_current_wal_insert_lsn()");
    while (stored_position(log_dir, slot_name) < *capture::parse_lsn(last)) std::this_thread::sleep_for(milliseconds(20));
    cap->signal(SIGTERM);
    cap->wait_for(seconds(30));
    std::vector<double> lat_ms;
    auto log = store::change_log::open_reader(log_dir);
    auto scanned = (*log)->scan(first_new, SIZE_MAX, SIZE_MAX, [&](std::uint64_t, std::string_view encoded) {
        auto r = codec::decode_record(encoded);
        if (!r.ok()) return false;
        for (const auto& [k, v] : r->headers)
            if (k == "commit_time") {
                // "YYYY-MM-DDTHH:MM:SS.ffffffZ" -> ms since the epoch
                std::tm tm{};
                const std::string s(v);
                ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
                const double ms = static_cast<double>(::timegm(&tm)) * 1000.0 + std::stod(s.substr(19, 7)) * 1000.0;
                lat_ms.push_back(static_cast<double>(r->ts_ms) - ms);
            }
        return true;
    });
    (void)scanned.ok();
    std::printf("latency source commit -> durable append, %ld changes/s offered for %ld s (%ld changes): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                rate, seconds_run, sent, percentile(lat_ms, 0.5), percentile(lat_ms, 0.99), percentile(lat_ms, 1.0));

    // End to end: capture + `syncline run` (2 workers) into SQLite, while the writer commits
    // transactions of 100 rows at the offered rate, each also bumping probe.seq; a poller reads
    // the probe row from the SQLite file every 2 ms: latency = seen in the target - source commit.
    exec(c, "CREATE TABLE probe (id int PRIMARY KEY, seq bigint)");
    exec(c, "INSERT INTO probe VALUES (1, 0)");
    exec(c, "ALTER PUBLICATION p ADD TABLE probe");
    const std::string db_path = dir / "target.db";
    auto run = syncline::testing::start(
        "syncline", {"run", "--log", log_dir, "--state", dir / "state", "--pipeline", "bench", "--target", "sqlite:" + db_path,
                     "--workers", "2", "--run-dir", dir / "run", "--capture-source", source, "--capture-args", "--status-interval-ms 1000"},
        dir / "run.log");
    std::vector<steady_clock::time_point> committed_at;
    std::vector<double> e2e_ms;
    std::atomic<bool> polling{true};
    std::atomic<long> seen{0};
    std::vector<steady_clock::time_point> seen_at;
    std::mutex mu;
    std::thread poller([&] {
        sqlite3* db = nullptr;
        while (polling) {
            if (!db && sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
                sqlite3_close(db);
                db = nullptr;
            }
            sqlite3_stmt* st = nullptr;
            if (db && sqlite3_prepare_v2(db, "SELECT value FROM \"public.probe\" WHERE key = '1'", -1, &st, nullptr) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_ROW) {
                const std::string v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
                const auto pos = v.find("\"seq\":");
                const long seq = pos == std::string::npos ? 0 : std::atol(v.c_str() + pos + 6);
                const auto now = steady_clock::now();
                std::lock_guard lock(mu);
                while (seen < seq) {
                    seen_at.push_back(now);
                    ++seen;
                }
            }
            sqlite3_finalize(st);
            std::this_thread::sleep_for(milliseconds(2));
        }
        sqlite3_close(db);
    });
    // Warm up: wait until the pipeline delivered the probe row's first change.
    exec(c, "UPDATE probe SET seq = 1 WHERE id = 1");
    committed_at.push_back(steady_clock::now());
    while (seen < 1) std::this_thread::sleep_for(milliseconds(10));
    const auto e0 = steady_clock::now();
    for (long i = 0; steady_clock::now() - e0 < seconds(seconds_run); ++i) {
        std::this_thread::sleep_until(e0 + duration_cast<steady_clock::duration>(interval * static_cast<double>(i)));
        const long first = 1 + ((i * per_txn) % keys);
        exec(c, "BEGIN; UPDATE t SET n = n + 1 WHERE id BETWEEN " + std::to_string(first) + " AND " +
                    std::to_string(first + per_txn - 2) + "; UPDATE probe SET seq = " +
                    std::to_string(committed_at.size() + 1) + " WHERE id = 1; COMMIT");
        committed_at.push_back(steady_clock::now());
    }
    while (seen < static_cast<long>(committed_at.size())) std::this_thread::sleep_for(milliseconds(10));
    polling = false;
    poller.join();
    for (std::size_t i = 1; i < committed_at.size(); ++i)
        e2e_ms.push_back(duration<double, std::milli>(seen_at[i] - committed_at[i]).count());
    run.signal(SIGTERM);
    run.wait_for(seconds(60));
    std::printf("end to end source commit -> visible in SQLite (capture + run, 2 workers), %ld changes/s offered for %ld s: "
                "p50 %.1f ms, p99 %.1f ms, max %.1f ms (probe polled every 2 ms)\n",
                rate, seconds_run, percentile(e2e_ms, 0.5), percentile(e2e_ms, 0.99), percentile(e2e_ms, 1.0));
    PQfinish(c);
    return 0;
}
