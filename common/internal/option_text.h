#pragma once
// common/internal/option_text.h: how option problems are worded, shared by the option modules
// (cli_options.cc, endpoints.cc, names.cc, redaction.cc). Not a public header.
#include <string>
#include <string_view>

#include "common/status.h"

namespace syncline::cli::detail {

// Callers pass "endpoint" or "--endpoint"; messages always show the flag as typed by users.
inline std::string flag(std::string_view option) {
    if (option.starts_with("-")) return std::string(option);
    return "--" + std::string(option);
}

inline status invalid(std::string msg) { return status{errc::invalid_argument, std::move(msg)}; }

// No spaces, control characters or DEL.
inline bool printable(std::string_view s) {
    for (unsigned char c : s)
        if (c <= 0x20 || c == 0x7f) return false;
    return true;
}

}  // namespace syncline::cli::detail
