#pragma once
// store/wal_watch.h: wakes a tailing reader of a store directory (the change log, a pipeline's
// state) when a writer in another process writes to the directory's RocksDB write-ahead log, so
// the reader catches up at once instead of on its next poll (docs/architecture.md "Tailing").
// Linux inotify on the directory: an event for a write to, or the creation of, a `*.log` file
// (RocksDB's WAL files; the info log is `LOG`). Only a hint: events may be merged or lost (queue
// overflow counts as an event), a network filesystem may give none, and an event comes with the
// write() before the writer's fsync. A reader therefore still catches up on its poll period and
// never needs an event for correctness; with one, it reads sooner.
// Usage: poll fd() for POLLIN (zmq_poll takes it too), then consume() and catch up: consume
// before catching up, so a write that lands after the catch-up raises a new event.
// Not thread-safe: one thread per instance. Move-only; closes its descriptor.
#include <chrono>
#include <string>

#include "common/status.h"

namespace syncline::store {

class wal_watch {
public:
    // Watches `dir` (which must exist). io_error (naming errno) when inotify is unavailable or
    // out of watches (fs.inotify.max_user_watches / max_user_instances): callers then poll.
    static result<wal_watch> open(const std::string& dir);

    wal_watch(wal_watch&& other) noexcept;
    wal_watch& operator=(wal_watch&& other) noexcept;
    wal_watch(const wal_watch&) = delete;
    wal_watch& operator=(const wal_watch&) = delete;
    ~wal_watch();

    // Readable (POLLIN) when events are pending.
    int fd() const { return _fd; }
    // Reads every pending event without blocking; true when a WAL file was written or created
    // (or events were lost) since the last call.
    bool consume();
    // consume()s events until a WAL write is seen (true) or `timeout` passes (false).
    bool wait(std::chrono::milliseconds timeout);

private:
    explicit wal_watch(int fd) : _fd(fd) {}
    int _fd = -1;
};

}  // namespace syncline::store
