#pragma once
// cli/jsonl.h: the JSON Lines input format of `syncline append`, one change per line:
//   {"collection": "users", "key": "42", "op": "upsert", "value": {...}, "headers": {"k": "v"}}
// - collection: non-empty string. Required.
// - key: non-empty string, or an integer (stored as its decimal text). Required.
// - op: "upsert" or "delete". Optional: absent means "upsert"; any other value is an error.
// - value: upsert: required and not null; a JSON string is stored as its raw text content, any
//   other JSON as its compact dump. delete: absent or null.
// - headers: optional object of string values.
// - offset, ts: accepted and ignored (the log assigns them), so `syncline log show --json`
//   output can be appended again. Any other field is an error (it is most likely a typo).
// Pure functions, thread-safe; never throw on bad input.
#include <cstddef>
#include <string>
#include <string_view>

#include "common/record.h"
#include "common/status.h"

namespace syncline::cli {

struct jsonl_limits {
    std::size_t max_value_bytes = 1u << 20;  // Stored value size. Default: 1 MiB (--max-value-bytes).
};

// Parses one non-empty line into `out` (its strings are overwritten, so a reused record keeps its
// capacity). On failure returns invalid_argument with the problem only, e.g. `missing "key"` or
// `unknown op "upsrt"`; the caller adds "FILE:LINE: ".
status parse_jsonl_line(std::string_view line, record& out, const jsonl_limits& limits = {});

// True for lines `syncline append` skips: empty or only whitespace.
bool is_blank_line(std::string_view line) noexcept;

}  // namespace syncline::cli
