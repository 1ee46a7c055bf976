// mariadb_baseline: the MySQL/MariaDB target's own limit. One process, one connection, no
// ZeroMQ, no log: it writes the rows the pipeline writes (the standard workload of
// bench/workload.h, offsets 1..N) into the same schema as targets/mysql_target.cc (JSON values,
// fenced upsert, tombstones), in transactions of a given size, two ways:
//   load:   LOAD DATA LOCAL INFILE (streamed from memory) into a temporary staging table, then
//           one INSERT ... SELECT ... ON DUPLICATE KEY UPDATE with the fence per collection, all
//           in one transaction (COPY + merge, as PostgreSQL's baseline does it).
//   target: mysql_target::deliver itself, one call per transaction, outside the pipeline (what
//           the target does: START TRANSACTION; one multi-row INSERT ... ON DUPLICATE KEY UPDATE
//           with the fence per collection; COMMIT, sent as one multi-statement query).
// Each case starts from empty tables (a new database). Output: a markdown table.
//
//   mariadb_baseline --uri mysql://USER@HOST:PORT/DB?password_file=F [--records N] [--keys K]
//                    [--tx SIZE[,SIZE...]] [--modes load,target]
#include <mysql.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/workload.h"
#include "targets/target.h"

namespace {

using namespace syncline;
using steady = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "mariadb_baseline: %s\n", what.c_str());
    std::exit(1);
}

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void exec(MYSQL* c, const std::string& sql) {
    if (mysql_real_query(c, sql.data(), sql.size()) != 0) die(sql.substr(0, 80) + ": " + mysql_error(c));
    do {
        if (MYSQL_RES* r = mysql_store_result(c)) mysql_free_result(r);
    } while (mysql_next_result(c) == 0);
    if (mysql_errno(c) != 0) die(sql.substr(0, 80) + ": " + mysql_error(c));
}

const char* const collections[] = {"accounts", "orders", "events"};

// The target's fence (mysql_target.cc upsert_tail): `offset` last, MariaDB assigns left to right.
constexpr const char* fence =
    " ON DUPLICATE KEY UPDATE"
    " `value` = IF(`offset` < VALUES(`offset`), VALUES(`value`), `value`),"
    " `deleted` = IF(`offset` < VALUES(`offset`), VALUES(`deleted`), `deleted`),"
    " `updated_at` = IF(`offset` < VALUES(`offset`), VALUES(`updated_at`), `updated_at`),"
    " `offset` = IF(`offset` < VALUES(`offset`), VALUES(`offset`), `offset`)";

// LOAD DATA LOCAL INFILE reads from this buffer instead of a file (mysql_set_local_infile_handler).
struct infile {
    const std::string* data = nullptr;
    std::size_t at = 0;
};
int infile_init(void** ptr, const char*, void* user) {
    auto* f = static_cast<infile*>(user);
    f->at = 0;
    *ptr = f;
    return 0;
}
int infile_read(void* ptr, char* buf, unsigned int len) {
    auto* f = static_cast<infile*>(ptr);
    const std::size_t n = std::min<std::size_t>(len, f->data->size() - f->at);
    std::memcpy(buf, f->data->data() + f->at, n);
    f->at += n;
    return static_cast<int>(n);
}
void infile_end(void*) {}
int infile_error(void*, char* msg, unsigned int len) {
    std::snprintf(msg, len, "in-memory infile");
    return 0;
}

// Tab-separated, LOAD DATA's default escapes (backslash, tab, newline); \N is NULL.
void append_field(std::string& out, std::string_view s) {
    for (char ch : s) {
        switch (ch) {
            case '\\': out += "\\\\"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\0': out += "\\0"; break;
            default: out += ch;
        }
    }
}

void write_load(MYSQL* c, const std::string& db, const std::vector<record>& rows, std::size_t begin, std::size_t end,
                std::string& buf, infile& source) {
    buf.clear();
    for (std::size_t i = begin; i < end; ++i) {
        const record& r = rows[i];
        append_field(buf, r.collection);
        buf += '\t';
        append_field(buf, r.key);
        buf += '\t';
        if (r.operation == op::del) buf += "\\N";
        else append_field(buf, r.value);
        buf += '\t' + std::to_string(r.offset) + (r.operation == op::del ? "\t1\t" : "\t0\t") + std::to_string(r.ts_ms) + '\n';
    }
    source.data = &buf;
    // The staging columns have names of their own: the fence's bare `offset` must mean the table's.
    std::string sql = "START TRANSACTION; LOAD DATA LOCAL INFILE 'rows' INTO TABLE syncline_stage (c, k, v, o, del, ts);";
    for (const char* collection : collections)
        sql += std::string("INSERT INTO `") + db + "`.`" + collection +
               "` (`key`, `value`, `offset`, `deleted`, `updated_at`) SELECT k, v, o, del, FROM_UNIXTIME(ts / 1000)"
               " FROM syncline_stage WHERE c = '" + collection + "' ORDER BY o" + fence + ";";
    sql += "DELETE FROM syncline_stage; COMMIT";
    exec(c, sql);
}

struct result_row {
    std::string mode;
    std::size_t tx = 0, transactions = 0;
    double seconds = 0, cpu = 0;
};

result_row run_case(MYSQL* c, const std::string& uri, const std::vector<record>& rows, const std::string& mode,
                    std::size_t tx, int n) {
    const std::string db = "baseline_" + std::to_string(n);
    exec(c, "DROP DATABASE IF EXISTS " + db + "; CREATE DATABASE " + db);
    for (const char* collection : collections)
        exec(c, "CREATE TABLE `" + db + "`.`" + collection +
                    "` (`key` VARBINARY(3072) NOT NULL PRIMARY KEY, `value` JSON NULL, `offset` BIGINT UNSIGNED NOT NULL,"
                    " `deleted` BOOLEAN NOT NULL DEFAULT FALSE, `updated_at` DATETIME(3) NULL)"
                    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    exec(c, "CREATE TEMPORARY TABLE IF NOT EXISTS syncline_stage (c VARCHAR(64), k VARBINARY(3072), v LONGTEXT,"
            " o BIGINT UNSIGNED, del BOOLEAN, ts BIGINT) ENGINE=InnoDB");
    result_row out{mode, tx, 0, 0, 0};
    std::string buf;
    infile source;
    mysql_set_local_infile_handler(c, infile_init, infile_read, infile_end, infile_error, &source);
    std::unique_ptr<targets::target> target;
    std::vector<record_view> views;
    if (mode == "target") {
        // The URI's database is replaced by this case's one.
        const auto slash = uri.find('/', uri.find("://") + 3);
        const auto query = uri.find('?', slash);
        const std::string case_uri = uri.substr(0, slash + 1) + db + (query == std::string::npos ? "" : uri.substr(query));
        auto t = targets::open_target(case_uri);
        if (!t.ok()) die(t.get_status().message());
        target = std::move(t.value());
        views.reserve(tx);
    }
    const auto t0 = steady::now();
    const double c0 = process_cpu_seconds();
    for (std::size_t i = 0; i < rows.size(); i += tx) {
        const std::size_t end = std::min(rows.size(), i + tx);
        if (mode == "load") {
            write_load(c, db, rows, i, end, buf, source);
        } else {
            views.clear();
            for (std::size_t j = i; j < end; ++j)
                views.push_back({rows[j].offset, rows[j].ts_ms, rows[j].collection, rows[j].key, rows[j].operation,
                                 rows[j].value, {}});
            auto outcome = target->deliver(views);
            if (!outcome.transient.ok()) die("target deliver failed: " + outcome.transient.message());
            if (!outcome.failures.empty()) die("target refused a row: " + outcome.failures.front().reason);
        }
        ++out.transactions;
    }
    out.seconds = std::chrono::duration<double>(steady::now() - t0).count();
    out.cpu = process_cpu_seconds() - c0;
    target.reset();
    exec(c, "DROP DATABASE " + db);
    return out;
}

std::vector<std::string> split(const std::string& list) {
    std::vector<std::string> out;
    for (std::size_t pos = 0; pos <= list.size();) {
        std::size_t comma = std::min(list.find(',', pos), list.size());
        out.push_back(list.substr(pos, comma - pos));
        pos = comma + 1;
    }
    return out;
}

// mysql://USER@HOST:PORT/DB?password_file=F: the parts the plain client needs.
struct server_address {
    std::string user, host, password, database;
    unsigned port = 3306;
};
server_address parse_uri(const std::string& uri) {
    server_address a;
    const auto scheme = uri.find("://");
    if (scheme == std::string::npos) die("--uri mysql://USER@HOST:PORT/DB?password_file=F");
    const auto at = uri.find('@', scheme);
    const auto slash = uri.find('/', scheme + 3);
    if (at == std::string::npos || slash == std::string::npos || at > slash) die("--uri needs USER@HOST:PORT/DB");
    a.user = uri.substr(scheme + 3, at - scheme - 3);
    std::string hostport = uri.substr(at + 1, slash - at - 1);
    if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
        a.port = static_cast<unsigned>(std::strtoul(hostport.c_str() + colon + 1, nullptr, 10));
        hostport.resize(colon);
    }
    a.host = hostport;
    a.database = uri.substr(slash + 1, uri.find('?', slash) == std::string::npos ? std::string::npos
                                                                                 : uri.find('?', slash) - slash - 1);
    if (auto pf = uri.find("password_file="); pf != std::string::npos) {
        const auto end = uri.find('&', pf);
        std::ifstream in(uri.substr(pf + 14, end == std::string::npos ? std::string::npos : end - pf - 14));
        std::getline(in, a.password);
    }
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t records = 1'000'000, keys = 100'000;
    std::vector<std::size_t> sizes = {1000, 10'000};
    std::vector<std::string> modes = {"load", "target"};
    std::string uri;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--records") records = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--keys") keys = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--uri") uri = argv[i + 1];
        else if (a == "--modes") modes = split(argv[i + 1]);
        else if (a == "--tx") {
            sizes.clear();
            for (const auto& s : split(argv[i + 1])) sizes.push_back(std::strtoull(s.c_str(), nullptr, 10));
        } else die("unknown option " + a + " (see the usage at the top of bench/mariadb_baseline.cc)");
    }
    if (argc % 2 == 0) die("every option takes a value");
    if (records == 0 || keys == 0) die("--records and --keys must be positive");
    for (const auto& m : modes)
        if (m != "load" && m != "target") die("--modes takes load, target");
    for (auto s : sizes)
        if (s == 0) die("--tx wants positive sizes");
    if (uri.empty()) die("--uri mysql://USER@HOST:PORT/DB?password_file=F");

    const server_address addr = parse_uri(uri);
    MYSQL* c = mysql_init(nullptr);
    mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const my_bool local = 1;
    mysql_options(c, MYSQL_OPT_LOCAL_INFILE, &local);
    if (mysql_real_connect(c, addr.host.c_str(), addr.user.c_str(), addr.password.c_str(), addr.database.c_str(), addr.port, nullptr,
                           CLIENT_MULTI_STATEMENTS | CLIENT_LOCAL_FILES) == nullptr)
        die(std::string("connect: ") + mysql_error(c));
    exec(c, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'");

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
    std::fprintf(stderr, "mariadb_baseline: %zu rows, %zu keys, server %s\n", records, keys, mysql_get_server_info(c));
    std::printf("| way | rows per transaction | transactions | seconds | rows/s | client CPU µs/row |\n"
                "|---|---:|---:|---:|---:|---:|\n");
    int n = 0;
    for (std::size_t tx : sizes) {
        for (const auto& mode : modes) {
            const auto r = run_case(c, uri, rows, mode, std::min(tx, records), ++n);
            std::printf("| %s | %zu | %zu | %.2f | %.0f | %.2f |\n", r.mode.c_str(), r.tx, r.transactions, r.seconds,
                        static_cast<double>(records) / r.seconds, r.cpu * 1e6 / static_cast<double>(records));
            std::fflush(stdout);
        }
    }
    mysql_close(c);
    return 0;
}
