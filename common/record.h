#pragma once
// common/record.h: the change record (docs/architecture.md "Store layout").
// `record` owns its bytes (producers, tests); `record_view` points into a buffer that
// must outlive it (a received batch frame, a RocksDB slice) so hot paths copy nothing.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncline {

enum class op : std::uint8_t { upsert = 0, del = 1 };

// "upsert" / "delete".
std::string_view op_name(op o) noexcept;

using header_list = std::vector<std::pair<std::string, std::string>>;

struct record {
    std::uint64_t offset = 0;   // Assigned by the log on append; 0 before.
    std::int64_t ts_ms = 0;     // Milliseconds since epoch, assigned on append.
    std::string collection;     // Table / namespace. Non-empty.
    std::string key;            // Bytes. Non-empty.
    op operation = op::upsert;
    std::string value;          // JSON by convention; empty for deletes.
    header_list headers;        // Optional string headers.
};

struct record_view {
    std::uint64_t offset = 0;
    std::int64_t ts_ms = 0;
    std::string_view collection;
    std::string_view key;
    op operation = op::upsert;
    std::string_view value;
    std::vector<std::pair<std::string_view, std::string_view>> headers;  // Usually empty: no allocation.

    record to_record() const;
};

}  // namespace syncline
