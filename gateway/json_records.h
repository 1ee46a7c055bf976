#pragma once
// gateway/json_records.h: the JSON form of a change, as `syncline append` reads it (one per line)
// and the gateway's HTTP listener takes it (JSON Lines or a JSON array), one change per object:
//   {"collection": "users", "key": "42", "op": "upsert", "value": {...}, "headers": {"k": "v"}}
// - collection: non-empty string. Required.
// - key: non-empty string, or an integer (stored as its decimal text). Required.
// - op: "upsert" or "delete". Optional: absent means "upsert"; any other value is an error.
// - value: upsert: required and not null; a JSON string is stored as its raw text content, any
//   other JSON as its compact form (whitespace removed, key order kept). delete: absent or null.
// - headers: optional object of string values.
// - offset, ts: accepted and ignored (the log assigns them), so `syncline log show --json`
//   output can be appended again. Any other field is an error (it is most likely a typo).
// Ambiguous JSON is refused rather than guessed at (docs/producers.md): an object with the same
// key twice, at any depth ("duplicate key"), and an integer that does not fit in 64 bits (it
// would silently become an inexact double).
// Parsed with simdjson (DOM, one parser per thread); the rare error path re-parses with
// nlohmann::json only to word the message. Pure functions, thread-safe, never throw on bad input.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace syncline::gateway {

struct json_limits {
    std::size_t max_value_bytes = 1u << 20;  // Stored value size. Default: 1 MiB (--max-value-bytes).
};

// Parses one non-empty line into `out` (its strings are overwritten, so a reused record keeps its
// capacity). On failure returns invalid_argument with the problem only, e.g. `missing "key"` or
// `unknown op "upsrt"`; the caller adds "FILE:LINE: ".
status parse_jsonl_line(std::string_view line, record& out, const json_limits& limits = {});

// True for lines that are skipped: empty or only whitespace.
bool is_blank_line(std::string_view line) noexcept;

// The first bad record of a request body: its index (0-based, among the records) and, for JSON
// Lines, its line (1-based; 0 for a JSON array). `index` is nullopt when the body as a whole is
// not JSON (a JSON array that does not parse).
struct body_problem {
    std::optional<std::size_t> index;
    std::size_t line = 0;
    std::string message;
};

// Parses an HTTP request body: a JSON array of change objects when its first non-blank byte is
// '[', JSON Lines otherwise (blank lines skipped). Appends the records to `out`; on a problem,
// `out` holds an unspecified prefix and the problem is returned. More than `max_records` records
// is a problem too.
std::optional<body_problem> parse_json_body(std::string_view body, std::vector<record>& out,
                                            const json_limits& limits, std::size_t max_records);

}  // namespace syncline::gateway
