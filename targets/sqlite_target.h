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
// One deliver() = one BEGIN IMMEDIATE ... COMMIT transaction. WAL mode, so other processes can
// share the file (writers serialize on the write lock, waiting up to busy_timeout; readers never
// wait); synchronous=FULL by default so a returned deliver() survives power loss. Of a pipeline's
// workers one writes and the others stand by (writer_group below).
// Errors: open -> invalid_argument (parent directory missing, not a database), unavailable
// (locked, cannot open now, the writer slot is held by another process). deliver -> transient errc::unavailable (whole batch rolled back) when
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
// Page cache, memory-mapped reads and checkpoint size (WAL pages), set on every connection after
// the journal mode. Checkpoints: each copies every page the WAL holds back into the database file
// and syncs it. A batch of random keys dirties a large part of the table, so checkpointing every
// 10,000 pages wrote the table back once per commit or two; every 100,000 pages (400 MiB of WAL)
// writes each page back once per many commits (docs/targets/sqlite.md "Checkpoints").
inline constexpr unsigned default_wal_autocheckpoint = 100'000;
std::string tuning_pragmas(unsigned wal_autocheckpoint = default_wal_autocheckpoint);
}  // namespace sqlite_schema

struct sqlite_target_options {
    std::string path;                                 // Database file; created if missing, its directory must exist.
    sqlite_sync synchronous = sqlite_sync::full;      // URI ?synchronous=normal trades power-loss durability for speed. Default: full.
    std::chrono::milliseconds busy_timeout{5000};     // URI ?busy_timeout_ms=N: wait for other writers. Default: 5 s.
    // URI ?wal_autocheckpoint=N: WAL pages (4 KiB) after which a commit checkpoints. Bigger: fewer
    // writes of each page, a bigger -wal file (it is reused, not shrunk). Default: 100,000 (400 MiB).
    unsigned wal_autocheckpoint = sqlite_schema::default_wal_autocheckpoint;
    // target_options::writer_group. Non-empty: open() takes the group's writer slot, an exclusive
    // flock(2) on PATH.syncline-GROUP.writer (created next to the database, left in place), held
    // until the target is destroyed or its process ends; if another process holds it, open()
    // fails with errc::unavailable and the worker stands by. One writer per file keeps SQLite
    // at its single-connection rate: several connections writing in turn each re-read the pages
    // the others' commits invalidated (docs/benchmarks.md, "SQLite: one writer").
    std::string writer_group;
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
