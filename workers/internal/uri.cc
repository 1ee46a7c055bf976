#include "workers/internal/uri.h"

#include <charconv>

namespace syncline::workers::internal {

parsed_uri split_uri(std::string_view uri) {
    parsed_uri p;
    auto colon = uri.find(':');
    if (colon == std::string_view::npos) return p;
    p.scheme = uri.substr(0, colon);
    std::string_view rest = uri.substr(colon + 1);
    if (rest.starts_with("//")) {
        rest.remove_prefix(2);
        p.had_slashes = true;
    }
    auto q = rest.find('?');
    p.path = rest.substr(0, q);
    if (q != std::string_view::npos) p.query = rest.substr(q + 1);
    return p;
}

status uri_options::error(std::string_view why) const {
    return {errc::invalid_argument, "target URI '" + _uri + "': " + std::string(why) + " (" + _help + ")"};
}

status uri_options::parse(std::string_view query) {
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string_view::npos) return error("option '" + std::string(item) + "' needs a value");
        auto value = percent_decode(item.substr(eq + 1));
        if (!value) return error("option '" + std::string(item.substr(0, eq)) + "' has a bad %-escape");
        auto [it, inserted] = _values.emplace(std::string(item.substr(0, eq)), std::move(*value));
        if (!inserted) return error("option '" + it->first + "' given twice");
    }
    return {};
}

std::optional<std::string> uri_options::take(const std::string& name) {
    auto it = _values.find(name);
    if (it == _values.end()) return std::nullopt;
    std::string value = std::move(it->second);
    _values.erase(it);
    return value;
}

result<std::uint64_t> uri_options::take_uint(const std::string& name, std::uint64_t fallback, std::uint64_t min,
                                             std::uint64_t max) {
    auto text = take(name);
    if (!text) return fallback;
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc{} || end != text->data() + text->size() || n < min || n > max)
        return error(name + " must be " + std::to_string(min) + ".." + std::to_string(max) + ", not '" + *text + "'");
    return n;
}

result<bool> uri_options::take_bool(const std::string& name, bool fallback) {
    auto text = take(name);
    if (!text) return fallback;
    if (*text == "true" || *text == "1" || *text == "yes") return true;
    if (*text == "false" || *text == "0" || *text == "no") return false;
    return error(name + " must be true or false, not '" + *text + "'");
}

status uri_options::reject_unknown() const {
    if (_values.empty()) return {};
    return error("unknown option '" + _values.begin()->first + "'");
}

std::optional<std::string> percent_decode(std::string_view text) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

}  // namespace syncline::workers::internal
