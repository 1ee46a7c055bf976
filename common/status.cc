#include "common/status.h"

#include <cstdio>
#include <cstdlib>

namespace syncline {

const char* errc_name(errc code) noexcept {
    switch (code) {
        case errc::ok: return "ok";
        case errc::invalid_argument: return "invalid_argument";
        case errc::not_found: return "not_found";
        case errc::corruption: return "corruption";
        case errc::io_error: return "io_error";
        case errc::unavailable: return "unavailable";
        case errc::busy: return "busy";
        case errc::cancelled: return "cancelled";
    }
    return "unknown";
}

status status::with_context(const std::string& context) const {
    if (ok()) return *this;
    if (_msg.empty()) return status{_code, context};
    return status{_code, context + ": " + _msg};
}

std::string status::to_string() const {
    std::string out = errc_name(_code);
    if (!_msg.empty()) {
        out += ": ";
        out += _msg;
    }
    return out;
}

void check_failed(const char* expr, const char* file, int line) {
    // fprintf rather than the logger: this must work even if logging is what broke.
    std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
    std::fflush(stderr);
    std::abort();
}

}  // namespace syncline
