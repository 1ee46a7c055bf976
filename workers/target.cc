#include "workers/target.h"

#include <charconv>
#include <string_view>

#include "workers/targets/jsonl_target.h"
#include "workers/targets/null_target.h"
#include "workers/targets/sqlite_target.h"

namespace syncline::workers {
namespace {

constexpr std::string_view supported_schemes =
    "supported: sqlite:PATH[?synchronous=full|normal&busy_timeout_ms=N], jsonl:PATH, null:";

status bad_uri(const std::string& uri, std::string_view why) {
    return {errc::invalid_argument,
            "target URI '" + uri + "': " + std::string(why) + " (" + std::string(supported_schemes) + ")"};
}

struct parsed_uri {
    std::string_view scheme;
    std::string_view path;
    std::string_view query;  // After '?', without it.
};

// "scheme:rest[?query]". `scheme://rest` is accepted too, so that sqlite:///abs/path and
// sqlite://rel/path mean what they look like (the authority part is never used).
parsed_uri split(std::string_view uri) {
    parsed_uri p;
    auto colon = uri.find(':');
    if (colon == std::string_view::npos) return p;
    p.scheme = uri.substr(0, colon);
    std::string_view rest = uri.substr(colon + 1);
    if (rest.starts_with("//")) rest.remove_prefix(2);
    auto q = rest.find('?');
    p.path = rest.substr(0, q);
    if (q != std::string_view::npos) p.query = rest.substr(q + 1);
    return p;
}

// Applies `name=value&...` to the sqlite options; unknown names and bad values are errors so
// that a typo never silently yields weaker durability.
status parse_sqlite_query(const std::string& uri, std::string_view query, sqlite_target_options& o) {
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string_view::npos) return bad_uri(uri, "option '" + std::string(item) + "' needs a value");
        std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
        if (name == "synchronous") {
            if (value == "full" || value == "FULL") o.synchronous = sqlite_sync::full;
            else if (value == "normal" || value == "NORMAL") o.synchronous = sqlite_sync::normal;
            else return bad_uri(uri, "synchronous must be full or normal, not '" + std::string(value) + "'");
        } else if (name == "busy_timeout_ms") {
            unsigned long ms = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
            if (ec != std::errc{} || end != value.data() + value.size() || ms > 3'600'000)
                return bad_uri(uri, "busy_timeout_ms must be 0..3600000, not '" + std::string(value) + "'");
            o.busy_timeout = std::chrono::milliseconds(ms);
        } else {
            return bad_uri(uri, "unknown option '" + std::string(name) + "'");
        }
    }
    return {};
}

template <typename T>
result<std::unique_ptr<target>> upcast(result<std::unique_ptr<T>> r) {
    if (!r.ok()) return r.get_status();
    return std::unique_ptr<target>(std::move(r).value());
}

}  // namespace

result<std::unique_ptr<target>> open_target(const std::string& uri, const target_options& /*opts*/) {
    parsed_uri p = split(uri);
    if (p.scheme.empty()) return bad_uri(uri, "no scheme");
    if (p.scheme == "sqlite") {
        if (p.path.empty()) return bad_uri(uri, "empty path");
        sqlite_target_options o;
        o.path = std::string(p.path);
        SYNCLINE_RETURN_IF_ERROR(parse_sqlite_query(uri, p.query, o));
        return upcast(sqlite_target::open(o));
    }
    if (p.scheme == "jsonl") {
        if (p.path.empty()) return bad_uri(uri, "empty path");
        if (!p.query.empty()) return bad_uri(uri, "jsonl takes no options");
        return upcast(jsonl_target::open({.path = std::string(p.path)}));
    }
    if (p.scheme == "null") {
        if (!p.path.empty() || !p.query.empty()) return bad_uri(uri, "null: takes no path");
        return std::unique_ptr<target>(std::make_unique<null_target>());
    }
    return bad_uri(uri, "unknown scheme '" + std::string(p.scheme) + "'");
}

}  // namespace syncline::workers
