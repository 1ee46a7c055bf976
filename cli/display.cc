#include "cli/display.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace syncline::cli {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex(std::string& out, unsigned char c) {
    out += "\\x";
    out += hex_digits[c >> 4];
    out += hex_digits[c & 0xf];
}

// Length of the valid UTF-8 sequence at s[i] and its code point; 0 when invalid.
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len;
    char32_t min;
    if (b0 >= 0xc2 && b0 <= 0xdf) { len = 2; cp = b0 & 0x1f; min = 0x80; }
    else if (b0 >= 0xe0 && b0 <= 0xef) { len = 3; cp = b0 & 0x0f; min = 0x800; }
    else if (b0 >= 0xf0 && b0 <= 0xf4) { len = 4; cp = b0 & 0x07; min = 0x10000; }
    else return 0;
    if (i + len > s.size()) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0;
    return len;
}

// Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian calendar.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

unsigned days_in_month(std::int64_t y, unsigned m) {
    static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

// Reads exactly `n` digits at text[pos].
bool digits(std::string_view text, std::size_t& pos, std::size_t n, unsigned& out) {
    if (pos + n > text.size()) return false;
    out = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const char c = text[pos + k];
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<unsigned>(c - '0');
    }
    pos += n;
    return true;
}

}  // namespace

std::string escape_for_display(std::string_view bytes, std::size_t max_chars) {
    std::string out;
    out.reserve(bytes.size() < 128 ? bytes.size() + 8 : 128);
    std::size_t width = 0;
    for (std::size_t i = 0; i < bytes.size();) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        std::string piece;
        std::size_t consumed = 1;
        std::size_t piece_width;
        if (c >= 0x20 && c < 0x7f) {
            if (c == '\\') piece = "\\\\";
            else piece.assign(1, static_cast<char>(c));
        } else if (c == '\n') {
            piece = "\\n";
        } else if (c == '\r') {
            piece = "\\r";
        } else if (c == '\t') {
            piece = "\\t";
        } else if (char32_t cp; c >= 0x80 && (consumed = utf8_sequence(bytes, i, cp)) != 0 && cp >= 0xa0) {
            piece.assign(bytes.substr(i, consumed));
        } else {
            // Controls, C1 controls (U+0080..U+009F) and invalid bytes could move the terminal's
            // cursor or garble the line: show them as hex, byte by byte.
            consumed = consumed == 0 ? 1 : consumed;
            for (std::size_t k = 0; k < consumed; ++k) append_hex(piece, static_cast<unsigned char>(bytes[i + k]));
        }
        piece_width = (c >= 0x80 && piece.size() == consumed && piece[0] != '\\') ? 1 : piece.size();
        if (max_chars != 0 && width + piece_width > max_chars) {
            out += "...";
            return out;
        }
        out += piece;
        width += piece_width;
        i += consumed;
    }
    return out;
}

std::string human_bytes(std::uint64_t bytes) {
    if (bytes < 1024) return std::to_string(bytes) + " B";
    static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = static_cast<double>(bytes) / 1024.0;
    std::size_t u = 0;
    while (v >= 1024.0 && u + 1 < std::size(units)) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string format_iso_time(std::int64_t ts_ms) {
    // Floor division, so times before 1970 still print the right calendar date.
    std::int64_t secs = ts_ms / 1000;
    std::int64_t ms = ts_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    std::int64_t days = secs / 86400;
    std::int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    std::int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(y), m, d,
                  static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                  static_cast<long long>(rem % 60), static_cast<long long>(ms));
    return buf;
}

bool parse_u64(std::string_view text, std::uint64_t& out) noexcept {
    if (text.empty()) return false;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && p == text.data() + text.size();
}

bool parse_i64(std::string_view text, std::int64_t& out) noexcept {
    if (text.starts_with("+")) text.remove_prefix(1);
    if (text.empty() || text.starts_with("+")) return false;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && p == text.data() + text.size();
}

result<std::int64_t> parse_time(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return status{errc::invalid_argument,
                      "invalid time '" + escape_for_display(text, 64) + "': " + std::string(why) +
                          " (expected ISO-8601 UTC like 2026-11-23T10:00:00Z, or milliseconds since the epoch)"};
    };
    if (std::int64_t ms; parse_i64(text, ms)) return ms;

    std::size_t pos = 0;
    unsigned year, month, day;
    if (!digits(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' || !digits(text, pos, 2, month) ||
        pos >= text.size() || text[pos++] != '-' || !digits(text, pos, 2, day))
        return bad("expected a date YYYY-MM-DD");
    if (month < 1 || month > 12) return bad("month out of range");
    if (day < 1 || day > days_in_month(year, month)) return bad("day out of range");
    std::int64_t ms = days_from_civil(year, month, day) * 86'400'000;
    if (pos == text.size()) return ms;  // A date alone: midnight UTC.

    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return bad("expected 'T' after the date");
    ++pos;
    unsigned hour, minute, second = 0;
    if (!digits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' || !digits(text, pos, 2, minute))
        return bad("expected a time HH:MM[:SS[.fff]]");
    if (pos < text.size() && text[pos] == ':') {
        ++pos;
        if (!digits(text, pos, 2, second)) return bad("expected seconds SS");
    }
    if (hour > 23 || minute > 59 || second > 59) return bad("time out of range");
    ms += (static_cast<std::int64_t>(hour) * 3600 + minute * 60 + second) * 1000;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        std::size_t n = 0;
        std::int64_t frac = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (n < 3) frac = frac * 10 + (text[pos] - '0');
            ++n;
            ++pos;
        }
        if (n == 0) return bad("expected digits after the decimal point");
        for (std::size_t k = n; k < 3; ++k) frac *= 10;
        ms += frac;
    }
    if (pos == text.size()) return bad("missing time zone: add Z for UTC or an offset like +02:00");
    if (text[pos] == 'Z' || text[pos] == 'z') {
        ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
        const bool minus = text[pos++] == '-';
        unsigned oh, om = 0;
        if (!digits(text, pos, 2, oh)) return bad("expected an offset like +02:00");
        if (pos < text.size() && text[pos] == ':') ++pos;
        if (pos < text.size() && !digits(text, pos, 2, om)) return bad("expected an offset like +02:00");
        if (oh > 23 || om > 59) return bad("offset out of range");
        // Local time = UTC + offset, so UTC = local - offset.
        const std::int64_t offset_ms = (static_cast<std::int64_t>(oh) * 60 + om) * 60'000;
        ms += minus ? offset_ms : -offset_ms;
    } else {
        return bad("unexpected characters after the time");
    }
    if (pos != text.size()) return bad("unexpected characters after the time zone");
    return ms;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        if (widths.size() < row.size()) widths.resize(row.size(), 0);
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    std::string out;
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            out += row[i];
            if (i + 1 < row.size()) out.append(widths[i] - row[i].size() + 2, ' ');
        }
        out += '\n';
    }
    return out;
}

}  // namespace syncline::cli
