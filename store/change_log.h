#pragma once
// store/change_log.h: the durable change log (docs/architecture.md "Store layout"), a RocksDB
// directory with column families `log` (8-byte big-endian offset -> encoded record), `meta`
// (format version, last offset) and `time` (append time -> first offset of that append).
// One writer per directory (RocksDB's LOCK; a second writer gets errc::busy). Readers open it as
// a RocksDB secondary instance and call catch_up() to see what the writer appended since.
// Not thread-safe: one thread per instance. Errors: invalid_argument (not a syncline log / unknown
// format version), busy (locked), io_error, corruption, not_found (missing directory for a reader).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace syncline::store {

inline constexpr std::uint32_t log_format_version = 1;

struct change_log_options {
    std::string path;
    bool create_if_missing = true;  // Writer only. Default: true.
    bool sync = true;               // fsync the WAL on every append. Default: true (an append that returned is on disk).
};

// First and last offset of an append (inclusive).
struct offset_range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
};

struct log_stats {
    std::uint64_t first_offset = 0;   // 0 when empty.
    std::uint64_t last_offset = 0;    // 0 when empty.
    std::uint64_t count = 0;
    std::uint64_t disk_bytes = 0;     // Files under the directory.
    std::map<std::string, std::uint64_t> per_collection;  // Record counts.
};

// A key/value pair that a writer stores beside its records, in the log's `meta` column family and
// in the same atomic WriteBatch as an append: the gateway's producer table, the capture's source
// position. Keys must contain a '/' ("producer/<id>", "capture/<slot>"), which keeps them apart from
// the log's own meta keys; an empty value deletes the key.
struct meta_entry {
    std::string key;
    std::string value;
};

// Receives stored records in offset order; return false to stop early.
using record_visitor = std::function<bool(std::uint64_t offset, std::string_view encoded)>;

class change_log {
public:
    // The single writer (append, trim). Creates the directory when allowed.
    static result<std::unique_ptr<change_log>> open_writer(const change_log_options& opts);
    // A tailing reader (RocksDB secondary); works while a writer appends in another process.
    static result<std::unique_ptr<change_log>> open_reader(const std::string& path);
    ~change_log();

    // Assigns offsets last+1.. and the current time to `records` and writes them in one atomic,
    // (by default) synced WriteBatch: all or nothing. invalid_argument for an empty batch or a
    // record without collection/key. Writer only.
    result<offset_range> append(std::span<record> records);
    // The same, and writes `meta` in the same WriteBatch: the records and the meta entries are
    // durable together or not at all. invalid_argument for a key without '/'. An empty `records`
    // with non-empty `meta` writes only the meta entries and returns {0, 0}.
    result<offset_range> append(std::span<record> records, std::span<const meta_entry> meta);

    // Staged appends, for a writer whose atomic unit is too big to hold in memory (the capture's
    // big source transactions, docs/capture.md): stage() writes records (unsynced) at the offsets
    // after the last offset and after what is already staged, invisible to last_offset(), scan(),
    // append_time(), stats() and every reader; the next append() (even with no records of its
    // own) makes the staged records and its own visible together, in one synced WriteBatch that
    // moves the last offset past all of them, with its meta entries. The time index gets one entry
    // (the commit's time, the first staged offset); staged records carry the time they were staged.
    // A crash before that append leaves nothing visible: a writer opening the log deletes records
    // beyond the last offset. Validation as append(). Writer only.
    result<offset_range> stage(std::span<record> records);
    // How many records are staged and not yet made visible.
    std::uint64_t staged_count() const;
    // Deletes every staged record (one synced range delete): the writer gives up its staged
    // append, and the next stage() or append() starts again right after the last offset. Writer only.
    status discard_staged();
    // Visits the staged records in offset order (writer only; readers see none).
    result<std::size_t> scan_staged(const record_visitor& visit) const;

    // A meta entry written by append(records, meta); nullopt when absent. Readers see what the
    // last catch_up() saw.
    result<std::optional<std::string>> get_meta(std::string_view key) const;
    // Every meta entry whose key starts with `prefix` (which must contain '/'), in key order.
    result<std::vector<meta_entry>> scan_meta(std::string_view prefix) const;

    // Reader: makes appends by the writer visible. Cheap when nothing changed.
    status catch_up();

    std::uint64_t last_offset() const;   // 0 when empty.
    std::uint64_t first_offset() const;  // Lowest offset still stored; 0 when empty.

    // Visits stored records with offset >= from, at most `max_records` and stopping after the
    // record that reaches `max_bytes` (at least one record is visited when any exists).
    // Returns the number visited.
    result<std::size_t> scan(std::uint64_t from, std::size_t max_records, std::size_t max_bytes,
                             const record_visitor& visit) const;

    // The first offset whose append time is >= ts_ms; nullopt if none is.
    result<std::optional<std::uint64_t>> offset_at_time(std::int64_t ts_ms) const;

    // When the record at `offset` was appended (ms since the epoch); nullopt when the log does not
    // hold it (trimmed, or not appended yet). The age of the oldest uncommitted record is the lag
    // in seconds that metrics and `syncline status` show.
    result<std::optional<std::int64_t>> append_time(std::uint64_t offset) const;

    // Deletes every record with offset < `below`; returns how many were deleted. Writer only.
    result<std::uint64_t> trim_below(std::uint64_t below);

    result<log_stats> stats() const;
    const std::string& path() const;

private:
    struct impl;
    explicit change_log(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::store
