#include "targets/mysql_target.h"

#include <mysql.h>
#include <mysqld_error.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>
#include <vector>

#include "targets/internal/json_text.h"
#include "targets/internal/rows.h"
#include "targets/internal/text.h"
#include "targets/internal/uri.h"

namespace syncline::targets {
namespace {

// MariaDB identifiers: at most 64 characters of utf8mb3 (no 4-byte characters), no NUL, and no
// trailing space (the server refuses such names).
constexpr std::size_t max_identifier_chars = 64;

// What a query leaves of max_allowed_packet for the protocol's own bytes.
constexpr std::size_t packet_headroom = 1024;

const char* unsafe_collection(std::string_view c) {
    if (c.empty()) return "empty collection name";
    if (!internal::valid_utf8(c) || c.find('\0') != std::string_view::npos)
        return "collection name is not UTF-8 or contains a NUL byte";
    std::size_t chars = 0;
    for (unsigned char b : c) {
        if (b >= 0xf0) return "collection name has a 4-byte UTF-8 character (MariaDB identifiers cannot hold them)";
        if ((b & 0xc0) != 0x80) ++chars;
    }
    if (chars > max_identifier_chars) return "collection name longer than 64 characters (MariaDB's identifier limit)";
    if (c.back() == ' ') return "collection name ends with a space (MariaDB refuses such identifiers)";
    return nullptr;
}

std::string quote_backticks(std::string_view name) {
    std::string out = "`";
    for (char c : name) {
        if (c == '`') out.push_back('`');
        out.push_back(c);
    }
    out.push_back('`');
    return out;
}

void append_hex_literal(std::string& out, std::string_view bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    out += "X'";
    for (unsigned char c : bytes) {
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
    out.push_back('\'');
}

const char* column_type(mysql_value_type t) {
    switch (t) {
        case mysql_value_type::json: return "JSON";
        case mysql_value_type::text: return "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";
        case mysql_value_type::blob: return "LONGBLOB";
    }
    return "JSON";
}

enum class failure_kind {
    row,            // The server refused this row's data: dead-letter it, deliver the rest.
    missing_table,  // Our table vanished (dropped by someone): look it up again, retry later.
    transient,      // Server trouble that a record may cause: roll back, retry the whole batch later.
    busy,           // The server's state, never a record's (connection, lock wait timeout, deadlock,
                    // shutdown, too many connections): retry later; poison isolation waits on it.
};

// By SQLSTATE class as for PostgreSQL: 22 data exception (invalid UTF-8, out of range, data too
// long), 23 integrity constraint (the JSON column's CHECK, a user's constraint), 42 syntax/access
// (a table of another shape, no privilege, an identifier the server refuses), 45 a user's
// trigger SIGNALling; plus 1366 (incorrect string value), which MariaDB reports as HY000. Client
// errors (CR_*, 2000..2999: connection lost, server gone) and everything else (deadlock, lock wait
// timeout, shutdown, out of resources) may pass.
failure_kind classify(unsigned error, std::string_view sqlstate) {
    if (error >= 2000 && error < 3000) return failure_kind::busy;
    // 1205 lock wait timeout, 1213 deadlock, 1040 too many connections, 1053 shutdown, 1927
    // connection killed, 1969 max_statement_time (MariaDB), 3024 max_execution_time (MySQL).
    switch (error) {
        case 1205: case 1213: case 1040: case 1053: case 1927: case 1969: case 3024: return failure_kind::busy;
        default: break;
    }
    if (error == ER_NO_SUCH_TABLE) return failure_kind::missing_table;
    if (error == ER_TRUNCATED_WRONG_VALUE_FOR_FIELD) return failure_kind::row;
    if (sqlstate.starts_with("22") || sqlstate.starts_with("23") || sqlstate.starts_with("42") ||
        sqlstate.starts_with("45"))
        return failure_kind::row;
    return failure_kind::transient;
}

// What running a list of statements returned: ok, or the first statement that failed (the
// server runs none of the statements after it in that query).
struct round {
    bool ok = true;
    std::size_t failed = 0;
    unsigned error = 0;
    std::string sqlstate;
    std::string message;
};

}  // namespace

result<mysql_target_options> mysql_target::options_from_uri(const std::string& uri, const internal::parsed_uri& p,
                                                             internal::uri_options& options) {
    if (!p.had_slashes) return options.error("expected mysql://USER@HOST[:PORT]/DB");
    mysql_target_options o;
    std::string_view rest = p.path;
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash + 1 == rest.size()) return options.error("no database: write mysql://USER@HOST[:PORT]/DB");
    std::string_view authority = rest.substr(0, slash);
    auto db = internal::percent_decode(rest.substr(slash + 1));
    if (!db || db->empty() || db->find('/') != std::string::npos || db->find('\0') != std::string::npos)
        return options.error("bad database name");
    o.database = std::move(*db);
    auto parsed = internal::parse_authority(authority, static_cast<int>(o.port), options, {.user_required = true});
    if (!parsed.ok()) return parsed.get_status();
    o.user = std::move(parsed.value().user);
    o.host = std::move(parsed.value().host);
    o.port = static_cast<unsigned>(parsed.value().port);
    if (auto socket = options.take("socket")) {
        if (socket->empty()) return options.error("empty socket path");
        o.socket = std::move(*socket);
    }
    auto password = internal::take_secret(options, "password");
    if (!password.ok()) return password.get_status();
    o.password = std::move(password.value());
    if (auto value = options.take("value")) {
        if (*value == "json") o.value_type = mysql_value_type::json;
        else if (*value == "text") o.value_type = mysql_value_type::text;
        else if (*value == "blob") o.value_type = mysql_value_type::blob;
        else return options.error("value must be json, text or blob, not '" + *value + "'");
    }
    if (auto tls = options.take("tls")) {
        if (*tls == "off") o.tls = mysql_tls::off;
        else if (*tls == "require") o.tls = mysql_tls::require;
        else if (*tls == "verify") o.tls = mysql_tls::verify;
        else return options.error("tls must be off, require or verify, not '" + *tls + "'");
    }
    if (auto ca = options.take("tls_ca_file")) {
        if (o.tls == mysql_tls::off) return options.error("tls_ca_file needs tls=require or tls=verify");
        o.tls_ca_file = std::move(*ca);
    }
    auto connect_timeout = options.take_uint("connect_timeout", 10, 1, 3600);
    if (!connect_timeout.ok()) return connect_timeout.get_status();
    o.connect_timeout = std::chrono::seconds(connect_timeout.value());
    auto timeout = options.take_uint("timeout", 60, 1, 3600);
    if (!timeout.ok()) return timeout.get_status();
    o.io_timeout = std::chrono::seconds(timeout.value());
    o.description = uri;
    return o;
}

struct mysql_target::impl {
    mysql_target_options opts;
    MYSQL* conn = nullptr;
    // A multi-statement query must fit the server's max_allowed_packet; read at connect.
    std::size_t query_budget = 0;
    // Tables known to exist (found or created on this server).
    std::set<std::string, std::less<>> tables;
    std::string escaped;  // Reused for escaping values.
    // lower_case_table_names != 0 (the default on Windows and macOS, or configured): the server
    // stores and compares table names in lower case, so Users and users would share one table.
    bool folds_table_names = false;

    ~impl() { disconnect(); }

    std::string context(std::string_view what) const { return opts.description + ": " + std::string(what); }

    void disconnect() {
        if (conn != nullptr) mysql_close(conn);
        conn = nullptr;
    }

    // The server's (or client library's) own words with the error number and SQLSTATE.
    std::string server_message() const {
        if (conn == nullptr) return "not connected";
        return std::string(mysql_error(conn)) + " [" + std::to_string(mysql_errno(conn)) + "/" + mysql_sqlstate(conn) + "]";
    }

    status connect() {
        if (conn != nullptr) return {};
        conn = mysql_init(nullptr);
        if (conn == nullptr) return {errc::unavailable, context("cannot connect: out of memory")};
        const unsigned connect_s = static_cast<unsigned>(opts.connect_timeout.count());
        const unsigned io_s = static_cast<unsigned>(opts.io_timeout.count());
        mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
        mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
        mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &io_s);
        mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
        // The client's own limit must not be the smaller one: queries are sized to the server's.
        const unsigned long client_packet = 1UL << 30;
        mysql_options(conn, MYSQL_OPT_MAX_ALLOWED_PACKET, &client_packet);
        if (opts.tls != mysql_tls::off) {
            const my_bool on = 1, verify = opts.tls == mysql_tls::verify ? 1 : 0;
            mysql_options(conn, MYSQL_OPT_SSL_ENFORCE, &on);
            mysql_options(conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
            if (!opts.tls_ca_file.empty()) mysql_options(conn, MYSQL_OPT_SSL_CA, opts.tls_ca_file.c_str());
        }
        // The client library uses a unix socket only when the host is localhost (or none).
        if (mysql_real_connect(conn, opts.socket.empty() ? opts.host.c_str() : nullptr, opts.user.c_str(), opts.password ? opts.password->c_str() : nullptr,
                               opts.database.c_str(), opts.port, opts.socket.empty() ? nullptr : opts.socket.c_str(),
                               CLIENT_MULTI_STATEMENTS) == nullptr) {
            std::string msg = server_message();
            disconnect();
            return {errc::unavailable, context("cannot connect: " + msg)};
        }
        // Strict mode: a value the column cannot hold is an error, never silently truncated.
        // Backslash escapes on (our literals use them); timestamps in UTC.
        if (mysql_query(conn, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'") != 0 ||
            mysql_query(conn, "SELECT @@max_allowed_packet, @@lower_case_table_names") != 0)
            return fail_status("set up session");
        MYSQL_RES* r = mysql_store_result(conn);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : nullptr;
        const std::size_t packet = row && row[0] ? std::strtoull(row[0], nullptr, 10) : 0;
        folds_table_names = row && row[1] && std::strtoul(row[1], nullptr, 10) != 0;
        if (r) mysql_free_result(r);
        if (packet < 4096) return fail_status("read max_allowed_packet");
        query_budget = std::min<std::size_t>(packet, client_packet) - packet_headroom;
        return {};
    }

    status fail_status(std::string_view what) {
        status s{errc::unavailable, context(std::string(what) + ": " + server_message())};
        disconnect();
        return s;
    }

    // Runs `statements` in as few multi-statement queries as max_allowed_packet allows.
    round run(const std::vector<std::string>& statements) {
        round out;
        std::string query;
        for (std::size_t first = 0; first < statements.size();) {
            query = statements[first];
            std::size_t end = first + 1;
            while (end < statements.size() && query.size() + 2 + statements[end].size() <= query_budget) {
                query += ";\n";
                query += statements[end++];
            }
            std::size_t at = first;  // The statement whose result comes next.
            auto fail = [&] {
                out.ok = false;
                out.failed = at;
                out.error = mysql_errno(conn);
                out.sqlstate = mysql_sqlstate(conn);
                out.message = server_message();
                return out;
            };
            if (mysql_real_query(conn, query.data(), query.size()) != 0) return fail();
            while (true) {
                if (MYSQL_RES* r = mysql_store_result(conn)) mysql_free_result(r);
                const int next = mysql_next_result(conn);
                if (next < 0) break;
                ++at;
                if (next > 0) return fail();
            }
            first = end;
        }
        return out;
    }

    // After a failure inside a transaction: nothing of it may stay. A connection that cannot even
    // roll back is dropped (the server rolls back when it notices).
    void rollback(const round& r) {
        if (conn == nullptr) return;
        if (classify(r.error, r.sqlstate) == failure_kind::transient && r.error >= 2000) {
            disconnect();
            return;
        }
        if (mysql_query(conn, "ROLLBACK") != 0) disconnect();
    }

    std::string create_sql(std::string_view collection) const {
        return "CREATE TABLE IF NOT EXISTS " + quote_backticks(collection) +
               " (`key` VARBINARY(3072) NOT NULL PRIMARY KEY, `value` " + column_type(opts.value_type) +
               " NULL, `offset` BIGINT UNSIGNED NOT NULL, `deleted` BOOLEAN NOT NULL DEFAULT FALSE,"
               " `updated_at` DATETIME(3) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
    }

    // The fence: every column takes the new value only when the stored offset is older; `offset`
    // comes last because MariaDB assigns left to right (the conditions before it must still see
    // the old offset). An older or equal offset (redelivery, a slower worker, a replay) leaves the
    // row alone, for deletes (tombstones) exactly as for upserts.
    static std::string upsert_head(std::string_view collection) {
        return "INSERT INTO " + quote_backticks(collection) + " (`key`, `value`, `offset`, `deleted`, `updated_at`) VALUES ";
    }
    static constexpr std::string_view upsert_tail =
        " ON DUPLICATE KEY UPDATE"
        " `value` = IF(`offset` < VALUES(`offset`), VALUES(`value`), `value`),"
        " `deleted` = IF(`offset` < VALUES(`offset`), VALUES(`deleted`), `deleted`),"
        " `updated_at` = IF(`offset` < VALUES(`offset`), VALUES(`updated_at`), `updated_at`),"
        " `offset` = IF(`offset` < VALUES(`offset`), VALUES(`offset`), `offset`)";

    // One row as a VALUES tuple. Keys and blobs as hex literals (any bytes, no charset
    // conversion); JSON and text as escaped utf8mb4 literals, so that the server judges them
    // (invalid UTF-8 or JSON is refused, never converted).
    void append_row(std::string& out, const record_view& r) {
        out.push_back('(');
        append_hex_literal(out, r.key);
        out += ", ";
        if (r.operation == op::del) {
            out += "NULL";
        } else if (opts.value_type == mysql_value_type::blob) {
            append_hex_literal(out, r.value);
        } else {
            escaped.resize(r.value.size() * 2 + 1);
            const unsigned long n = mysql_real_escape_string(conn, escaped.data(), r.value.data(), r.value.size());
            out += '\'';
            out.append(escaped.data(), n);
            out += '\'';
        }
        out += ", ";
        internal::append_number(out, r.offset);
        out += r.operation == op::del ? ", TRUE, " : ", FALSE, ";
        if (r.ts_ms < 0) {
            out += "NULL";
        } else {
            out += "FROM_UNIXTIME(";
            internal::append_number(out, r.ts_ms / 1000);
            char millis[5] = {'.', static_cast<char>('0' + r.ts_ms % 1000 / 100), static_cast<char>('0' + r.ts_ms % 100 / 10),
                              static_cast<char>('0' + r.ts_ms % 10), ')'};
            out.append(millis, 5);
        }
        out.push_back(')');
    }

    // Upserts for `rows` (grouped by collection): one statement per collection, split where a
    // statement would not fit a query. Rows that cannot fit at all fail into `failures`.
    std::vector<std::string> upserts(std::span<const record_view> records, std::span<const std::size_t> rows,
                                     std::vector<wire::record_failure>& failures) {
        std::vector<std::string> out;
        std::string row, head;
        std::string_view collection;
        bool open_statement = false;  // out.back() still takes rows of `collection`.
        auto close_statement = [&] {
            if (open_statement) out.back() += upsert_tail;
            open_statement = false;
        };
        for (std::size_t i : rows) {
            const record_view& r = records[i];
            if (head.empty() || r.collection != collection) {
                close_statement();
                collection = r.collection;
                head = upsert_head(collection);
            }
            row.clear();
            append_row(row, r);
            constexpr std::size_t slack = 64;  // Separators between the statements of a query.
            if (head.size() + row.size() + upsert_tail.size() + slack > query_budget) {
                failures.push_back({r.offset, "mysql: collection '" + internal::printable(r.collection) + "' key '" +
                                                  internal::printable(r.key) + "': the row (" + std::to_string(row.size()) +
                                                  " bytes as SQL) does not fit the server's max_allowed_packet (" +
                                                  std::to_string(query_budget + packet_headroom) + " bytes)"});
                continue;
            }
            if (open_statement && out.back().size() + 1 + row.size() + upsert_tail.size() + slack <= query_budget) {
                out.back() += ',';
                out.back() += row;
                continue;
            }
            close_statement();
            out.push_back(head + row);
            open_statement = true;
        }
        close_statement();
        return out;
    }

    // On a server that folds table names (folds_table_names), a collection is refused unless it
    // is its own lower case (the server's LOWER()): otherwise Users and users would share a table.
    // Refused collections leave `unknown` and `rows`, their records go to `failures`.
    status refuse_folded_names(std::span<const record_view> records, std::vector<std::size_t>& rows,
                               std::set<std::string_view>& unknown, std::vector<wire::record_failure>& failures) {
        std::string sql = "SELECT ";
        for (std::string_view c : unknown) {
            escaped.resize(c.size() * 2 + 1);
            const unsigned long n = mysql_real_escape_string(conn, escaped.data(), c.data(), c.size());
            sql += "LOWER('";
            sql.append(escaped.data(), n);
            sql += "'),";
        }
        sql.pop_back();
        if (mysql_real_query(conn, sql.data(), sql.size()) != 0) return fail_status("check collection names");
        MYSQL_RES* lowered = mysql_store_result(conn);
        if (lowered == nullptr) return fail_status("check collection names");
        MYSQL_ROW row = mysql_fetch_row(lowered);
        const unsigned long* lengths = row ? mysql_fetch_lengths(lowered) : nullptr;
        std::set<std::string_view> refused;
        std::size_t k = 0;
        for (std::string_view c : unknown) {
            if (row && row[k] && std::string_view(row[k], lengths[k]) != c) refused.insert(c);
            ++k;
        }
        mysql_free_result(lowered);
        for (std::size_t i : rows)
            if (refused.count(records[i].collection))
                failures.push_back({records[i].offset,
                                    "mysql: collection '" + internal::printable(records[i].collection) +
                                        "': the server stores table names in lower case (lower_case_table_names), "
                                        "so it would share a table with its lower-case twin: refused rather than "
                                        "merged; use lower-case collection names or lower_case_table_names=0"});
        for (std::string_view c : refused) unknown.erase(c);
        if (!refused.empty())
            std::erase_if(rows, [&](std::size_t i) { return refused.count(records[i].collection) > 0; });
        return {};
    }

    // Looks the batch's unknown collections up (one query) and creates the missing tables (DDL
    // commits implicitly in MariaDB, so this happens before the batch's transaction; an empty
    // table left behind by a failed batch is harmless). CREATE TABLE IF NOT EXISTS needs the
    // CREATE privilege even when the table exists, hence the look-up first. A table the server
    // refuses to create fails the collection's records; a failure that may pass is returned.
    status ensure_tables(std::span<const record_view> records, std::vector<std::size_t>& rows,
                         std::vector<wire::record_failure>& failures) {
        std::set<std::string_view> unknown;
        for (std::size_t i : rows)
            if (!tables.count(records[i].collection)) unknown.insert(records[i].collection);
        if (unknown.empty()) return {};
        if (folds_table_names) SYNCLINE_RETURN_IF_ERROR(refuse_folded_names(records, rows, unknown, failures));
        if (unknown.empty()) return {};
        std::string sql = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (";
        for (std::string_view c : unknown) {
            escaped.resize(c.size() * 2 + 1);
            const unsigned long n = mysql_real_escape_string(conn, escaped.data(), c.data(), c.size());
            sql += '\'';
            sql.append(escaped.data(), n);
            sql += "',";
        }
        sql.back() = ')';
        if (mysql_real_query(conn, sql.data(), sql.size()) != 0) return fail_status("look up tables");
        MYSQL_RES* found = mysql_store_result(conn);
        if (found == nullptr) return fail_status("look up tables");
        // Compared here byte for byte: information_schema compares names case-insensitively.
        while (MYSQL_ROW row = mysql_fetch_row(found)) {
            const unsigned long* lengths = mysql_fetch_lengths(found);
            const std::string name(row[0], lengths[0]);
            if (unknown.count(name)) tables.insert(name);
        }
        mysql_free_result(found);
        std::set<std::string_view> refused;
        for (std::string_view c : unknown) {
            if (tables.count(c)) continue;
            const std::string create = create_sql(c);
            if (mysql_real_query(conn, create.data(), create.size()) == 0) {
                tables.insert(std::string(c));
                continue;
            }
            if (classify(mysql_errno(conn), mysql_sqlstate(conn)) != failure_kind::row)
                return fail_status("create table for collection '" + internal::printable(c) + "'");
            const std::string msg = server_message();
            for (std::size_t i : rows)
                if (records[i].collection == c)
                    failures.push_back({records[i].offset, "mysql: collection '" + internal::printable(c) +
                                                               "': cannot create its table: " + msg});
            refused.insert(c);
        }
        if (!refused.empty())
            std::erase_if(rows, [&](std::size_t i) { return refused.count(records[i].collection) > 0; });
        return {};
    }

    delivery_outcome deliver(std::span<const record_view> records);
    delivery_outcome deliver_row_by_row(std::span<const record_view> records, std::span<const std::size_t> rows,
                                        delivery_outcome out);
};

mysql_target::mysql_target(std::unique_ptr<impl> impl) : _impl(std::move(impl)) {}
mysql_target::~mysql_target() = default;

result<std::unique_ptr<mysql_target>> mysql_target::open(const mysql_target_options& opts) {
    auto m = std::make_unique<impl>();
    m->opts = opts;
    SYNCLINE_RETURN_IF_ERROR(m->connect());
    return std::unique_ptr<mysql_target>(new mysql_target(std::move(m)));
}

delivery_outcome mysql_target::deliver(std::span<const record_view> records) { return _impl->deliver(records); }

delivery_outcome mysql_target::impl::deliver(std::span<const record_view> records) {
    delivery_outcome out;
    if (records.empty()) return out;
    // Records the target can never hold fail here; the rest go to the server.
    std::vector<std::size_t> rows;
    rows.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (const char* bad = unsafe_collection(records[i].collection))
            out.failures.push_back({records[i].offset, "mysql: collection '" + internal::printable(records[i].collection) + "': " + bad});
        else
            rows.push_back(i);
    }
    if (rows.empty()) return out;
    auto give_up = [&](status s) {
        out.failures.clear();  // Nothing of the batch may count as done.
        out.transient = std::move(s);
        return out;
    };
    // Unreachable is the server's state, never a record's (target.h: errc::busy).
    if (status s = connect(); !s.ok()) return give_up(s.code() == errc::unavailable ? status{errc::busy, s.message()} : s);
    if (status s = ensure_tables(records, rows, out.failures); !s.ok()) return give_up(std::move(s));

    const std::vector<std::size_t> latest = internal::latest_change_per_key(records, rows);
    std::vector<std::string> statements{"START TRANSACTION"};
    const std::size_t failures_before_upserts = out.failures.size();
    std::vector<std::string> upsert_statements = upserts(records, latest, out.failures);
    // A row too large for any query: the key's older changes in the batch must apply without it,
    // as when the server refuses a row.
    if (out.failures.size() > failures_before_upserts) {
        out.failures.resize(failures_before_upserts);
        return deliver_row_by_row(records, rows, std::move(out));
    }
    for (auto& u : upsert_statements) statements.push_back(std::move(u));
    statements.emplace_back("COMMIT");
    const round r = run(statements);
    if (r.ok) return out;
    rollback(r);
    const failure_kind kind = classify(r.error, r.sqlstate);
    const bool upsert_failed = r.failed > 0 && r.failed + 1 < statements.size();
    if (kind == failure_kind::row && upsert_failed && conn != nullptr) return deliver_row_by_row(records, rows, std::move(out));
    if (kind == failure_kind::missing_table) tables.clear();  // Looked up again on the next try.
    return give_up(status{kind == failure_kind::busy ? errc::busy : errc::unavailable, context("batch: " + r.message)});
}

// The slow path after the server refused a row: one transaction, every row in offset order under
// its own savepoint. A refused row is rolled back to its savepoint and dead-lettered with the
// server's message; the next round resumes after it. One round trip per refused row.
delivery_outcome mysql_target::impl::deliver_row_by_row(std::span<const record_view> records,
                                                        std::span<const std::size_t> rows, delivery_outcome out) {
    constexpr std::size_t no_row = static_cast<std::size_t>(-1);
    std::size_t next = 0;
    bool first_round = true;
    std::vector<std::string> statements;
    std::vector<std::size_t> statement_row;  // Per statement: its index into `rows`, or no_row.
    // Each row's own upsert; empty for a row too large for any query (failed in `out` here).
    std::vector<std::string> row_sql(rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::size_t one[] = {rows[k]};
        auto sql = upserts(records, one, out.failures);
        if (!sql.empty()) row_sql[k] = std::move(sql.front());
    }
    while (true) {
        statements.clear();
        statement_row.clear();
        auto add = [&](std::string sql, std::size_t row) {
            statements.push_back(std::move(sql));
            statement_row.push_back(row);
        };
        add(first_round ? "START TRANSACTION" : "ROLLBACK TO SAVEPOINT syncline_row", no_row);
        for (std::size_t k = next; k < rows.size(); ++k) {
            if (row_sql[k].empty()) continue;
            add("SAVEPOINT syncline_row", no_row);
            add(row_sql[k], k);
            add("RELEASE SAVEPOINT syncline_row", no_row);
        }
        add("COMMIT", no_row);
        const round r = run(statements);
        if (r.ok) return out;
        const std::size_t failed_row = statement_row[r.failed];
        if (failed_row != no_row && classify(r.error, r.sqlstate) == failure_kind::row) {
            const record_view& rec = records[rows[failed_row]];
            out.failures.push_back({rec.offset, "mysql: collection '" + internal::printable(rec.collection) + "' key '" +
                                                    internal::printable(rec.key) + "': " + r.message});
            next = failed_row + 1;
            first_round = false;
            continue;
        }
        rollback(r);
        const failure_kind kind = classify(r.error, r.sqlstate);
        if (kind == failure_kind::missing_table) tables.clear();
        out.failures.clear();
        out.transient = status{kind == failure_kind::busy ? errc::busy : errc::unavailable, context("row by row: " + r.message)};
        return out;
    }
}

result<std::optional<state_map>> mysql_target::read_state() {
    impl& m = *_impl;
    SYNCLINE_RETURN_IF_ERROR(m.connect());
    auto fail = [&](std::string_view what) {
        status s{errc::unavailable, m.context(std::string(what) + ": " + m.server_message())};
        m.disconnect();
        return s;
    };
    // One snapshot across all tables while workers keep writing.
    if (mysql_query(m.conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY") != 0) return fail("begin read");
    // Our tables: those with the four columns verify needs; other tables are ignored. Grouped by
    // the name's bytes: information_schema compares names case-insensitively (accounts, Accounts).
    if (mysql_query(m.conn,
                    "SELECT TABLE_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                    " AND COLUMN_NAME IN ('key', 'value', 'offset', 'deleted')"
                    " GROUP BY CAST(TABLE_NAME AS BINARY) HAVING COUNT(*) = 4") != 0)
        return fail("list tables");
    std::vector<std::string> names;
    {
        MYSQL_RES* list = mysql_store_result(m.conn);
        if (list == nullptr) return fail("list tables");
        while (MYSQL_ROW row = mysql_fetch_row(list)) names.emplace_back(row[0], mysql_fetch_lengths(list)[0]);
        mysql_free_result(list);
    }
    state_map state;
    for (const std::string& name : names) {
        const std::string sql = "SELECT `key`, `value`, `offset`, `deleted` FROM " + quote_backticks(name);
        if (mysql_real_query(m.conn, sql.data(), sql.size()) != 0) return fail("read " + internal::printable(name));
        MYSQL_RES* rows = mysql_use_result(m.conn);
        if (rows == nullptr) return fail("read " + internal::printable(name));
        while (MYSQL_ROW row = mysql_fetch_row(rows)) {
            const unsigned long* lengths = mysql_fetch_lengths(rows);
            row_state r;
            if (row[1] != nullptr) r.value.assign(row[1], lengths[1]);
            r.offset = row[2] != nullptr ? std::strtoull(row[2], nullptr, 10) : 0;
            r.deleted = row[3] != nullptr && row[3][0] != '0';
            state.insert_or_assign({name, std::string(row[0], lengths[0])}, std::move(r));
        }
        const bool complete = mysql_errno(m.conn) == 0;
        mysql_free_result(rows);
        if (!complete) return fail("read " + internal::printable(name));
    }
    if (mysql_query(m.conn, "COMMIT") != 0) return fail("end read");
    return std::optional<state_map>(std::move(state));
}

}  // namespace syncline::targets
