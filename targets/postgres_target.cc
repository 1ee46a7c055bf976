#include "targets/postgres_target.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string_view>

#include "targets/internal/json_text.h"
#include "targets/internal/rows.h"
#include "targets/internal/text.h"

namespace syncline::targets {
namespace {

using internal::quote_ident;

// Type OIDs are fixed in PostgreSQL's catalog (pg_type.dat); binary parameters name them.
constexpr Oid text_array_oid = 1009, bytea_array_oid = 1001, jsonb_array_oid = 3807, int8_array_oid = 1016,
              bool_array_oid = 1000;
constexpr Oid text_oid = 25, bytea_oid = 17, jsonb_oid = 3802, int8_oid = 20, bool_oid = 16;

// PostgreSQL truncates longer identifiers silently (NAMEDATALEN - 1): two long collections could
// land in one table, so such names are refused instead.
constexpr std::size_t max_identifier_bytes = 63;

struct result_deleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using pg_result = std::unique_ptr<PGresult, result_deleter>;

const char* unsafe_collection(std::string_view c) {
    if (c.empty()) return "empty collection name";
    if (c.size() > max_identifier_bytes) return "collection name longer than 63 bytes (PostgreSQL's identifier limit)";
    if (!internal::valid_utf8(c) || c.find('\0') != std::string_view::npos) return "collection name is not UTF-8 or contains a NUL byte";
    return nullptr;
}

const char* value_type_name(postgres_value_type t) {
    switch (t) {
        case postgres_value_type::jsonb: return "jsonb";
        case postgres_value_type::text: return "text";
        case postgres_value_type::bytea: return "bytea";
    }
    return "jsonb";
}

// The server's own words: primary message, detail and SQLSTATE, on one line.
std::string server_message(const PGresult* r, PGconn* conn) {
    const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    if (primary == nullptr) {
        std::string m = r ? PQresultErrorMessage(r) : "";
        if (m.empty()) m = PQerrorMessage(conn);
        while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
        std::replace(m.begin(), m.end(), '\n', ' ');
        return m.empty() ? "connection lost" : m;
    }
    std::string m = primary;
    if (const char* detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL)) m += std::string(" (") + detail + ")";
    if (const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE)) m += std::string(" [") + state + "]";
    std::replace(m.begin(), m.end(), '\n', ' ');
    return m;
}

enum class failure_kind {
    row,            // The server refused this row's data: dead-letter it, deliver the rest.
    missing_table,  // Our table vanished (dropped by someone): create it again and retry.
    transient,      // Server trouble that a record may cause: roll back, retry the whole batch later.
    busy,           // The server's state, never a record's (connection, lock, deadlock, resources,
                    // shutdown): retry later, and poison isolation must not dead-letter on it.
};

// SQLSTATE classes that concern the data of a statement rather than the server: 22 data
// exception (bad JSON, invalid UTF-8, out of range), 23 integrity constraint (a user's CHECK or
// FOREIGN KEY), 42 syntax/access (a table of another shape, no privilege on it), P0 a user's
// trigger raising. Anything else (08 connection, 40 deadlock, 53 resources, 57 shutdown, ...) may pass.
failure_kind classify(const PGresult* r, PGconn* conn) {
    if (PQstatus(conn) != CONNECTION_OK || r == nullptr) return failure_kind::busy;
    const char* sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (sqlstate == nullptr) return failure_kind::transient;
    std::string_view s(sqlstate);
    if (s == "42P01") return failure_kind::missing_table;
    if (s.starts_with("22") || s.starts_with("23") || s.starts_with("42") || s.starts_with("P0"))
        return failure_kind::row;
    // 08 connection, 40 serialization failure / deadlock, 53 insufficient resources, 55P03
    // lock_not_available (lock_timeout), 57 operator intervention (statement_timeout, shutdown).
    if (s.starts_with("08") || s.starts_with("40") || s.starts_with("53") || s == "55P03" || s.starts_with("57"))
        return failure_kind::busy;
    return failure_kind::transient;
}

// PostgreSQL's binary array format (array_recv): header, then each element as a length and its
// bytes. Passing a batch as five arrays keeps the upsert one small statement whatever the batch
// size, with no quoting or escaping of values.
class binary_array {
public:
    void start(Oid element, std::size_t count, bool may_hold_null) {
        _buf.clear();
        put32(1);
        put32(may_hold_null ? 1 : 0);
        put32(element);
        put32(static_cast<std::uint32_t>(count));
        put32(1);
    }
    void add_bytes(std::string_view bytes, bool jsonb) {
        put32(static_cast<std::uint32_t>(bytes.size() + (jsonb ? 1 : 0)));
        if (jsonb) _buf.push_back('\x01');  // jsonb_recv's format version.
        _buf.append(bytes.data() ? bytes.data() : "", bytes.size());
    }
    void add_null() { put32(0xffffffffu); }
    void add_int8(std::int64_t v) {
        put32(8);
        auto u = static_cast<std::uint64_t>(v);
        put32(static_cast<std::uint32_t>(u >> 32));
        put32(static_cast<std::uint32_t>(u));
    }
    void add_bool(bool v) {
        put32(1);
        _buf.push_back(v ? '\x01' : '\x00');
    }
    const std::string& bytes() const { return _buf; }

private:
    void put32(std::uint32_t v) {
        char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
        _buf.append(b, 4);
    }
    std::string _buf;
};

std::int64_t read_int8(const char* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return static_cast<std::int64_t>(v);
}

}  // namespace

struct postgres_target::impl {
    postgres_target_options opts;
    PGconn* conn = nullptr;
    // Tables known to exist (created or seen in a committed transaction) -> their upsert SQL.
    std::map<std::string, std::string, std::less<>> tables;
    binary_array keys, values, offsets, deleted, timestamps;

    ~impl() { PQfinish(conn); }

    std::string context(std::string_view what) const { return opts.description + ": " + std::string(what); }

    void disconnect() {
        PQfinish(conn);
        conn = nullptr;
    }

    status connect() {
        if (conn != nullptr && PQstatus(conn) == CONNECTION_OK) return {};
        disconnect();
        std::vector<const char*> names, vals;
        for (const auto& [k, v] : opts.connection) {
            names.push_back(k.c_str());
            vals.push_back(v.c_str());
        }
        names.push_back(nullptr);
        vals.push_back(nullptr);
        conn = PQconnectdbParams(names.data(), vals.data(), 0);
        if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
            std::string msg = conn ? server_message(nullptr, conn) : "out of memory";
            disconnect();
            return {errc::unavailable, context("cannot connect: " + msg)};
        }
        // Notices (e.g. "relation already exists, skipping") would go to stderr one per batch.
        PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
        return ensure_schema();
    }

    // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database even when the
    // schema exists, so it is only issued when the schema is missing.
    status ensure_schema() {
        const char* params[] = {opts.schema.c_str()};
        pg_result r(PQexecParams(conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, nullptr, params, nullptr,
                                 nullptr, 0));
        if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return fail_status("look up schema", r.get());
        if (PQntuples(r.get()) > 0) return {};
        const std::string sql = "CREATE SCHEMA IF NOT EXISTS " + quote_ident(opts.schema);
        pg_result c(PQexec(conn, sql.c_str()));
        if (PQresultStatus(c.get()) != PGRES_COMMAND_OK) return fail_status("create schema", c.get());
        return {};
    }

    status fail_status(std::string_view what, const PGresult* r) {
        status s{errc::unavailable, context(std::string(what) + ": " + server_message(r, conn))};
        if (PQstatus(conn) != CONNECTION_OK) disconnect();
        return s;
    }

    std::string table_name(std::string_view collection) const {
        return quote_ident(opts.schema) + "." + quote_ident(collection);
    }

    std::string create_sql(std::string_view collection) const {
        return "CREATE TABLE IF NOT EXISTS " + table_name(collection) +
               " (\"key\" text PRIMARY KEY, \"value\" " + value_type_name(opts.value_type) +
               ", \"offset\" bigint NOT NULL, \"deleted\" boolean NOT NULL DEFAULT false,"
               " \"updated_at\" timestamptz NOT NULL)";
    }

    // The WHERE clause is the fence: an older or equal offset (redelivery, a slower worker, a
    // replay) leaves the row alone, for deletes (tombstones) exactly as for upserts.
    std::string upsert_sql(std::string_view collection) const {
        const char* type = value_type_name(opts.value_type);
        return "INSERT INTO " + table_name(collection) +
               " AS t (\"key\", \"value\", \"offset\", \"deleted\", \"updated_at\")"
               " SELECT u.k, u.v, u.o, u.d, to_timestamp(u.ts / 1000.0) FROM unnest($1::text[], $2::" + type +
               "[], $3::int8[], $4::bool[], $5::int8[]) AS u(k, v, o, d, ts)"
               " ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\", \"offset\" = excluded.\"offset\","
               " \"deleted\" = excluded.\"deleted\", \"updated_at\" = excluded.\"updated_at\""
               " WHERE t.\"offset\" < excluded.\"offset\"";
    }

    Oid value_array_oid() const {
        switch (opts.value_type) {
            case postgres_value_type::jsonb: return jsonb_array_oid;
            case postgres_value_type::text: return text_array_oid;
            case postgres_value_type::bytea: return bytea_array_oid;
        }
        return jsonb_array_oid;
    }
    Oid value_oid() const {
        switch (opts.value_type) {
            case postgres_value_type::jsonb: return jsonb_oid;
            case postgres_value_type::text: return text_oid;
            case postgres_value_type::bytea: return bytea_oid;
        }
        return jsonb_oid;
    }

    // Fills the five parameter arrays with `rows` (indexes into `records`).
    void encode(std::span<const record_view> records, std::span<const std::size_t> rows) {
        const bool jsonb = opts.value_type == postgres_value_type::jsonb;
        keys.start(text_oid, rows.size(), false);
        values.start(value_oid(), rows.size(), true);
        offsets.start(int8_oid, rows.size(), false);
        deleted.start(bool_oid, rows.size(), false);
        timestamps.start(int8_oid, rows.size(), false);
        for (std::size_t i : rows) {
            const record_view& r = records[i];
            keys.add_bytes(r.key, false);
            if (r.operation == op::del) values.add_null();
            else values.add_bytes(r.value, jsonb);
            offsets.add_int8(static_cast<std::int64_t>(r.offset));
            deleted.add_bool(r.operation == op::del);
            timestamps.add_int8(r.ts_ms);
        }
    }

    bool send_upsert(const std::string& sql) {
        const Oid types[] = {text_array_oid, value_array_oid(), int8_array_oid, bool_array_oid, int8_array_oid};
        const binary_array* arrays[] = {&keys, &values, &offsets, &deleted, &timestamps};
        const char* params[5];
        int lengths[5];
        const int formats[5] = {1, 1, 1, 1, 1};
        for (int i = 0; i < 5; ++i) {
            params[i] = arrays[i]->bytes().data();
            lengths[i] = static_cast<int>(arrays[i]->bytes().size());
        }
        return PQsendQueryParams(conn, sql.c_str(), 5, types, params, lengths, formats, 0) == 1;
    }

    bool send(const std::string& sql) { return PQsendQueryParams(conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1; }

    // What a pipeline round returned: ok, or the first statement that failed (the server skips
    // the rest up to the sync point) with its result.
    struct round {
        bool ok = true;
        std::size_t failed = 0;
        pg_result error;
    };

    // Reads the results of `sent` statements and the sync point that ends the round.
    round collect(std::size_t sent) {
        round out;
        for (std::size_t i = 0; i < sent; ++i) {
            pg_result r(PQgetResult(conn));
            if (!r) {
                out.ok = false;
                out.failed = i;
                return out;  // Connection lost: classify() sees the bad status.
            }
            const ExecStatusType st = PQresultStatus(r.get());
            if (out.ok && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                out.ok = false;
                out.failed = i;
                out.error = std::move(r);
            }
            // Each statement's results end with a null.
            while (pg_result more{PQgetResult(conn)}) {
            }
        }
        pg_result sync(PQgetResult(conn));
        if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
            if (out.ok) {
                out.ok = false;
                out.failed = sent;
                out.error = std::move(sync);
            }
        }
        return out;
    }

    // Ends a pipeline round: back to normal mode, and no transaction left open after a failure.
    void finish_round(bool rollback) {
        if (conn == nullptr) return;
        if (PQstatus(conn) != CONNECTION_OK || PQexitPipelineMode(conn) != 1) {
            disconnect();
            return;
        }
        if (rollback && PQtransactionStatus(conn) != PQTRANS_IDLE) {
            pg_result r(PQexec(conn, "ROLLBACK"));
            if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) disconnect();
        }
    }

    // errc::busy when the cause is the server's state, never a record's (target.h).
    delivery_outcome transient(std::string msg, failure_kind kind = failure_kind::busy) {
        delivery_outcome out;
        out.transient = status{kind == failure_kind::busy ? errc::busy : errc::unavailable, context(msg)};
        return out;
    }

    // CREATE TABLE IF NOT EXISTS needs the CREATE privilege on the schema even when the table
    // exists, so tables are looked up first (once per collection and connection): a role that
    // may only write into tables an administrator created works too.
    status find_existing_tables(std::span<const record_view> records, std::span<const std::size_t> rows) {
        std::string_view previous;
        for (std::size_t i : rows) {
            const std::string_view c = records[i].collection;
            if (c == previous || tables.count(c)) continue;
            previous = c;
            const std::string name = table_name(c);
            const char* params[] = {name.c_str()};
            pg_result r(PQexecParams(conn, "SELECT to_regclass($1) IS NOT NULL", 1, nullptr, params, nullptr, nullptr, 0));
            if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return fail_status("look up table", r.get());
            if (PQgetvalue(r.get(), 0, 0)[0] == 't') tables.emplace(std::string(c), upsert_sql(c));
        }
        return {};
    }

    delivery_outcome deliver(std::span<const record_view> records);
    delivery_outcome deliver_row_by_row(std::span<const record_view> records, std::span<const std::size_t> rows,
                                        delivery_outcome out);
};

postgres_target::postgres_target(std::unique_ptr<impl> impl) : _impl(std::move(impl)) {}
postgres_target::~postgres_target() = default;

result<std::unique_ptr<postgres_target>> postgres_target::open(const postgres_target_options& opts) {
    auto m = std::make_unique<impl>();
    m->opts = opts;
    if (const char* bad = unsafe_collection(opts.schema))
        return status{errc::invalid_argument, m->context(std::string("schema: ") + bad)};
    SYNCLINE_RETURN_IF_ERROR(m->connect());
    return std::unique_ptr<postgres_target>(new postgres_target(std::move(m)));
}

delivery_outcome postgres_target::deliver(std::span<const record_view> records) { return _impl->deliver(records); }

delivery_outcome postgres_target::impl::deliver(std::span<const record_view> records) {
    delivery_outcome out;
    if (records.empty()) return out;

    // Records the target can never hold fail here; the rest go to the server.
    std::vector<std::size_t> rows;
    rows.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        const record_view& r = records[i];
        if (r.offset > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            out.failures.push_back({r.offset, "postgresql: offset does not fit a bigint"});
        } else if (const char* bad = unsafe_collection(r.collection)) {
            out.failures.push_back({r.offset, "postgresql: collection '" + internal::printable(r.collection) + "': " + bad});
        } else {
            rows.push_back(i);
        }
    }
    if (rows.empty()) return out;
    if (status s = connect(); !s.ok()) {
        out.failures.clear();  // Nothing of the batch may count as done.
        // Unreachable is the server's state, never a record's (target.h: errc::busy).
        out.transient = s.code() == errc::unavailable ? status{errc::busy, s.message()} : std::move(s);
        return out;
    }

    // One upsert per collection holding each key once (ON CONFLICT DO UPDATE cannot touch a row
    // twice in one statement).
    const std::vector<std::size_t> latest = internal::latest_change_per_key(records, rows);
    if (status s = find_existing_tables(records, latest); !s.ok()) {
        out.failures.clear();
        out.transient = std::move(s);
        return out;
    }

    if (PQenterPipelineMode(conn) != 1) {
        std::string msg = "enter pipeline mode: " + server_message(nullptr, conn);
        disconnect();
        return transient(msg);
    }
    std::vector<std::string> created;
    std::vector<std::string_view> statement_collection;  // Per sent statement ("" for BEGIN/COMMIT/DDL).
    bool sent = send("BEGIN");
    statement_collection.emplace_back();
    for (std::size_t begin = 0; sent && begin < latest.size();) {
        const std::string_view collection = records[latest[begin]].collection;
        std::size_t end = begin;
        while (end < latest.size() && records[latest[end]].collection == collection) ++end;
        auto table = tables.find(collection);
        if (table == tables.end()) {
            sent = send(create_sql(collection));
            statement_collection.emplace_back();
            table = tables.emplace(std::string(collection), upsert_sql(collection)).first;
            created.push_back(table->first);
        }
        encode(records, std::span<const std::size_t>(latest).subspan(begin, end - begin));
        sent = sent && send_upsert(table->second);
        statement_collection.push_back(collection);
        begin = end;
    }
    sent = sent && send("COMMIT") && PQpipelineSync(conn) == 1;
    statement_collection.emplace_back();
    if (!sent) {
        std::string msg = "send batch: " + server_message(nullptr, conn);
        for (const auto& name : created) tables.erase(name);
        disconnect();
        return transient(msg);
    }
    round r = collect(statement_collection.size());
    if (r.ok) {
        finish_round(false);
        return out;
    }

    // Tables created in the failed transaction are gone again.
    for (const auto& name : created) tables.erase(name);
    const failure_kind kind = classify(r.error.get(), conn);
    const std::string_view failed_collection =
        r.failed < statement_collection.size() ? statement_collection[r.failed] : std::string_view{};
    std::string msg = server_message(r.error.get(), conn);
    if (kind == failure_kind::row && !failed_collection.empty()) {
        // A row the server refuses: find it (them) row by row in the same connection.
        finish_round(false);
        if (conn == nullptr) return transient("batch: " + msg);
        return deliver_row_by_row(records, rows, std::move(out));
    }
    if (kind == failure_kind::missing_table && !failed_collection.empty()) tables.erase(std::string(failed_collection));
    finish_round(true);
    return transient((failed_collection.empty() ? std::string("batch: ")
                                                : "collection '" + internal::printable(failed_collection) + "': ") +
                         msg,
                     kind);
}

// The slow path after the server refused a row: the same transaction, every row in offset order
// under its own savepoint. A refused row is rolled back to its savepoint and dead-lettered with
// the server's message; the next round resumes after it. One round trip per refused row.
delivery_outcome postgres_target::impl::deliver_row_by_row(std::span<const record_view> records,
                                                           std::span<const std::size_t> rows, delivery_outcome out) {
    // Still inside the aborted batch transaction: roll it back first.
    {
        pg_result r(PQexec(conn, "ROLLBACK"));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
            std::string msg = server_message(r.get(), conn);
            disconnect();
            return transient("rollback: " + msg);
        }
    }
    enum class what { other, create, row };
    struct statement {
        what kind = what::other;
        std::size_t row = 0;  // Index into `rows` for what::row.
    };
    std::vector<std::string> created;
    std::size_t next = 0;
    bool first_round = true;
    std::vector<std::size_t> one(1);
    while (true) {
        if (PQenterPipelineMode(conn) != 1) {
            disconnect();
            return transient("enter pipeline mode");
        }
        std::vector<statement> sent;
        bool ok = true;
        auto add = [&](bool sent_ok, statement s) {
            ok = ok && sent_ok;
            sent.push_back(s);
        };
        if (first_round) {
            add(send("BEGIN"), {});
            std::set<std::string_view> seen;
            for (std::size_t i : rows) {
                const std::string_view c = records[i].collection;
                if (tables.count(c) || !seen.insert(c).second) continue;
                add(send(create_sql(c)), {what::create, 0});
                created.push_back(std::string(c));
                tables.emplace(std::string(c), upsert_sql(c));
            }
        } else {
            add(send("ROLLBACK TO SAVEPOINT syncline_row"), {});
        }
        for (std::size_t k = next; ok && k < rows.size(); ++k) {
            one[0] = rows[k];
            encode(records, one);
            add(send("SAVEPOINT syncline_row"), {});
            add(send_upsert(tables.find(records[rows[k]].collection)->second), {what::row, k});
            add(send("RELEASE SAVEPOINT syncline_row"), {});
        }
        add(send("COMMIT") && PQpipelineSync(conn) == 1, {});
        if (!ok) {
            for (const auto& name : created) tables.erase(name);
            std::string msg = server_message(nullptr, conn);
            disconnect();
            return transient("send rows: " + msg);
        }
        round r = collect(sent.size());
        if (r.ok) {
            finish_round(false);
            return out;
        }
        const statement failed = r.failed < sent.size() ? sent[r.failed] : statement{};
        const failure_kind kind = classify(r.error.get(), conn);
        std::string msg = server_message(r.error.get(), conn);
        if (failed.kind == what::row && kind == failure_kind::row) {
            const record_view& rec = records[rows[failed.row]];
            out.failures.push_back({rec.offset, "postgresql: collection '" + internal::printable(rec.collection) +
                                                    "' key '" + internal::printable(rec.key) + "': " + msg});
            next = failed.row + 1;
            first_round = false;
            finish_round(false);
            if (conn == nullptr) {
                for (const auto& name : created) tables.erase(name);
                return transient("row by row: " + msg);
            }
            continue;
        }
        for (const auto& name : created) tables.erase(name);
        if (failed.kind == what::row && kind == failure_kind::missing_table)
            tables.erase(std::string(records[rows[failed.row]].collection));
        finish_round(true);
        out.failures.clear();
        return transient("row by row: " + msg, kind);
    }
}

result<std::optional<state_map>> postgres_target::read_state() {
    impl& m = *_impl;
    SYNCLINE_RETURN_IF_ERROR(m.connect());
    auto fail = [&](std::string_view what, const PGresult* r) {
        status s = m.fail_status(what, r);
        if (m.conn != nullptr && PQtransactionStatus(m.conn) != PQTRANS_IDLE) PQclear(PQexec(m.conn, "ROLLBACK"));
        return s;
    };
    // One snapshot across all tables while workers keep writing.
    {
        pg_result r(PQexec(m.conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return fail("begin read", r.get());
    }
    // Our tables: those of the schema with the four columns verify needs; other tables are ignored.
    const char* list_sql =
        "SELECT c.relname, max(CASE WHEN a.attname = 'value' THEN format_type(a.atttypid, NULL) END)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid"
        " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
        " AND a.attname IN ('key', 'value', 'offset', 'deleted')"
        " GROUP BY c.relname HAVING count(*) = 4";
    const char* params[] = {m.opts.schema.c_str()};
    pg_result list(PQexecParams(m.conn, list_sql, 1, nullptr, params, nullptr, nullptr, 0));
    if (PQresultStatus(list.get()) != PGRES_TUPLES_OK) return fail("list tables", list.get());

    state_map state;
    for (int t = 0; t < PQntuples(list.get()); ++t) {
        const std::string name = PQgetvalue(list.get(), t, 0);
        const std::string type = PQgetvalue(list.get(), t, 1);
        // Binary results: keys and bytea values come back as their bytes, jsonb as its text.
        const std::string value = type == "bytea" || type == "text" ? "\"value\"" : "\"value\"::text";
        const std::string sql = "SELECT \"key\"::text, " + value + ", \"offset\"::int8, \"deleted\"::bool FROM " +
                                m.table_name(name);
        pg_result rows(PQexecParams(m.conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1));
        if (PQresultStatus(rows.get()) != PGRES_TUPLES_OK) return fail("read " + name, rows.get());
        for (int i = 0; i < PQntuples(rows.get()); ++i) {
            auto bytes = [&](int col) {
                return std::string(PQgetvalue(rows.get(), i, col), static_cast<std::size_t>(PQgetlength(rows.get(), i, col)));
            };
            row_state row;
            if (!PQgetisnull(rows.get(), i, 1)) row.value = bytes(1);
            row.offset = static_cast<std::uint64_t>(read_int8(PQgetvalue(rows.get(), i, 2)));
            row.deleted = PQgetvalue(rows.get(), i, 3)[0] != 0;
            state.insert_or_assign({name, bytes(0)}, std::move(row));
        }
    }
    PQclear(PQexec(m.conn, "COMMIT"));
    return std::optional<state_map>(std::move(state));
}

}  // namespace syncline::targets
