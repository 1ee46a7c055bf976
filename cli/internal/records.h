#pragma once
// cli/internal/records.h: records as the subcommands show them, shared by `log show` and `dlq`:
// the JSON form of a record, and one stored record looked up by offset.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/record.h"
#include "common/status.h"
#include "store/change_log.h"

namespace syncline::cli::internal {

// {offset, ts, collection, key, op, value, headers}: the value as JSON when it parses as JSON,
// else as a string; null for a delete without a value.
nlohmann::ordered_json record_to_json(const record_view& r);

// One JSON line (record_to_json, invalid UTF-8 replaced) appended to `out`, with '\n'.
void append_record_json_line(std::string& out, const record_view& r);

// The encoded record stored at `offset`; nullopt when the log does not hold it (trimmed, not
// appended yet).
result<std::optional<std::string>> read_stored_record(const store::change_log& log, std::uint64_t offset);

}  // namespace syncline::cli::internal
