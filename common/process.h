#pragma once
// common/process.h: what every process boundary shares: exit codes, the stop flag set by
// SIGINT/SIGTERM, and the one-line error reports printed before exiting.
// A second SIGINT/SIGTERM while stopping exits at once with code 1 (`_exit`): nothing we
// write is left half-done by that, because every store write is atomic.
#include <atomic>
#include <memory>
#include <string_view>

#include "common/status.h"

namespace syncline {

inline constexpr int exit_ok = 0;       // Clean stop, including SIGINT/SIGTERM.
inline constexpr int exit_failure = 1;  // Runtime failure.
inline constexpr int exit_usage = 2;    // Bad command line or config.

// Cheap to copy; copies share one flag. A default-constructed flag is independent of signals
// (tests stop in-process runs with it); install_stop_handlers() returns the signal-driven one.
class stop_flag {
public:
    stop_flag() : _flag(std::make_shared<std::atomic<bool>>(false)) {}
    bool stop_requested() const noexcept { return _flag->load(std::memory_order_relaxed); }
    // Asks the process to stop (also what the signal handlers do).
    void request_stop() const noexcept { _flag->store(true, std::memory_order_relaxed); }

private:
    friend stop_flag install_stop_handlers();
    explicit stop_flag(std::shared_ptr<std::atomic<bool>> flag) : _flag(std::move(flag)) {}
    std::shared_ptr<std::atomic<bool>> _flag;
};

// Set by a supervisor to its pid in its children's environment: they stop when it dies.
inline constexpr const char* stop_with_parent_env = "SYNCLINE_STOP_WITH_PARENT";

// Installs SIGINT/SIGTERM handlers (and ignores SIGPIPE); returns the process-wide flag. The
// first signal sets the flag (drain, commit, exit 0); a second one exits 1 at once, except that
// repeats sent by the supervisor of stop_with_parent_env (the kernel re-sends the parent-death
// signal as a dying multi-threaded parent's threads exit) count as the first.
stop_flag install_stop_handlers();

// Keeps batch-sized buffers (~100 KB-1 MiB) on the heap: by default glibc mmaps and unmaps each
// one, and the page faults and madvise calls cost the pipeline about a fifth of its throughput.
void tune_allocator_for_batches();

// The process's peak resident set size in KiB (getrusage), for the shutdown summary line.
long peak_rss_kb();

// "<component>: error: <message>" on stderr; returns exit_usage.
int report_usage_error(std::string_view component, const status& s);
// "<component>: error: <message>" on stderr; returns exit_failure.
int report_fatal(std::string_view component, const status& s);
int report_fatal(std::string_view component, std::string_view message);

}  // namespace syncline
