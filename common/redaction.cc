#include "common/redaction.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "common/log.h"

namespace syncline::cli {
namespace {

bool names_a_secret(std::string_view name) {
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // password_env=VAR, secret_file=PATH: they say where the secret is, which is worth showing.
    for (const char* where : {"_env", "_file", "-env", "-file"})
        if (lower.ends_with(where)) return false;
    for (const char* word : {"password", "passwd", "secret", "token"})
        if (lower.find(word) != std::string::npos) return true;
    return false;
}

// The [begin, end) spans of `value` that are secret: the whole value for an option named like a
// secret, a URI's password (scheme://user:password@host) and secret query values (?password=x).
std::vector<std::pair<std::size_t, std::size_t>> secret_spans(std::string_view option, std::string_view value) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    if (value.empty()) return spans;
    if (names_a_secret(option)) return {{0, value.size()}};
    std::size_t query_from = 0;
    if (const auto scheme_end = value.find("://"); scheme_end != std::string_view::npos) {
        const auto authority = scheme_end + 3;
        // The userinfo ends at the last '@' before the query: a password may hold a raw '/' or '@'.
        const auto authority_end = std::min(value.find_first_of("?#", authority), value.size());
        const auto at = value.rfind('@', authority_end);
        if (at != std::string_view::npos && at > authority) {
            const auto colon = value.find(':', authority);
            if (colon != std::string_view::npos && colon < at) {
                spans.emplace_back(colon + 1, at);
                query_from = at;
            }
        }
    }
    if (auto query = value.find('?', query_from); query != std::string_view::npos) {
        std::size_t pos = query + 1;
        while (pos < value.size()) {
            std::size_t end = value.find('&', pos);
            if (end == std::string_view::npos) end = value.size();
            const auto eq = value.find('=', pos);
            if (eq != std::string_view::npos && eq < end && names_a_secret(value.substr(pos, eq - pos)))
                spans.emplace_back(eq + 1, end);
            pos = end + 1;
        }
    }
    return spans;
}

}  // namespace

std::string redact_secrets(std::string_view option, std::string_view value) {
    if (value.empty()) return "";
    if (names_a_secret(option)) return "***";
    std::string out(value);
    const auto spans = secret_spans(option, value);
    for (auto it = spans.rbegin(); it != spans.rend(); ++it) out.replace(it->first, it->second - it->first, "***");
    return out;
}

void remember_secrets(std::string_view option, std::string_view value) {
    for (const auto& [begin, end] : secret_spans(option, value)) remember_secret(value.substr(begin, end - begin));
}

std::string redact_secrets_in(std::string text, std::string_view option, std::string_view value) {
    const std::string redacted = redact_secrets(option, value);
    if (value.empty() || redacted == value) return text;
    for (auto at = text.find(value); at != std::string::npos; at = text.find(value, at + redacted.size()))
        text.replace(at, value.size(), redacted);
    return text;
}

}  // namespace syncline::cli
