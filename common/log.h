#pragma once
// common/log.h: one line per event on stderr: `ts level component message key=value...`.
// Thread-safe (one write(2) per line). The level is process-wide (set_level / SYNCLINE_LOG_LEVEL).
// rate_limiter keeps warnings about bad input from flooding the log.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace syncline {

namespace metrics {
class counter;
}

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

void set_log_level(log_level level);

// Writes `line` (ending in '\n') to stderr with one write(2), so lines from concurrent writers
// (threads, processes sharing a terminal) never interleave; retries on signals and short writes.
void write_stderr_line(std::string_view line);
// Parses "debug|info|warn|error"; false if unknown.
bool parse_log_level(std::string_view text, log_level& out);

class logger {
public:
    explicit logger(std::string component) : _component(std::move(component)) {}
    bool enabled(log_level level) const;
    void debug(std::string_view msg) const { write(log_level::debug, msg); }
    void info(std::string_view msg) const { write(log_level::info, msg); }
    void warn(std::string_view msg) const { write(log_level::warn, msg); }
    void error(std::string_view msg) const { write(log_level::error, msg); }
    void write(log_level level, std::string_view msg) const;

private:
    std::string _component;
};

// Allows at most one event per `interval`; counts the ones it suppressed.
class rate_limiter {
public:
    explicit rate_limiter(std::chrono::milliseconds interval = std::chrono::seconds(1)) : _interval(interval) {}
    // True when the caller should log now; `suppressed()` then tells how many were skipped before.
    bool allow();
    std::uint64_t suppressed() const noexcept { return _last_suppressed; }

private:
    std::chrono::milliseconds _interval;
    std::chrono::steady_clock::time_point _next{};
    std::uint64_t _suppressed = 0;
    std::uint64_t _last_suppressed = 0;
};

// Counts input a process drops (bad frames, foreign pipelines) and says why: a rate-limited
// warning with the running total, and every drop at debug level. With `counted`, each drop also
// increments that metric (the bad-frames counter a process exposes).
class drop_counter {
public:
    explicit drop_counter(const logger& log, metrics::counter* counted = nullptr) : _log(log), _counted(counted) {}
    void drop(std::string_view why);
    std::uint64_t total() const noexcept { return _total; }

private:
    const logger& _log;
    metrics::counter* _counted;
    rate_limiter _limiter;
    std::uint64_t _total = 0;
};

}  // namespace syncline
