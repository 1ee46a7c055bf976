#pragma once
// store/run_lock.h: "this pipeline is running". `syncline run` holds it for its lifetime (sink,
// ventilator and workers, restart backoffs included); a sink started any other way (by hand,
// a systemd unit) holds it itself, since the sink is the committing process; a sink the runner
// started finds its ancestor holding it and runs under that (sink_lock). `offsets set --execute`
// refuses while anyone holds it, because the state's own writer lock is free while the runner
// waits to restart a crashed sink, and the ventilator and workers still run meanwhile.
// The lock is an flock(2) on ROOT/PIPELINE.running holding the holder's pid (for messages): the
// kernel releases it when the holder dies, whatever way. Not thread-safe (one holder per process).
#include <optional>
#include <string>
#include <sys/types.h>

#include "common/status.h"

namespace syncline::store {

class run_lock {
public:
    // Takes the lock, creating ROOT if needed. busy (naming the holder's pid) if another process
    // holds it; io_error if the file cannot be opened.
    static result<run_lock> acquire(const std::string& root, const std::string& pipeline);
    // The pid of the process holding the lock now; nullopt when nobody does.
    static std::optional<pid_t> holder(const std::string& root, const std::string& pipeline);
    // For the sink: nullopt (nothing to hold) when an ancestor of this process holds the lock
    // (`syncline run` holds it on its sink's behalf, across the sink's restarts); otherwise
    // acquire(): a second sink of the pipeline gets busy naming the holder's pid.
    static result<std::optional<run_lock>> sink_lock(const std::string& root, const std::string& pipeline);

    run_lock(run_lock&& other) noexcept;
    run_lock& operator=(run_lock&& other) noexcept;
    run_lock(const run_lock&) = delete;
    run_lock& operator=(const run_lock&) = delete;
    ~run_lock();

private:
    explicit run_lock(int fd) : _fd(fd) {}
    int _fd = -1;
};

}  // namespace syncline::store
