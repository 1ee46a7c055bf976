#pragma once
// store/state_store.h: a pipeline's durable state, owned by its sink: the committed offset and the
// dead letters. Lives in <state root>/<pipeline>/ (a RocksDB directory with column families
// `offsets` (pipeline -> 8-byte big-endian offset) and `dlq` (pipeline + offset -> entry)), so
// several pipelines share a state root and each has its own lock: a second writer of one pipeline
// (a second sink, `offsets set` while it runs) gets errc::busy.
// Not thread-safe. Errors: busy, io_error, corruption, not_found (reader of a missing pipeline).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace syncline::store {

struct state_store_options {
    std::string root;               // State root directory; created if missing (writer).
    std::string pipeline;           // Validated name ([A-Za-z0-9._-]).
    bool sync = true;               // fsync every commit. Default: true (the sink depends on it).
};

struct dead_letter {
    std::uint64_t offset = 0;
    std::string record;             // The encoded record (codec::encode_record form).
    std::string error;              // Why the target refused it.
    std::uint32_t attempts = 0;
    std::int64_t ts_ms = 0;         // When it was dead-lettered.
};

class state_store {
public:
    // The writer (sink, offsets set, dlq commands).
    static result<std::unique_ptr<state_store>> open(const state_store_options& opts);
    // A read-only view that works while the writer runs; catch_up() sees its newer commits (the name change_log readers use too).
    static result<std::unique_ptr<state_store>> open_reader(const std::string& root, const std::string& pipeline);
    ~state_store();

    // Pipelines that have state under `root` (directory names), sorted. Only directories that
    // hold a state database count: run directories (`<pipeline>.run/` of `syncline run`) and
    // stray folders are not pipelines.
    static result<std::vector<std::string>> list_pipelines(const std::string& root);

    // Deletes a pipeline's state directory (a temporary replay pipeline when it is done).
    // busy while another process holds it (a running sink); ok if it does not exist.
    static status remove_pipeline(const std::string& root, const std::string& pipeline);

    // nullopt if the pipeline never committed.
    result<std::optional<std::uint64_t>> committed() const;

    // Atomically (one synced WriteBatch) stores the dead letters and moves the committed offset
    // forward. invalid_argument if `offset` is below the committed one.
    status commit(std::uint64_t offset, std::span<const dead_letter> new_dead_letters = {});

    // Sets the committed offset to any value (offsets set / replay): the only way backwards.
    status reset(std::uint64_t offset);

    // Dead letters with offset >= from, at most `limit`, in offset order.
    result<std::vector<dead_letter>> dead_letters(std::uint64_t from = 0, std::size_t limit = SIZE_MAX) const;
    status remove_dead_letters(std::span<const std::uint64_t> offsets);
    // How many dead letters the pipeline holds (keys only: nothing is decoded).
    result<std::uint64_t> dead_letter_count() const;

    // Reader: sees the writer's newer commits.
    status catch_up();

private:
    struct impl;
    explicit state_store(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::store
