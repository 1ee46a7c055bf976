#pragma once
// capture/pg_values.h: how a PostgreSQL row becomes a record (docs/capture.md, "Records"):
// column values (PostgreSQL's text output) -> typed JSON by type OID, the primary key -> the
// record key, and LSNs / commit times as text. Used by the stream decoder, the snapshot and
// `syncline verify --source`, so all three encode a row the same way. Pure functions, thread-safe.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace syncline::capture {

// One column value as PostgreSQL's text output gives it; nullopt is SQL NULL.
struct column_text {
    std::uint32_t type_oid = 0;
    std::optional<std::string_view> text;
};

// Appends the JSON value of one column:
//   NULL -> null; bool -> true/false; int2/4/8, oid, float4/8, numeric -> the number as written
//   (numeric keeps every digit; NaN and +-Infinity become strings); json/jsonb -> embedded;
//   bytea (\x hex) -> base64 string; timestamp -> "YYYY-MM-DDTHH:MM:SS[.ffffff]"; timestamptz
//   (the session runs in UTC) -> the same with "Z"; everything else (text, date, time, uuid,
//   arrays, ...) -> a JSON string of the text output (invalid UTF-8 bytes become U+FFFD).
void append_value_json(std::string& out, const column_text& c);

// The record key of a row's key columns (in the table's column order):
//   one column  -> its text output, verbatim ("42", "alice");
//   several     -> a compact JSON array of their JSON values (append_value_json): [7,"b"].
// Unambiguous: a table's key is always one form, and JSON strings escape '"' and ','.
// A NULL in a composite key (possible only under REPLICA IDENTITY FULL) is JSON null; nullopt
// when a single key column is NULL or empty (the log refuses empty keys).
std::optional<std::string> encode_key(std::span<const column_text> key_columns);

// "16/B374D848" (PostgreSQL's LSN text form) and back; nullopt for malformed text.
std::string format_lsn(std::uint64_t lsn);
std::optional<std::uint64_t> parse_lsn(std::string_view text);

// PostgreSQL's epoch (2000-01-01) in microseconds -> "2024-05-01T12:00:00.123456Z".
std::string format_pg_timestamp(std::int64_t pg_micros);
// PostgreSQL microseconds -> Unix milliseconds.
std::int64_t pg_micros_to_unix_ms(std::int64_t pg_micros);

}  // namespace syncline::capture
