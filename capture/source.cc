#include "capture/source.h"

#include <libpq-fe.h>

#include <algorithm>
#include <map>

#include "capture/pg_values.h"
#include "common/cli_options.h"
#include "targets/internal/json_text.h"
#include "targets/internal/uri.h"

namespace syncline::capture {
namespace {

namespace ti = targets::internal;

constexpr const char* source_help =
    "postgresql://USER@HOST[:PORT]/DB?publication=P&slot=S[&tables=a,s.b][&create=true][&snapshot=false]"
    "[&password_file=PATH|&password_env=VAR][&sslmode=M][&host=SOCKETDIR][&connect_timeout=S]";

std::string first_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
    return text;
}

std::string server_error(pg_conn* conn) { return first_line(PQerrorMessage(conn)); }

// A result that holds rows or fails with the server's message.
struct pg_result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using pg_result = std::unique_ptr<PGresult, pg_result_deleter>;

result<pg_result> query(pg_conn* conn, const std::string& sql, std::vector<std::string> params, std::string_view what) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    pg_result r(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                             nullptr, 0));
    if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
        const std::string msg = r ? first_line(PQresultErrorMessage(r.get())) : server_error(conn);
        const bool gone = PQstatus(conn) != CONNECTION_OK;
        return status{gone ? errc::unavailable : errc::io_error, std::string(what) + ": " + msg};
    }
    return r;
}

}  // namespace

void pg_connection_deleter::operator()(pg_conn* c) const noexcept { PQfinish(c); }

std::string quote_ident(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string table_info::quoted() const { return quote_ident(schema) + "." + quote_ident(name); }

result<source_options> parse_source_uri(const std::string& uri, bool need_slot) {
    const std::string shown = cli::redact_secrets("source", uri);
    ti::uri_options options(shown, source_help);
    // uri_options names it a "target URI"; here it is the source.
    auto relabel = [](const status& s) {
        std::string msg = s.message();
        if (msg.starts_with("target URI")) msg.replace(0, 10, "source URI");
        return status{errc::invalid_argument, msg};
    };
    auto fail = [&](std::string_view why) { return relabel(options.error(why)); };
    const ti::parsed_uri p = ti::split_uri(uri);
    if ((p.scheme != "postgresql" && p.scheme != "postgres") || !p.had_slashes)
        return fail("expected postgresql://USER@HOST[:PORT]/DB?...");
    if (auto s = options.parse(p.query); !s.ok()) return relabel(s);
    source_options o;
    o.description = shown;
    const auto slash = p.path.find('/');
    if (slash == std::string_view::npos || slash + 1 >= p.path.size()) return fail("no database (…/DB)");
    auto auth = ti::parse_authority(p.path.substr(0, slash), 5432, options);
    if (!auth.ok()) return relabel(auth.get_status());
    auto db = ti::percent_decode(p.path.substr(slash + 1));
    if (!db || db->empty()) return fail("bad database name");
    if (auto h = options.take("host")) o.connection.emplace_back("host", *h);
    else o.connection.emplace_back("host", auth->host);
    o.connection.emplace_back("port", std::to_string(auth->port));
    o.connection.emplace_back("dbname", *db);
    if (!auth->user.empty()) o.connection.emplace_back("user", auth->user);
    auto password = ti::take_secret(options, "password");
    if (!password.ok()) return relabel(password.get_status());
    if (*password) o.connection.emplace_back("password", **password);
    if (auto mode = options.take("sslmode")) {
        static constexpr std::string_view modes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
        if (std::find(std::begin(modes), std::end(modes), *mode) == std::end(modes))
            return fail("sslmode must be disable, allow, prefer, require, verify-ca or verify-full");
        o.connection.emplace_back("sslmode", *mode);
    }
    auto timeout = options.take_uint("connect_timeout", 10, 1, 3600);
    if (!timeout.ok()) return fail("connect_timeout must be 1..3600");
    o.connection.emplace_back("connect_timeout", std::to_string(*timeout));
    o.publication = options.take("publication").value_or("");
    o.slot = options.take("slot").value_or("");
    if (auto tables = options.take("tables")) {
        std::string_view rest = *tables;
        while (!rest.empty()) {
            auto comma = rest.find(',');
            std::string_view t = rest.substr(0, comma);
            if (t.empty()) return fail("tables= has an empty name");
            o.tables.emplace_back(t.find('.') == std::string_view::npos ? "public." + std::string(t) : std::string(t));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
    }
    auto create = options.take_bool("create", false);
    if (!create.ok()) return fail("create must be true or false");
    o.create = *create;
    auto snapshot = options.take_bool("snapshot", true);
    if (!snapshot.ok()) return fail("snapshot must be true or false");
    o.snapshot = *snapshot;
    if (auto s = options.reject_unknown(); !s.ok()) return relabel(s);
    if (need_slot) {
        if (o.publication.empty()) return fail("needs publication=NAME");
        if (o.slot.empty()) return fail("needs slot=NAME");
        // Slot names: lower-case letters, digits and '_' (PostgreSQL's own rule), max 63.
        if (o.slot.size() > 63 || o.slot.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
            return fail("slot must be 1..63 of a-z, 0-9 and _ (PostgreSQL's rule for slot names)");
        if (o.create && o.tables.empty()) return fail("create=true needs tables=a,b (what the new publication holds)");
    }
    return o;
}

result<pg_connection> connect(const source_options& source, bool replication) {
    std::vector<std::pair<std::string, std::string>> kv = source.connection;
    kv.emplace_back("client_encoding", "UTF8");
    kv.emplace_back("application_name", "syncline-capture");
    // The value encoding (capture/pg_values.h) relies on these output formats.
    kv.emplace_back("options", "-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3 -c bytea_output=hex "
                               "-c IntervalStyle=iso_8601");
    if (replication) kv.emplace_back("replication", "database");
    std::vector<const char*> names, values;
    for (const auto& [k, v] : kv) {
        names.push_back(k.c_str());
        values.push_back(v.c_str());
    }
    names.push_back(nullptr);
    values.push_back(nullptr);
    pg_connection conn(PQconnectdbParams(names.data(), values.data(), 0));
    if (!conn) return status{errc::unavailable, "source " + source.description + ": out of memory"};
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        std::string msg = server_error(conn.get());
        // libpq prefixes "connection to server at ... failed: "; keep the reason.
        if (auto f = msg.find("failed: "); f != std::string::npos) msg = msg.substr(f + 8);
        if (auto f = msg.find("FATAL:  "); f != std::string::npos) msg = msg.substr(f + 8);
        std::string user;
        for (const auto& [k, v] : source.connection)
            if (k == "user") user = v;
        if (msg.find("replication role") != std::string::npos || msg.find("REPLICATION attribute") != std::string::npos)
            return status{errc::invalid_argument, "source " + source.description + ": role " +
                                                      (user.empty() ? "(default)" : "'" + user + "'") +
                                                      " lacks the REPLICATION privilege (ALTER ROLE " +
                                                      (user.empty() ? "..." : quote_ident(user)) + " REPLICATION)"};
        if (msg.find("password authentication failed") != std::string::npos ||
            msg.find("does not exist") != std::string::npos || msg.find("no password supplied") != std::string::npos)
            return status{errc::invalid_argument, "source " + source.description + ": " + msg};
        return status{errc::unavailable, "source " + source.description + ": cannot connect: " + msg};
    }
    return conn;
}

result<std::vector<std::vector<std::string>>> query_rows(pg_conn* conn, const std::string& sql,
                                                         const std::vector<std::string>& params, std::string_view what) {
    auto r = query(conn, sql, params, what);
    if (!r.ok()) return r.get_status();
    std::vector<std::vector<std::string>> rows(static_cast<std::size_t>(PQntuples(r->get())));
    for (std::size_t i = 0; i < rows.size(); ++i)
        for (int c = 0; c < PQnfields(r->get()); ++c) rows[i].emplace_back(PQgetvalue(r->get(), static_cast<int>(i), c));
    return rows;
}

status exec(pg_conn* conn, const std::string& sql, std::string_view what) {
    pg_result r(PQexec(conn, sql.c_str()));
    const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return {};
    const std::string msg = r ? first_line(PQresultErrorMessage(r.get())) : server_error(conn);
    return status{PQstatus(conn) != CONNECTION_OK ? errc::unavailable : errc::io_error, std::string(what) + ": " + msg};
}

result<table_info> describe_table(pg_conn* conn, const std::string& name) {
    auto rel = query(conn,
                     "SELECT c.oid, n.nspname, c.relname, c.relreplident, c.relkind FROM pg_class c "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
                     {name}, "looking up table " + name);
    if (!rel.ok()) return rel.get_status();
    if (PQntuples(rel->get()) == 0) return status{errc::invalid_argument, "table '" + name + "' does not exist"};
    table_info t;
    t.oid = static_cast<std::uint32_t>(std::stoul(PQgetvalue(rel->get(), 0, 0)));
    t.schema = PQgetvalue(rel->get(), 0, 1);
    t.name = PQgetvalue(rel->get(), 0, 2);
    const char ident = PQgetvalue(rel->get(), 0, 3)[0];
    const char kind = PQgetvalue(rel->get(), 0, 4)[0];
    if (kind != 'r' && kind != 'p')
        return status{errc::invalid_argument, "'" + name + "' is not a table (views and others cannot be captured)"};
    const std::string oid = std::to_string(t.oid);
    auto cols = query(conn,
                      "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 "
                      "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                      {oid}, "reading the columns of " + name);
    if (!cols.ok()) return cols.get_status();
    for (int i = 0; i < PQntuples(cols->get()); ++i)
        t.columns.push_back({PQgetvalue(cols->get(), i, 0),
                             static_cast<std::uint32_t>(std::stoul(PQgetvalue(cols->get(), i, 1)))});
    auto index_columns = [&](const char* which) -> status {
        auto k = query(conn,
                       std::string("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                                   "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::oid AND i.") +
                           which + " ORDER BY a.attnum",
                       {oid}, "reading the key of " + name);
        if (!k.ok()) return k.get_status();
        for (int i = 0; i < PQntuples(k->get()); ++i) t.key_columns.emplace_back(PQgetvalue(k->get(), i, 0));
        return {};
    };
    const std::string shown = t.collection();
    if (ident == 'n')
        return status{errc::invalid_argument, "table " + shown + " has REPLICA IDENTITY NOTHING: its updates and "
                                              "deletes carry no key (ALTER TABLE " + t.quoted() + " REPLICA IDENTITY DEFAULT)"};
    // The replica identity is what deletes carry: under USING INDEX it is the key, else the primary key.
    if (ident == 'i') SYNCLINE_RETURN_IF_ERROR(index_columns("indisreplident"));
    if (t.key_columns.empty()) SYNCLINE_RETURN_IF_ERROR(index_columns("indisprimary"));
    if (t.key_columns.empty() && ident == 'f')
        for (const auto& c : t.columns) t.key_columns.push_back(c.name);
    if (t.key_columns.empty())
        return status{errc::invalid_argument, "table " + shown + " has no primary key (add one, or ALTER TABLE " +
                                                  t.quoted() + " REPLICA IDENTITY FULL to key its rows by every column)"};
    return t;
}

result<std::vector<table_info>> describe_tables(pg_conn* conn, const source_options& source) {
    std::vector<std::string> names = source.tables;
    if (names.empty()) {
        if (source.publication.empty())
            return status{errc::invalid_argument, "source " + source.description + ": name tables= or publication="};
        auto pub = query(conn,
                         "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_publication_tables "
                         "WHERE pubname = $1 ORDER BY 1",
                         {source.publication}, "reading publication " + source.publication);
        if (!pub.ok()) return pub.get_status();
        for (int i = 0; i < PQntuples(pub->get()); ++i) names.emplace_back(PQgetvalue(pub->get(), i, 0));
        if (names.empty())
            return status{errc::invalid_argument, "publication " + source.publication +
                                                      " does not exist or holds no table (name them with tables=a,b&create=true)"};
    }
    std::vector<table_info> out;
    for (const auto& n : names) {
        auto t = describe_table(conn, n);
        if (!t.ok()) return t.get_status();
        out.push_back(std::move(*t));
    }
    return out;
}

status read_table(pg_conn* conn, const table_info& table, std::size_t chunk_rows,
                  const std::function<status(std::vector<row_record>&)>& visit) {
    std::string select = "SELECT ";
    for (std::size_t i = 0; i < table.columns.size(); ++i) select += (i ? ", " : "") + quote_ident(table.columns[i].name);
    select += " FROM ONLY " + table.quoted();
    std::vector<int> key_index;
    for (const auto& k : table.key_columns)
        for (std::size_t i = 0; i < table.columns.size(); ++i)
            if (table.columns[i].name == k) key_index.push_back(static_cast<int>(i));
    SYNCLINE_RETURN_IF_ERROR(exec(conn, "DECLARE syncline_read NO SCROLL CURSOR FOR " + select, "reading " + table.collection()));
    const std::string fetch = "FETCH " + std::to_string(chunk_rows) + " FROM syncline_read";
    std::vector<row_record> rows;
    std::vector<column_text> key;
    for (;;) {
        auto r = query(conn, fetch, {}, "reading " + table.collection());
        if (!r.ok()) return r.get_status();
        const int n = PQntuples(r->get());
        if (n == 0) break;
        rows.clear();
        for (int i = 0; i < n; ++i) {
            row_record row;
            row.value = "{";
            for (std::size_t c = 0; c < table.columns.size(); ++c) {
                const int ci = static_cast<int>(c);
                column_text v{table.columns[c].type_oid, std::nullopt};
                if (!PQgetisnull(r->get(), i, ci))
                    v.text = std::string_view(PQgetvalue(r->get(), i, ci), static_cast<std::size_t>(PQgetlength(r->get(), i, ci)));
                if (c) row.value += ',';
                targets::internal::append_json_string(row.value, table.columns[c].name);
                row.value += ':';
                append_value_json(row.value, v);
            }
            row.value += '}';
            key.clear();
            for (int k : key_index) {
                column_text v{table.columns[static_cast<std::size_t>(k)].type_oid, std::nullopt};
                if (!PQgetisnull(r->get(), i, k))
                    v.text = std::string_view(PQgetvalue(r->get(), i, k), static_cast<std::size_t>(PQgetlength(r->get(), i, k)));
                key.push_back(v);
            }
            auto encoded = encode_key(key);
            if (!encoded) return status{errc::invalid_argument, "table " + table.collection() + ": a row has an empty or NULL key"};
            row.key = std::move(*encoded);
            rows.push_back(std::move(row));
        }
        SYNCLINE_RETURN_IF_ERROR(visit(rows));
    }
    return exec(conn, "CLOSE syncline_read", "reading " + table.collection());
}

}  // namespace syncline::capture
