#pragma once
// common/record.h: the change record (docs/architecture.md "Store layout").
// `record` owns its bytes (producers, tests); `record_view` points into a buffer that
// must outlive it (a received batch frame, a RocksDB slice) so hot paths copy nothing.
#include <cstddef>
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

// The one set of record limits. Every writer enforces them (change_log::append checks each record
// with check_record, so `syncline append`, `generate` and every producer; `append`'s
// --max-value-bytes cannot go above max_value_bytes), and every reader accepts whatever they allow
// (codec::decode_limits defaults to them, so the worker, verify and `log show` decode any record
// the log took). Changing one here changes it everywhere; readers must never be tightened below
// what an older writer accepted.
namespace limits {
inline constexpr std::size_t max_value_bytes = 64u << 20;   // A record's value: 64 MiB.
inline constexpr std::size_t max_field_bytes = 64u << 20;   // Any other string (collection, key, header name or value).
inline constexpr std::size_t max_headers = 256;             // Header entries per record.
// A whole encoded record: the value plus 1 MiB for everything else. Batches carry at least one
// record, so a receiving socket must take messages of this size plus the batch header.
inline constexpr std::size_t max_record_bytes = max_value_bytes + (1u << 20);
inline constexpr std::size_t max_batch_records = 100'000;   // Records per batch body.
// The ventilator's --batch-bytes cap. A batch stops after the record that reaches it, so a body
// is at most max_batch_bytes - 1 + max_record_bytes: a socket receiving batches must take
// max_batch_message_bytes (the body plus room for the header frame).
inline constexpr std::size_t max_batch_bytes = 64u << 20;
inline constexpr std::size_t max_batch_message_bytes = max_batch_bytes + max_record_bytes + (64u << 10);
}  // namespace limits

// Empty when `r` is within limits:: and has a non-empty collection and key; otherwise the problem,
// naming the field (e.g. "300 headers, more than the limit of 256"). Pure, thread-safe.
std::string check_record(const record& r);

}  // namespace syncline
