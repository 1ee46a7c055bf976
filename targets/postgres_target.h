#pragma once
// targets/postgres_target.h: `postgresql://user@host:port/db?schema=S&password_file=F` — a
// PostgreSQL database as a state target, through libpq (docs/targets/postgresql.md).
//
// Schema: one table per collection in schema S (default public), named after the collection
// (quoted, so any name of 1..63 bytes of UTF-8 without NUL works; others fail permanently):
//   "key" text PRIMARY KEY, "value" jsonb|text|bytea (NULL for tombstones), "offset" bigint,
//   "deleted" boolean, "updated_at" timestamptz (the record's ts).
// Created if missing. Fencing: `INSERT ... ON CONFLICT ("key") DO UPDATE ... WHERE t."offset" <
// excluded."offset"`, deletes included (a delete writes a tombstone row, deleted = true).
// One deliver() = one transaction sent in one round trip (libpq pipeline mode): one multi-row
// upsert per collection, rows passed as binary arrays. If the server refuses a row (bad JSON for
// jsonb, a user's constraint, invalid UTF-8), the batch is applied again row by row under
// savepoints in the same transaction: the refused rows fail with the server's message, the rest
// is applied (one extra round trip per refused row).
// Errors: open -> invalid_argument (bad options), unavailable (cannot connect now: the worker
// waits). deliver -> transient errc::unavailable when the connection fails or the server fails
// as a whole (the transaction is rolled back; the next deliver reconnects); per-record failures
// for rows the server refuses. Messages never contain the password.
// Not thread-safe: one instance (one connection) per thread.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "targets/target.h"

namespace syncline::targets {

enum class postgres_value_type { jsonb, text, bytea };

struct postgres_target_options {
    // libpq connection keywords (host, port, dbname, user, password, sslmode, ...). A missing
    // password is looked up by libpq as usual (PGPASSWORD, ~/.pgpass); other PG* variables apply.
    std::vector<std::pair<std::string, std::string>> connection;
    std::string schema = "public";                           // URI ?schema=. Created if missing.
    postgres_value_type value_type = postgres_value_type::jsonb;  // URI ?value=jsonb|text|bytea. Default: jsonb.
    // For messages: the URI without its password.
    std::string description;
};

class postgres_target final : public target {
public:
    static result<std::unique_ptr<postgres_target>> open(const postgres_target_options& opts);
    ~postgres_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    // Every table of the schema with the columns key, value, offset, deleted (other tables are
    // ignored), tombstones included (value ""), read in one repeatable-read transaction.
    // jsonb values come back in PostgreSQL's normalised text form (verify compares JSON values).
    result<std::optional<state_map>> read_state() override;

private:
    struct impl;  // Owns the PGconn; keeps <libpq-fe.h> out of this header.
    explicit postgres_target(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::targets
