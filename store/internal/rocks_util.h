#pragma once
// store/internal/rocks_util.h: helpers shared by change_log.cc and state_store.cc. Private to
// store/: the only place rocksdb::Status is turned into our status (with context), plus the
// big-endian key encoding and the secondary-instance scratch directory.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include "common/status.h"

namespace syncline::store::internal {

// Maps a RocksDB status to ours, prefixed with `context`. File errors are said in our words (what
// could not be done, the path, the system's reason and the fix), never RocksDB's own ("While
// mkdir if missing: ..."). A lock failure (another process or another instance in this process
// holds the LOCK file) becomes errc::busy with `busy_message` as the whole message, so callers
// can word it for their users.
status from_rocks(const rocksdb::Status& s, std::string_view context, std::string_view busy_message = {});

// True when an Open failed because the LOCK file is held elsewhere.
bool is_lock_error(const rocksdb::Status& s);

// 8-byte big-endian, so RocksDB's bytewise order is numeric order.
inline void put_be64(std::string& out, std::uint64_t v) {
    char b[8];
    for (int i = 7; i >= 0; --i) {
        b[i] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
    out.append(b, 8);
}
inline void put_be64(char* out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        out[i] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
}
inline std::string be64(std::uint64_t v) {
    std::string s;
    put_be64(s, v);
    return s;
}
inline std::uint64_t get_be64(const char* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}
inline std::uint64_t get_be64(const rocksdb::Slice& s) { return get_be64(s.data()); }

// A private directory (mkdtemp) for a RocksDB secondary instance's info log and manifest copy,
// removed with everything under it when the owner goes away.
class scratch_dir {
public:
    scratch_dir() = default;
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir();
    status create(std::string_view prefix);
    const std::string& path() const { return _path; }

private:
    std::string _path;
};

// The DBOptions every store starts from: only the writer creates the database and its column
// families; a secondary instance must be able to open any SST the primary's MANIFEST names
// (max_open_files = -1), and opens them on the calling thread (a catch-up would otherwise start
// threads every time). Each store adds its own tuning.
rocksdb::DBOptions base_db_options(bool writer);

// The one way a store opens its RocksDB directory: as the one writer (DB::Open), or as a
// secondary instance (read-only, follows the writer) whose own files go to `secondary_dir`,
// created here under `scratch_prefix`. On failure `db` is null and `handles` empty, and the
// error is from_rocks(s, context + ": open", busy_message).
struct db_open {
    bool writer = false;
    const rocksdb::DBOptions& options;
    const std::string& path;
    const std::vector<rocksdb::ColumnFamilyDescriptor>& column_families;
    std::string_view scratch_prefix;  // For the secondary's scratch directory.
    std::string_view context;         // "change log PATH", "pipeline P state ROOT/P".
    std::string_view busy_message;    // The whole message when another writer holds the lock.
};
status open_db(const db_open& how, scratch_dir& secondary_dir, rocksdb::DB*& db,
               std::vector<rocksdb::ColumnFamilyHandle*>& handles);

// Sum of the sizes of the regular files under `dir` (recursively); 0 on errors.
std::uint64_t directory_bytes(const std::string& dir);

}  // namespace syncline::store::internal
