#pragma once
// capture/source.h: the PostgreSQL source of a capture (docs/capture.md):
//   postgresql://USER@HOST[:PORT]/DB?publication=P&slot=S[&tables=a,s.b][&create=true]
//       [&snapshot=true|false][&password_file=PATH|&password_env=VAR][&sslmode=M][&host=/socket/dir]
//       [&connect_timeout=S]
// The password never goes into the URI (it is logged); a `USER:PASSWORD@` or `password=` is
// refused, exactly as the targets refuse them (targets/internal/uri.h). Unqualified table names
// mean schema `public`. Errors are invalid_argument naming the URI with its secrets redacted.
// Also: the catalog checks every capture and `verify --source` make (a table exists, has a
// primary key or a usable replica identity) and reading a table's rows encoded as records.
// Not thread-safe: one connection per thread.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

struct pg_conn;

namespace syncline::capture {

struct source_options {
    // libpq connection keywords (host, port, dbname, user, password, sslmode, ...).
    std::vector<std::pair<std::string, std::string>> connection;
    std::string publication;          // ?publication=. Required by the capture.
    std::string slot;                 // ?slot=. Required by the capture.
    std::vector<std::string> tables;  // ?tables=a,s.b. Empty: the publication's tables.
    bool create = false;              // ?create=true: create a missing publication and slot.
    bool snapshot = true;             // ?snapshot=false: a new slot streams without copying rows first.
    std::string description;          // The URI with secrets redacted, for messages.
};

// `need_slot`: the capture needs publication= and slot=; verify --source does not.
result<source_options> parse_source_uri(const std::string& uri, bool need_slot);

// An open libpq connection (closed on destruction).
struct pg_connection_deleter {
    void operator()(pg_conn* c) const noexcept;
};
using pg_connection = std::unique_ptr<pg_conn, pg_connection_deleter>;

// Connects (a `replication=database` walsender connection when `replication`), with the session
// settings the value encoding relies on (UTC, ISO dates, hex bytea, full float precision).
// unavailable when the server cannot be reached; invalid_argument with a one-line fix for a role
// without the REPLICATION privilege; the message never holds the password.
result<pg_connection> connect(const source_options& source, bool replication);

struct column_info {
    std::string name;
    std::uint32_t type_oid = 0;
};

// A captured table: collection "schema.table", its columns (what pgoutput sends: not dropped,
// not generated, in column order) and its key columns (the replica identity index under
// REPLICA IDENTITY USING INDEX, else the primary key, else every column under REPLICA IDENTITY
// FULL), in column order.
struct table_info {
    std::uint32_t oid = 0;
    std::string schema;
    std::string name;
    std::vector<column_info> columns;
    std::vector<std::string> key_columns;
    std::string collection() const { return schema + "." + name; }
    std::string quoted() const;  // "schema"."table"
};

// invalid_argument "table 'x' does not exist", "table s.t has no primary key ..." (config errors).
result<table_info> describe_table(pg_conn* conn, const std::string& name);
// describe_table for `source.tables`, or the publication's tables when it names none.
result<std::vector<table_info>> describe_tables(pg_conn* conn, const source_options& source);

// A row as a record would carry it.
struct row_record {
    std::string key;
    std::string value;  // JSON object, column order.
};

// Reads every row of `table` (in the connection's current transaction: the caller begins it, in
// the snapshot it wants), `chunk_rows` at a time through a cursor; `visit` gets each chunk.
status read_table(pg_conn* conn, const table_info& table, std::size_t chunk_rows,
                  const std::function<status(std::vector<row_record>&)>& visit);

// Runs a query with text parameters; every value as text (NULL as ""). The server's error
// (prefixed by `what`) otherwise: unavailable when the connection is gone, io_error else.
result<std::vector<std::vector<std::string>>> query_rows(pg_conn* conn, const std::string& sql,
                                                         const std::vector<std::string>& params, std::string_view what);

// Runs a statement that returns no rows; the server's error (prefixed by `what`) otherwise.
status exec(pg_conn* conn, const std::string& sql, std::string_view what);

// Quotes an identifier ("a""b").
std::string quote_ident(std::string_view name);

}  // namespace syncline::capture
