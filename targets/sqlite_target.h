#pragma once
// targets/sqlite_target.h: `sqlite:PATH` — the embedded default state target.
//
// Schema: one table per collection, named after the collection (quoted, so any name works except
// the empty one, one containing a NUL byte, or one starting with `sqlite_`, which SQLite reserves:
// records of those collections fail permanently, naming the collection):
//   "key" TEXT PRIMARY KEY, "value" TEXT (NULL for tombstones), "offset" INTEGER (the record's
//   offset), "deleted" INTEGER 0/1, "updated_at" INTEGER (the record's ts, ms since epoch).
// Fencing: every change is `INSERT ... ON CONFLICT("key") DO UPDATE ... WHERE excluded."offset" >
// "<table>"."offset"`, deletes included (a delete writes a tombstone row with deleted = 1).
// One deliver() = one BEGIN IMMEDIATE ... COMMIT transaction. WAL mode, so several worker
// processes can share the file (writers serialize on the write lock, waiting up to
// busy_timeout); synchronous=FULL by default so a returned deliver() survives power loss.
// Errors: open -> invalid_argument (parent directory missing, not a database), unavailable
// (locked, cannot open now). deliver -> transient errc::unavailable (whole batch rolled back) when
// the database is busy/locked/read-only/failing; per-record failures for records the database
// refuses (a constraint or trigger the user added, a table of another shape under that name).
// Not thread-safe: one instance per thread (instances on the same file are fine).
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "targets/target.h"

namespace syncline::targets {

enum class sqlite_sync { full, normal };

// The statements behind the schema and the fence above, for the target and for
// bench/sqlite_baseline (which measures SQLite's own limit on exactly this schema).
// `table` is the quoted table name (a quoted collection name).
namespace sqlite_schema {
std::string create_table(std::string_view table);  // CREATE TABLE IF NOT EXISTS ... WITHOUT ROWID
std::string fenced_upsert(std::string_view table);  // INSERT ... ON CONFLICT ... WHERE offset >; ?1..?5
// Page cache, memory-mapped reads and checkpoint size, set on every connection after the journal mode.
inline constexpr const char* tuning_pragmas =
    "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456; PRAGMA wal_autocheckpoint=10000";
}  // namespace sqlite_schema

struct sqlite_target_options {
    std::string path;                                 // Database file; created if missing, its directory must exist.
    sqlite_sync synchronous = sqlite_sync::full;      // URI ?synchronous=normal trades power-loss durability for speed. Default: full.
    std::chrono::milliseconds busy_timeout{5000};     // URI ?busy_timeout_ms=N: wait for other writers. Default: 5 s.
};

class sqlite_target final : public target {
public:
    static result<std::unique_ptr<sqlite_target>> open(const sqlite_target_options& opts);
    ~sqlite_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    // Every table with the schema above (other tables in the file are ignored), tombstones
    // included (value ""), read in one read transaction (a consistent snapshot).
    result<std::optional<state_map>> read_state() override;

private:
    struct impl;  // Owns the sqlite3 connection; keeps <sqlite3.h> out of this header.
    explicit sqlite_target(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::targets
