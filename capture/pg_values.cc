#include "capture/pg_values.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "targets/internal/json_text.h"

namespace syncline::capture {
namespace {

namespace tj = targets::internal;

// Type OIDs (src/include/catalog/pg_type.dat); stable across PostgreSQL versions.
enum : std::uint32_t {
    bool_oid = 16, bytea_oid = 17, int8_oid = 20, int2_oid = 21, int4_oid = 23, oid_oid = 26,
    json_oid = 114, float4_oid = 700, float8_oid = 701, timestamp_oid = 1114, timestamptz_oid = 1184,
    numeric_oid = 1700, jsonb_oid = 3802,
};

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Whether `t` is a JSON number as PostgreSQL prints numbers (no NaN/Infinity, no leading '+').
bool json_number(std::string_view t) {
    std::size_t i = 0;
    if (i < t.size() && t[i] == '-') ++i;
    if (i >= t.size() || t[i] < '0' || t[i] > '9') return false;
    if (t[i] == '0' && i + 1 < t.size() && t[i + 1] >= '0' && t[i + 1] <= '9') return false;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i < t.size() && t[i] == '.') {
        ++i;
        if (i >= t.size() || t[i] < '0' || t[i] > '9') return false;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        if (i >= t.size() || t[i] < '0' || t[i] > '9') return false;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    }
    return i == t.size();
}

void append_timestamp(std::string& out, std::string_view t, bool with_zone) {
    // "2024-05-01 12:00:00.123456" (+ "+00" in UTC). Anything else (infinity, BC dates) stays text.
    if (t.size() < 19 || t[10] != ' ' || t.find(" BC") != std::string_view::npos) {
        tj::append_json_string(out, t);
        return;
    }
    std::string iso(t);
    iso[10] = 'T';
    if (with_zone && iso.ends_with("+00")) iso.replace(iso.size() - 3, 3, "Z");
    tj::append_json_string(out, iso);
}

}  // namespace

void append_value_json(std::string& out, const column_text& c) {
    if (!c.text) {
        out += "null";
        return;
    }
    const std::string_view t = *c.text;
    switch (c.type_oid) {
    case bool_oid:
        out += (t == "t" || t == "true") ? "true" : "false";
        return;
    case int2_oid: case int4_oid: case int8_oid: case oid_oid:
    case float4_oid: case float8_oid: case numeric_oid:
        if (json_number(t)) out += t;
        else tj::append_json_string(out, t);  // NaN, Infinity, -Infinity
        return;
    case json_oid: case jsonb_oid:
        if (tj::embeddable_json(t)) out += t;
        else tj::append_json_string(out, t);
        return;
    case bytea_oid: {
        if (t.size() >= 2 && t[0] == '\\' && t[1] == 'x' && t.size() % 2 == 0) {
            std::string raw;
            raw.reserve((t.size() - 2) / 2);
            bool ok = true;
            for (std::size_t i = 2; i < t.size(); i += 2) {
                const int hi = hex_value(t[i]), lo = hex_value(t[i + 1]);
                if (hi < 0 || lo < 0) { ok = false; break; }
                raw.push_back(static_cast<char>(hi * 16 + lo));
            }
            if (ok) {
                out += '"';
                tj::append_base64(out, raw);
                out += '"';
                return;
            }
        }
        tj::append_json_string(out, t);  // bytea_output = escape: the session sets hex, so not reached.
        return;
    }
    case timestamp_oid:
        append_timestamp(out, t, false);
        return;
    case timestamptz_oid:
        append_timestamp(out, t, true);
        return;
    default:
        tj::append_json_string(out, t);
        return;
    }
}

std::optional<std::string> encode_key(std::span<const column_text> key_columns) {
    if (key_columns.empty()) return std::nullopt;
    if (key_columns.size() == 1) {
        if (!key_columns[0].text || key_columns[0].text->empty()) return std::nullopt;
        return std::string(*key_columns[0].text);
    }
    std::string out = "[";
    for (std::size_t i = 0; i < key_columns.size(); ++i) {
        if (i) out += ',';
        append_value_json(out, key_columns[i]);
    }
    out += ']';
    return out;
}

std::string format_lsn(std::uint64_t lsn) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn & 0xffffffffu));
    return buf;
}

std::optional<std::uint64_t> parse_lsn(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 >= text.size() || slash > 8 ||
        text.size() - slash - 1 > 8)
        return std::nullopt;
    std::uint64_t hi = 0, lo = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i == slash) continue;
        const int v = hex_value(text[i]);
        if (v < 0) return std::nullopt;
        std::uint64_t& part = i < slash ? hi : lo;
        part = part * 16 + static_cast<std::uint64_t>(v);
    }
    return (hi << 32) | lo;
}

std::int64_t pg_micros_to_unix_ms(std::int64_t pg_micros) {
    constexpr std::int64_t pg_epoch_unix_s = 946'684'800;  // 2000-01-01T00:00:00Z
    return pg_micros / 1000 + pg_epoch_unix_s * 1000;
}

std::string format_pg_timestamp(std::int64_t pg_micros) {
    constexpr std::int64_t pg_epoch_unix_s = 946'684'800;
    std::int64_t secs = pg_micros / 1'000'000, micros = pg_micros % 1'000'000;
    if (micros < 0) { micros += 1'000'000; --secs; }
    const std::time_t t = static_cast<std::time_t>(secs + pg_epoch_unix_s);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "Z", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
    return buf;
}

}  // namespace syncline::capture
