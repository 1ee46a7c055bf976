#pragma once
// targets/internal/json_text.h: writing JSON text by hand on hot paths (one reused buffer per
// batch, no per-record allocation), shared by the targets that emit JSON (jsonl:, http(s):).
#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

namespace syncline::targets::internal {

// Length of the valid UTF-8 sequence at p (1..4), or 0 if the bytes there are not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid, as RFC 3629 says).
std::size_t utf8_length(const unsigned char* p, std::size_t n);

// Whether all of `s` is valid UTF-8.
bool valid_utf8(std::string_view s);

// Appends `s` as a JSON string; each byte that is not part of valid UTF-8 becomes U+FFFD
// (JSON text must be UTF-8). Callers that must stay lossless check valid_utf8 first.
void append_json_string(std::string& out, std::string_view s);

// Whether `v` can be embedded verbatim in a JSON document and parses back as the same value:
// valid JSON in UTF-8 without a leading byte-order mark.
bool embeddable_json(std::string_view v);

// Appends standard base64 (RFC 4648, with padding).
void append_base64(std::string& out, std::string_view bytes);

template <typename Int>
void append_number(std::string& out, Int v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

}  // namespace syncline::targets::internal
