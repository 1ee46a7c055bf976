// sqlite_baseline: the SQLite target's own limit. One process, one connection, no ZeroMQ, no
// log: it writes the rows the pipeline writes (the standard workload of bench/workload.h, offsets
// 1..N) into the same schema with the same pragmas and the same fenced upsert as
// targets/sqlite_target.cc, in transactions of a given size, and reports rows/s.
//
//   sqlite_baseline [--records N] [--keys K] [--tx SIZE[,SIZE...]] [--sync full|normal|off]
//                   [--wal-autocheckpoint PAGES]   (default 100000, the target's default)
//                   [--dir DIR]
//
// Default cases: 1000-row transactions with synchronous=FULL (what each pipeline worker does
// per batch), then bigger transactions and one single transaction (the fastest SQLite allows
// for this schema and durability: one WAL fsync for everything). Each case starts from an
// empty database file. Output: a markdown table.
#include <sqlite3.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "bench/workload.h"
#include "targets/sqlite_target.h"

namespace {

using namespace syncline;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "sqlite_baseline: %s\n", what.c_str());
    std::exit(1);
}

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = std::string(sql) + ": " + (err ? err : "?");
        sqlite3_free(err);
        die(msg);
    }
}

struct result_row {
    std::size_t tx = 0;
    std::string sync;
    double seconds = 0, cpu = 0;
    std::size_t transactions = 0;
};

// The DDL, pragmas and statement of sqlite_target itself (targets::sqlite_schema); collection
// names here need no quoting beyond the double quotes.
result_row run_case(const std::vector<record>& rows, std::size_t tx, const std::string& sync, unsigned long checkpoint,
                    const std::string& path) {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK)
        die("open " + path);
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, ("PRAGMA synchronous=" + sync).c_str());
    exec(db, targets::sqlite_schema::tuning_pragmas(static_cast<unsigned>(checkpoint)).c_str());

    std::map<std::string, sqlite3_stmt*, std::less<>> stmts;
    auto statement = [&](const std::string& collection) {
        auto it = stmts.find(collection);
        if (it != stmts.end()) return it->second;
        const std::string q = "\"" + collection + "\"";
        exec(db, targets::sqlite_schema::create_table(q).c_str());
        const std::string sql = targets::sqlite_schema::fenced_upsert(q);
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
            die(std::string("prepare: ") + sqlite3_errmsg(db));
        stmts.emplace(collection, s);
        return s;
    };

    result_row out{tx, sync, 0, 0, 0};
    const auto t0 = steady::now();
    const double c0 = process_cpu_seconds();
    for (std::size_t i = 0; i < rows.size(); i += tx) {
        exec(db, "BEGIN IMMEDIATE");
        const std::size_t end = std::min(rows.size(), i + tx);
        for (std::size_t j = i; j < end; ++j) {
            const record& r = rows[j];
            sqlite3_stmt* s = statement(r.collection);
            sqlite3_bind_text64(s, 1, r.key.data(), r.key.size(), SQLITE_STATIC, SQLITE_UTF8);
            if (r.operation == op::del) sqlite3_bind_null(s, 2);
            else sqlite3_bind_text64(s, 2, r.value.data(), r.value.size(), SQLITE_STATIC, SQLITE_UTF8);
            sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(r.offset));
            sqlite3_bind_int(s, 4, r.operation == op::del ? 1 : 0);
            sqlite3_bind_int64(s, 5, r.ts_ms);
            if (sqlite3_step(s) != SQLITE_DONE) die(std::string("upsert: ") + sqlite3_errmsg(db));
            sqlite3_reset(s);
        }
        exec(db, "COMMIT");
        ++out.transactions;
    }
    out.seconds = std::chrono::duration<double>(steady::now() - t0).count();
    out.cpu = process_cpu_seconds() - c0;
    for (auto& [name, s] : stmts) sqlite3_finalize(s);
    sqlite3_close_v2(db);
    return out;
}

std::vector<std::size_t> parse_sizes(const std::string& list) {
    std::vector<std::size_t> out;
    for (std::size_t pos = 0; pos <= list.size();) {
        std::size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        const auto n = std::strtoull(list.substr(pos, comma - pos).c_str(), nullptr, 10);
        if (n == 0) die("--tx wants positive sizes, e.g. 1000,10000");
        out.push_back(n);
        pos = comma + 1;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t records = 1'000'000, keys = 100'000;
    std::vector<std::size_t> sizes;  // Empty: the default cases.
    std::string sync = "full", dir;
    unsigned long checkpoint = 100'000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--records") records = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--keys") keys = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--tx") sizes = parse_sizes(argv[i + 1]);
        else if (a == "--sync") sync = argv[i + 1];
        else if (a == "--dir") dir = argv[i + 1];
        else if (a == "--wal-autocheckpoint") checkpoint = std::strtoul(argv[i + 1], nullptr, 10);
        else die("unknown option " + a + " (see the usage at the top of bench/sqlite_baseline.cc)");
    }
    if (argc % 2 == 0) die("every option takes a value");
    if (records == 0 || keys == 0) die("--records and --keys must be positive");
    if (sync != "full" && sync != "normal" && sync != "off") die("--sync is full, normal or off");
    if (sizes.empty()) sizes = {1000, 10'000, 100'000, records};

    const bool own_dir = dir.empty();
    if (own_dir) {
        std::string templ = (fs::temp_directory_path() / "syncline-sqlite-baseline-XXXXXX").string();
        if (::mkdtemp(templ.data()) == nullptr) die("mkdtemp failed");
        dir = templ;
    }
    fs::create_directories(dir);

    // The rows the pipeline writes: the log's offsets are 1..N in append order.
    std::vector<record> rows;
    {
        bench::workload gen(keys);
        gen.fill(rows, records);
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
        for (std::size_t i = 0; i < rows.size(); ++i) {
            rows[i].offset = i + 1;
            rows[i].ts_ms = now_ms;
        }
    }
    std::fprintf(stderr, "sqlite_baseline: %zu rows, %zu keys, synchronous=%s, wal_autocheckpoint=%lu, SQLite %s, dir %s\n",
                 records, keys, sync.c_str(), checkpoint, sqlite3_libversion(), dir.c_str());

    std::printf("| rows per transaction | synchronous | transactions | seconds | rows/s | CPU µs/row |\n"
                "|---:|---|---:|---:|---:|---:|\n");
    for (std::size_t tx : sizes) {
        const auto r = run_case(rows, std::min(tx, records), sync, checkpoint, dir + "/baseline.db");
        std::printf("| %zu%s | %s | %zu | %.2f | %.0f | %.2f |\n", r.tx, r.tx >= records ? " (one transaction)" : "",
                    r.sync.c_str(), r.transactions, r.seconds, static_cast<double>(records) / r.seconds,
                    r.cpu * 1e6 / static_cast<double>(records));
        std::fflush(stdout);
    }
    if (own_dir) fs::remove_all(dir);
    return 0;
}
