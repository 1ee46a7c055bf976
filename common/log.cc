#include "common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <vector>

#include "common/metrics.h"

namespace syncline {
namespace {

std::atomic<int> g_level{static_cast<int>(log_level::info)};
std::atomic<int> g_format{static_cast<int>(log_format::text)};
std::once_flag g_env_once;

// Process and pipeline are set once at start-up, but a thread may log meanwhile.
std::mutex g_tags_mutex;
std::string g_process = program_invocation_short_name;
std::string g_pipeline;

std::mutex g_secrets_mutex;
std::vector<std::string> g_secrets;
std::atomic<bool> g_have_secrets{false};

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decoded(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// SYNCLINE_LOG_LEVEL / SYNCLINE_LOG_FORMAT are read once, on first use, so that a later
// set_log_level() (from --log-level) overrides them: the command line wins over the environment.
void init_from_env() {
    std::call_once(g_env_once, [] {
        const char* env = std::getenv("SYNCLINE_LOG_LEVEL");
        log_level level;
        if (env != nullptr && parse_log_level(env, level)) g_level.store(static_cast<int>(level));
        const char* format_env = std::getenv("SYNCLINE_LOG_FORMAT");
        log_format format;
        if (format_env != nullptr && parse_log_format(format_env, format)) g_format.store(static_cast<int>(format));
    });
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
    return n;
}

// A JSON string literal. Messages can quote bytes from bad input: invalid UTF-8 becomes U+FFFD
// so that every line stays parseable.
void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
        const char c = s[i];
        const std::size_t n = utf8_length(s, i);
        if (n == 0) {
            out.append("\\ufffd");
            ++i;
            continue;
        }
        if (n > 1) {
            out.append(s.substr(i, n));
        } else if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (c == '\n') {
            out.append("\\n");
        } else if (c == '\r') {
            out.append("\\r");
        } else if (c == '\t') {
            out.append("\\t");
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out.append(buf);
        } else {
            out.push_back(c);
        }
        i += n;
    }
    out.push_back('"');
}

// Plain decimal numbers become JSON numbers (lag=12 -> 12); anything else stays a string.
bool is_json_number(std::string_view v) {
    std::size_t i = v.starts_with('-') ? 1 : 0;
    const std::size_t digits_from = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    const std::size_t digits = i - digits_from;
    if (digits == 0 || digits > 18 || (digits > 1 && v[digits_from] == '0')) return false;
    if (i < v.size() && v[i] == '.') {
        const std::size_t frac_from = ++i;
        while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
        if (i == frac_from) return false;
    }
    return i == v.size();
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

log_level current_log_level() {
    init_from_env();
    return static_cast<log_level>(g_level.load());
}

void set_log_format(log_format format) {
    init_from_env();
    g_format.store(static_cast<int>(format));
}

log_format current_log_format() {
    init_from_env();
    return static_cast<log_format>(g_format.load());
}

void set_log_process(std::string_view process) {
    std::lock_guard lock(g_tags_mutex);
    g_process = process;
}

void set_log_pipeline(std::string_view pipeline) {
    std::lock_guard lock(g_tags_mutex);
    g_pipeline = pipeline;
}

std::string_view log_level_name(log_level level) {
    switch (level) {
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warn: return "warn";
        case log_level::error: return "error";
    }
    return "info";
}

std::string_view log_format_name(log_format format) { return format == log_format::json ? "json" : "text"; }

bool parse_log_format(std::string_view text, log_format& out) {
    if (text == "text") out = log_format::text;
    else if (text == "json") out = log_format::json;
    else return false;
    return true;
}

std::string quote_field(std::string_view value) {
    bool plain = !value.empty();
    for (char c : value)
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) plain = false;
    if (plain) return std::string(value);
    std::string out = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

void remember_secret(std::string_view secret) {
    std::lock_guard lock(g_secrets_mutex);
    for (std::string form : {std::string(secret), percent_decoded(secret)}) {
        if (form.size() < min_secret_bytes) continue;
        if (std::find(g_secrets.begin(), g_secrets.end(), form) != g_secrets.end()) continue;
        g_secrets.push_back(std::move(form));
    }
    // Longest first: a secret that contains another is replaced whole.
    std::sort(g_secrets.begin(), g_secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    g_have_secrets.store(!g_secrets.empty());
}

std::string scrub_secrets(std::string text) {
    if (!g_have_secrets.load(std::memory_order_relaxed)) return text;
    std::lock_guard lock(g_secrets_mutex);
    for (const std::string& secret : g_secrets)
        for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
            text.replace(at, secret.size(), "***");
    return text;
}

std::string format_log_line(log_level level, std::string_view component, std::string_view raw_msg,
                            std::span<const log_field> raw_fields) {
    // Secrets never reach a line: the message and every field value are scrubbed first.
    const std::string scrubbed = scrub_secrets(std::string(raw_msg));
    const std::string_view msg = scrubbed;
    std::vector<log_field> scrubbed_fields;
    std::span<const log_field> fields = raw_fields;
    if (g_have_secrets.load(std::memory_order_relaxed) && !raw_fields.empty()) {
        scrubbed_fields.reserve(raw_fields.size());
        for (const log_field& f : raw_fields) scrubbed_fields.emplace_back(f.key, scrub_secrets(f.value));
        fields = scrubbed_fields;
    }
    std::string process, pipeline;
    {
        std::lock_guard lock(g_tags_mutex);
        process = g_process;
        pipeline = g_pipeline;
    }
    std::string line;
    line.reserve(96 + component.size() + msg.size() + 24 * fields.size());
    if (current_log_format() == log_format::json) {
        line.append("{\"ts\":\"");
        append_timestamp(line);
        line.append("\",\"level\":\"").append(log_level_name(level)).append("\",\"process\":");
        append_json_string(line, process);
        line.append(",\"pid\":").append(std::to_string(::getpid())).append(",\"component\":");
        append_json_string(line, component);
        line.append(",\"pipeline\":");
        append_json_string(line, pipeline);
        line.append(",\"msg\":");
        append_json_string(line, msg);
        line.append(",\"fields\":{");
        bool first = true;
        for (const log_field& f : fields) {
            if (!first) line.push_back(',');
            first = false;
            append_json_string(line, f.key);
            line.push_back(':');
            if (is_json_number(f.value)) line.append(f.value);
            else append_json_string(line, f.value);
        }
        line.append("}}\n");
        return line;
    }
    append_timestamp(line);
    line.push_back(' ');
    line.append(log_level_name(level));
    line.push_back(' ');
    line.append(component);
    line.push_back(' ');
    // Before the message, not after: parsers take a message's last value up to the line's end.
    bool names_pipeline = false;
    for (const log_field& f : fields) names_pipeline = names_pipeline || f.key == "pipeline";
    if (!pipeline.empty() && !names_pipeline) line.append("pipeline=").append(pipeline).push_back(' ');
    // One event per line, always: embedded line breaks would let a message forge log lines.
    auto append_text = [&line](std::string_view text) {
        for (char c : text) {
            if (c == '\n') line.append("\\n");
            else if (c == '\r') line.append("\\r");
            else line.push_back(c);
        }
    };
    append_text(msg);
    for (const log_field& f : fields) {
        if (!line.ends_with(' ')) line.push_back(' ');
        line.append(f.key).push_back('=');
        append_text(quote_field(f.value));
    }
    line.push_back('\n');
    return line;
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

void logger::write(log_level level, std::string_view msg, std::span<const log_field> fields) const {
    if (!enabled(level)) return;
    write_stderr_line(format_log_line(level, _component, msg, fields));
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
    const std::string line = "dropped bad message: " + std::string(why);
    if (_limiter.allow()) _log.warn(line, {{"dropped_total", _total}});
    else _log.debug(line, {{"dropped_total", _total}});
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
