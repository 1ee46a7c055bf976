// postgres_baseline: the PostgreSQL target's own limit. One process, one libpq connection, no
// ZeroMQ, no log: it writes the rows the pipeline writes (the standard workload of
// bench/workload.h, offsets 1..N) into the same schema as targets/postgres_target.cc
// (jsonb values, fenced upsert, tombstones), in transactions of a given size, two ways:
//   values: BEGIN; one multi-row INSERT ... VALUES (...), (...) ON CONFLICT ... WHERE fence per
//           collection (text parameters); COMMIT: sent pipelined, one round trip.
//   copy:   BEGIN; COPY into a temporary staging table; one INSERT ... SELECT DISTINCT ON (key)
//           ... ON CONFLICT ... WHERE fence per collection; COMMIT (three round trips).
//   target: postgres_target::deliver itself, 1 call per transaction, outside the pipeline (what
//           the target does: one pipelined transaction, one upsert per collection from binary
//           arrays via unnest).
// Each case starts from empty tables (a new schema). Output: a markdown table.
//
//   postgres_baseline --uri postgresql://USER@HOST:PORT/DB [--records N] [--keys K]
//                     [--tx SIZE[,SIZE...]] [--modes values,copy,target]
#include <libpq-fe.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/workload.h"
#include "targets/target.h"

namespace {

using namespace syncline;
using steady = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "postgres_baseline: %s\n", what.c_str());
    std::exit(1);
}

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void exec(PGconn* c, const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    const auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) die(sql.substr(0, 80) + ": " + PQresultErrorMessage(r));
    PQclear(r);
}

const char* const collections[] = {"accounts", "orders", "events"};

std::string conflict_clause() {
    return " ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\", \"offset\" = excluded.\"offset\","
           " \"deleted\" = excluded.\"deleted\", \"updated_at\" = excluded.\"updated_at\""
           " WHERE t.\"offset\" < excluded.\"offset\"";
}

// Per collection, the last change of each key in rows[begin, end) (what the fence keeps),
// ordered by key (the lock order the target uses too).
std::map<std::string, std::vector<const record*>> latest_per_collection(const std::vector<record>& rows,
                                                                        std::size_t begin, std::size_t end) {
    std::map<std::string, std::map<std::string_view, const record*>> by_key;
    for (std::size_t i = begin; i < end; ++i) by_key[rows[i].collection][rows[i].key] = &rows[i];
    std::map<std::string, std::vector<const record*>> out;
    for (auto& [c, keys] : by_key)
        for (auto& [k, r] : keys) out[c].push_back(r);
    return out;
}

void write_values(PGconn* c, const std::string& schema, const std::vector<record>& rows, std::size_t begin,
                  std::size_t end) {
    const auto latest = latest_per_collection(rows, begin, end);
    std::vector<std::string> storage;
    if (PQenterPipelineMode(c) != 1) die("pipeline mode");
    int sent = 0;
    auto send = [&](const std::string& sql, const std::vector<const char*>& params) {
        if (PQsendQueryParams(c, sql.c_str(), static_cast<int>(params.size()), nullptr, params.data(), nullptr, nullptr,
                              0) != 1)
            die(std::string("send: ") + PQerrorMessage(c));
        ++sent;
    };
    send("BEGIN", {});
    for (const auto& [collection, recs] : latest) {
        std::string sql = "INSERT INTO " + schema + ".\"" + collection +
                          "\" AS t (\"key\", \"value\", \"offset\", \"deleted\", \"updated_at\") VALUES ";
        std::vector<const char*> params;
        storage.clear();
        storage.reserve(recs.size() * 2);
        for (std::size_t i = 0; i < recs.size(); ++i) {
            const record& r = *recs[i];
            const std::size_t p = i * 5;
            sql += (i ? ",($" : "($") + std::to_string(p + 1) + ",$" + std::to_string(p + 2) + "::jsonb,$" +
                   std::to_string(p + 3) + "::int8,$" + std::to_string(p + 4) + "::bool,to_timestamp($" +
                   std::to_string(p + 5) + "::int8 / 1000.0))";
            storage.push_back(std::to_string(r.offset));
            storage.push_back(std::to_string(r.ts_ms));
            params.push_back(r.key.c_str());
            params.push_back(r.operation == op::del ? nullptr : r.value.c_str());
            params.push_back(storage[storage.size() - 2].c_str());
            params.push_back(r.operation == op::del ? "t" : "f");
            params.push_back(storage.back().c_str());
        }
        send(sql + conflict_clause(), params);
    }
    send("COMMIT", {});
    if (PQpipelineSync(c) != 1) die("sync");
    for (int i = 0; i < sent; ++i) {
        PGresult* r = PQgetResult(c);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) die(std::string("values: ") + PQresultErrorMessage(r));
        PQclear(r);
        while (PGresult* more = PQgetResult(c)) PQclear(more);
    }
    PGresult* s = PQgetResult(c);
    if (PQresultStatus(s) != PGRES_PIPELINE_SYNC) die("no sync");
    PQclear(s);
    if (PQexitPipelineMode(c) != 1) die("exit pipeline mode");
}

// COPY text format: backslash escapes for the characters it treats specially.
void append_copy_field(std::string& out, std::string_view text) {
    for (char ch : text) {
        switch (ch) {
            case '\\': out += "\\\\"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            default: out.push_back(ch);
        }
    }
}

void write_copy(PGconn* c, const std::string& schema, const std::vector<record>& rows, std::size_t begin,
                std::size_t end, std::string& buf) {
    exec(c, "BEGIN");
    PGresult* r = PQexec(c, "COPY syncline_stage FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) die(std::string("copy: ") + PQresultErrorMessage(r));
    PQclear(r);
    buf.clear();
    for (std::size_t i = begin; i < end; ++i) {
        const record& rec = rows[i];
        buf += rec.collection;
        buf.push_back('\t');
        append_copy_field(buf, rec.key);
        buf.push_back('\t');
        if (rec.operation == op::del) buf += "\\N";
        else append_copy_field(buf, rec.value);
        buf += '\t' + std::to_string(rec.offset) + (rec.operation == op::del ? "\tt\t" : "\tf\t") +
               std::to_string(rec.ts_ms) + '\n';
    }
    if (PQputCopyData(c, buf.data(), static_cast<int>(buf.size())) != 1 || PQputCopyEnd(c, nullptr) != 1)
        die(std::string("copy data: ") + PQerrorMessage(c));
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) die(std::string("copy end: ") + PQresultErrorMessage(r));
    PQclear(r);
    while (PGresult* more = PQgetResult(c)) PQclear(more);
    std::string merge;
    for (const char* collection : collections)
        merge += std::string("INSERT INTO ") + schema + ".\"" + collection +
                 "\" AS t (\"key\", \"value\", \"offset\", \"deleted\", \"updated_at\")"
                 " SELECT DISTINCT ON (key) key, value::jsonb, \"offset\", deleted, to_timestamp(ts / 1000.0)"
                 " FROM syncline_stage WHERE collection = '" + collection + "' ORDER BY key, \"offset\" DESC" +
                 conflict_clause() + ";";
    exec(c, merge + "COMMIT");  // ON COMMIT DELETE ROWS empties the staging table.
}

struct result_row {
    std::string mode;
    std::size_t tx = 0, transactions = 0;
    double seconds = 0, cpu = 0;
};

result_row run_case(PGconn* c, const std::string& uri, const std::vector<record>& rows, const std::string& mode,
                    std::size_t tx, int n) {
    const std::string schema = "baseline_" + std::to_string(n);
    exec(c, "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema);
    for (const char* collection : collections)
        exec(c, "CREATE TABLE " + schema + ".\"" + collection +
                    "\" (\"key\" text PRIMARY KEY, \"value\" jsonb, \"offset\" bigint NOT NULL,"
                    " \"deleted\" boolean NOT NULL DEFAULT false, \"updated_at\" timestamptz NOT NULL)");
    exec(c, "CREATE TEMP TABLE IF NOT EXISTS syncline_stage (collection text, key text, value text, \"offset\" bigint,"
            " deleted bool, ts bigint) ON COMMIT DELETE ROWS");
    result_row out{mode, tx, 0, 0, 0};
    std::string buf;
    std::unique_ptr<targets::target> target;
    std::vector<record_view> views;
    if (mode == "target") {
        auto t = targets::open_target(uri + "?schema=" + schema);
        if (!t.ok()) die(t.get_status().message());
        target = std::move(t.value());
        views.reserve(tx);
    }
    const auto t0 = steady::now();
    const double c0 = process_cpu_seconds();
    for (std::size_t i = 0; i < rows.size(); i += tx) {
        const std::size_t end = std::min(rows.size(), i + tx);
        if (mode == "copy") {
            write_copy(c, schema, rows, i, end, buf);
        } else if (mode == "target") {
            views.clear();
            for (std::size_t j = i; j < end; ++j)
                views.push_back({rows[j].offset, rows[j].ts_ms, rows[j].collection, rows[j].key, rows[j].operation,
                                 rows[j].value, {}});
            auto outcome = target->deliver(views);
            if (!outcome.transient.ok() || !outcome.failures.empty()) die("target deliver failed");
        } else {
            write_values(c, schema, rows, i, end);
        }
        ++out.transactions;
    }
    out.seconds = std::chrono::duration<double>(steady::now() - t0).count();
    out.cpu = process_cpu_seconds() - c0;
    exec(c, "DROP SCHEMA " + schema + " CASCADE");
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

}  // namespace

int main(int argc, char** argv) {
    std::size_t records = 1'000'000, keys = 100'000;
    std::vector<std::size_t> sizes = {1000, 10'000};
    std::vector<std::string> modes = {"values", "copy", "target"};
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
        } else die("unknown option " + a + " (see the usage at the top of bench/postgres_baseline.cc)");
    }
    if (argc % 2 == 0) die("every option takes a value");
    if (records == 0 || keys == 0) die("--records and --keys must be positive");
    for (const auto& m : modes)
        if (m != "values" && m != "copy" && m != "target") die("--modes takes values, copy, target");
    for (auto s : sizes)
        if (s == 0) die("--tx wants positive sizes");

    if (uri.empty() || uri.find('?') != std::string::npos) die("--uri postgresql://USER@HOST:PORT/DB (no options)");
    PGconn* c = PQconnectdb(uri.c_str());
    if (PQstatus(c) != CONNECTION_OK) die(std::string("connect: ") + PQerrorMessage(c));
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);

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
    std::fprintf(stderr, "postgres_baseline: %zu rows, %zu keys, server %d\n", records, keys, PQserverVersion(c));
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
    PQfinish(c);
    return 0;
}
