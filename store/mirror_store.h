#pragma once
// store/mirror_store.h: the log's state mirrored into a RocksDB database, behind the `rocksdb:`
// target (targets/rocksdb_target.h; layout and guarantees in docs/targets/rocksdb.md).
//
// Layout: one column family per collection, named exactly after it and created on first use
// (the collection named "default" lives in RocksDB's default family). RocksDB key = the record's
// key; value = a format byte (1), a flags byte (bit 0: tombstone), the record's offset as 8 bytes
// big-endian, then the value bytes (none for tombstones).
// Fencing: apply() writes a change only if its offset is greater than the one stored for its
// (collection, key), deletes included (they write tombstones), reading through the pending batch
// so repeats of a key within one call are fenced too; one WriteBatch per call, synced by default.
// One process writes a database at a time (RocksDB's LOCK file): open() returns errc::busy while
// another process (or another instance in this one) holds it.
// Not thread-safe. Errors: invalid_argument (parent directory missing, not a database), busy,
// io_error / corruption from RocksDB with context.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace syncline::store {

struct mirror_store_options {
    std::string path;   // Database directory; created if missing, its parent must exist.
    bool sync = true;   // fsync the WAL on every apply(). Default: true (the sink commits after it).
};

struct mirror_row {
    std::string_view collection;
    std::string_view key;
    std::string_view value;  // Empty for tombstones.
    std::uint64_t offset = 0;
    bool deleted = false;
};

// A change the mirror refuses for good, with the reason.
struct mirror_refusal {
    std::uint64_t offset = 0;
    std::string reason;
};

class mirror_store {
public:
    static result<std::unique_ptr<mirror_store>> open(const mirror_store_options& opts);
    ~mirror_store();

    // Applies the changes that pass the fence in one write. Returns the refused ones (a stored
    // value not in the mirror format, a column family RocksDB cannot create); everything else
    // is applied or fenced off. An error status means nothing of the call was written.
    result<std::vector<mirror_refusal>> apply(std::span<const record_view> changes);

    // Every row, tombstones included, from one snapshot across all column families. Views are
    // valid during the call only. corruption for a value not in the mirror format.
    status scan(const std::function<void(const mirror_row&)>& visit) const;

private:
    struct impl;  // Owns rocksdb::DB and the column family handles.
    explicit mirror_store(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::store
