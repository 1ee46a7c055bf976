#pragma once
// cli/display.h: formatting shared by the subcommands: bytes made safe for a terminal, sizes for
// humans, timestamps as ISO-8601 UTC, and the parsing of times given on the command line.
// Pure functions, thread-safe.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace syncline::cli {

// `bytes` with valid UTF-8 kept, \n \r \t \\ written as escapes and every other control or invalid
// byte as \xNN; cut after `max_chars` characters with "..." appended (0 = no limit).
std::string escape_for_display(std::string_view bytes, std::size_t max_chars = 0);

// Rows as aligned columns (two spaces apart), one line each; the first row is usually a header.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

// "0 B", "512 B", "1.5 KiB", "3.2 MiB", "1.1 GiB".
std::string human_bytes(std::uint64_t bytes);

// "2026-11-23T10:00:00.123Z".
std::string format_iso_time(std::int64_t ts_ms);

// Milliseconds since the epoch from ISO-8601 UTC ("2026-11-23T10:00:00Z", optional fraction
// ".123", "+02:00"-style offsets, a space instead of T, a date alone meaning midnight UTC) or from
// an integer of milliseconds since the epoch. invalid_argument naming the problem otherwise.
result<std::int64_t> parse_time(std::string_view text);

// Decimal uint64 / int64 with an optional sign for the signed one; nothing else is accepted.
bool parse_u64(std::string_view text, std::uint64_t& out) noexcept;
bool parse_i64(std::string_view text, std::int64_t& out) noexcept;

}  // namespace syncline::cli
