#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "common/metrics.h"

namespace syncline {
namespace {

std::atomic<int> g_level{static_cast<int>(log_level::info)};
std::once_flag g_env_once;

// SYNCLINE_LOG_LEVEL is read once, on first use, so that set_log_level() called later (from
// --log-level) overrides it: the command line wins over the environment.
void init_from_env() {
    std::call_once(g_env_once, [] {
        const char* env = std::getenv("SYNCLINE_LOG_LEVEL");
        log_level level;
        if (env != nullptr && parse_log_level(env, level)) g_level.store(static_cast<int>(level));
    });
}

std::string_view level_name(log_level level) {
    switch (level) {
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warn: return "warn";
        case log_level::error: return "error";
    }
    return "info";
}

void append_timestamp(std::string& out) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    gmtime_r(&ts.tv_sec, &utc);
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900,
                                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                                ts.tv_nsec / 1'000'000);
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
}

}  // namespace

void set_log_level(log_level level) {
    init_from_env();
    g_level.store(static_cast<int>(level));
}

bool parse_log_level(std::string_view text, log_level& out) {
    if (text == "debug") out = log_level::debug;
    else if (text == "info") out = log_level::info;
    else if (text == "warn" || text == "warning") out = log_level::warn;
    else if (text == "error") out = log_level::error;
    else return false;
    return true;
}

bool logger::enabled(log_level level) const {
    init_from_env();
    return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void logger::write(log_level level, std::string_view msg) const {
    if (!enabled(level)) return;
    std::string line;
    line.reserve(48 + _component.size() + msg.size());
    append_timestamp(line);
    line.push_back(' ');
    line.append(level_name(level));
    line.push_back(' ');
    line.append(_component);
    line.push_back(' ');
    // One event per line, always: embedded line breaks would let a message forge log lines.
    for (char c : msg) {
        if (c == '\n') line.append("\\n");
        else if (c == '\r') line.append("\\r");
        else line.push_back(c);
    }
    line.push_back('\n');
    write_stderr_line(line);
}

void write_stderr_line(std::string_view line) {
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // Nowhere to report a failing stderr.
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void drop_counter::drop(std::string_view why) {
    ++_total;
    if (_counted != nullptr) _counted->inc();
    std::string line = "dropped bad message: ";
    line += why;
    line += " dropped_total=" + std::to_string(_total);
    if (_limiter.allow()) _log.warn(line);
    else _log.debug(line);
}

bool rate_limiter::allow() {
    const auto now = std::chrono::steady_clock::now();
    if (now >= _next) {
        _last_suppressed = _suppressed;
        _suppressed = 0;
        _next = now + _interval;
        return true;
    }
    ++_suppressed;
    return false;
}

}  // namespace syncline
