#pragma once
// common/log.h: one line per event on stderr. An event is a message and its fields, given as
// fields (log.warn("nack", {{"worker", w}, {"attempt", n}, {"reason", r}})), never parsed back
// out of the message text. Text (default): `ts level component pipeline=P message key=value...`
// (pipeline= unless a field names it; a value with spaces, quotes or '=' is written key="a b");
// JSON lines (--log-format json): {"ts","level","process","pid","component","pipeline","msg",
// "fields":{key: value}} with numbers as numbers. Thread-safe (one write(2) per line).
// Level, format, process and pipeline are process-wide (SYNCLINE_LOG_LEVEL / SYNCLINE_LOG_FORMAT,
// overridden by --log-level / --log-format). rate_limiter keeps repeated warnings from flooding the log.
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace syncline {

namespace metrics {
class counter;
}

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

// One field of an event: its key (a short identifier: letters, digits, '_', '.', '-') and its
// value as text. Integers convert; a value that reads as a plain number is a JSON number.
struct log_field {
    log_field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
    log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
    log_field(std::string_view k, const char* v) : key(k), value(v) {}
    template <typename T>
        requires std::is_integral_v<T>
    log_field(std::string_view k, T v) : key(k), value(std::to_string(v)) {}
    std::string_view key;
    std::string value;
};
using log_fields = std::initializer_list<log_field>;
enum class log_format { text, json };

void set_log_level(log_level level);
log_level current_log_level();
void set_log_format(log_format format);
log_format current_log_format();
// The program name in JSON lines. Default: the executable's name (syncline-worker, ...).
void set_log_process(std::string_view process);
// The pipeline every line is tagged with (set once its options are parsed). Default: none.
void set_log_pipeline(std::string_view pipeline);

// Secrets this process knows: a target URI's password, the value of an option named like
// password/secret/token (cli::parse remembers those of every option it reads). One redaction for
// every surface: each log line, error report, /ready reason, /metrics page and file a process
// writes about itself (restarts.json) goes through scrub_secrets, which replaces every
// remembered secret (and its percent-decoded form) with "***". Secrets shorter than
// min_secret_bytes are not remembered (replacing "ab" everywhere would garble ordinary text), so
// every place a secret comes from refuses shorter ones at config time (targets' take_secret, the
// gateway's --http-token-file). Thread-safe.
inline constexpr std::size_t min_secret_bytes = 4;
void remember_secret(std::string_view secret);
std::string scrub_secrets(std::string text);

// One complete line (ending in '\n') in the current format, as logger::write emits it.
// The message and the fields' values are scrubbed of secrets (scrub_secrets).
std::string format_log_line(log_level level, std::string_view component, std::string_view msg,
                            std::span<const log_field> fields = {});
inline std::string format_log_line(log_level level, std::string_view component, std::string_view msg,
                                   log_fields fields) {
    return format_log_line(level, component, msg, std::span<const log_field>(fields.begin(), fields.size()));
}
// `value`, quoted ("a b" -> "\"a b\"") when it holds spaces, quotes or '=' or is empty, so
// that `key=` + quote_field(value) stays one field for the log's parsers.
std::string quote_field(std::string_view value);

// Writes `line` (ending in '\n') to stderr with one write(2), so lines from concurrent writers
// (threads, processes sharing a terminal) never interleave; retries on signals and short writes.
void write_stderr_line(std::string_view line);
// Parses "debug|info|warn|error"; false if unknown.
bool parse_log_level(std::string_view text, log_level& out);
// Parses "text|json"; false if unknown.
bool parse_log_format(std::string_view text, log_format& out);
std::string_view log_level_name(log_level level);
std::string_view log_format_name(log_format format);

class logger {
public:
    explicit logger(std::string component) : _component(std::move(component)) {}
    bool enabled(log_level level) const;
    void debug(std::string_view msg, log_fields fields = {}) const { write(log_level::debug, msg, fields); }
    void info(std::string_view msg, log_fields fields = {}) const { write(log_level::info, msg, fields); }
    void warn(std::string_view msg, log_fields fields = {}) const { write(log_level::warn, msg, fields); }
    void error(std::string_view msg, log_fields fields = {}) const { write(log_level::error, msg, fields); }
    void write(log_level level, std::string_view msg, log_fields fields = {}) const {
        write(level, msg, std::span<const log_field>(fields.begin(), fields.size()));
    }
    // Fields gathered at run time (some present only in some processes).
    void write(log_level level, std::string_view msg, std::span<const log_field> fields) const;

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
