#pragma once
// targets/rocksdb_target.h: `rocksdb:PATH[?sync=true|false]` — a mirror of the log's
// state in a RocksDB database (store/mirror_store.h holds the layout and the fence), for
// replicating state to another host: run a worker there. Full description: docs/targets/rocksdb.md.
//
// RocksDB lets one process write a database. A worker that finds it held by another (a second
// worker of the pipeline, `syncline verify` or `replay` on the same path) gets errc::unavailable
// from open(), so the worker process waits as a standby, retrying, and takes over when the
// holder exits: a rocksdb: pipeline delivers through one worker at a time, whatever --workers says.
// Errors: open -> invalid_argument (parent directory missing, not a database), unavailable
// (held elsewhere, I/O). deliver -> transient errc::unavailable when the write fails (nothing of
// the batch applied); per-record failures for records the mirror refuses (see mirror_store).
// Not thread-safe: one instance per thread.
#include <memory>
#include <string>

#include "targets/target.h"

namespace syncline::store {
class mirror_store;
}

namespace syncline::targets {

struct rocksdb_target_options {
    std::string path;   // Database directory; created if missing, its parent must exist.
    bool sync = true;   // ?sync=false: no fsync per batch (a crash of the host may lose acked batches). Default: true.
};

class rocksdb_target final : public target {
public:
    static result<std::unique_ptr<rocksdb_target>> open(const rocksdb_target_options& opts);
    ~rocksdb_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    // Every column family from one snapshot, tombstones included (value "").
    result<std::optional<state_map>> read_state() override;

private:
    explicit rocksdb_target(std::unique_ptr<store::mirror_store> store);
    std::unique_ptr<store::mirror_store> _store;
};

}  // namespace syncline::targets
