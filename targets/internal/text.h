#pragma once
// targets/internal/text.h: rendering keys and values (arbitrary bytes) in error messages and
// reports: printable ASCII as is, everything else as \xNN, cut at `max` bytes with "...".
#include <cstddef>
#include <string>
#include <string_view>

namespace syncline::targets::internal {

inline std::string printable(std::string_view bytes, std::size_t max = 80) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() < max ? bytes.size() : max);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == max) {
            out += "...";
            break;
        }
        auto c = static_cast<unsigned char>(bytes[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

// A SQL identifier in double quotes (doubled inside), the standard form SQLite and PostgreSQL
// share: any collection name becomes a valid table name (spaces, quotes, keywords, unicode).
inline std::string quote_ident(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 2);
    out.push_back('"');
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

}  // namespace syncline::targets::internal
