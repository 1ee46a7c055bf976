#include "workers/target.h"

#include <string_view>

#include "workers/internal/uri.h"
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

// Applies the sqlite options; unknown names and bad values are errors so that a typo never
// silently yields weaker durability.
status parse_sqlite_query(const std::string& uri, std::string_view query, sqlite_target_options& o) {
    internal::uri_options opts(uri, std::string(supported_schemes));
    SYNCLINE_RETURN_IF_ERROR(opts.parse(query));
    if (auto sync = opts.take("synchronous")) {
        if (*sync == "full" || *sync == "FULL") o.synchronous = sqlite_sync::full;
        else if (*sync == "normal" || *sync == "NORMAL") o.synchronous = sqlite_sync::normal;
        else return opts.error("synchronous must be full or normal, not '" + *sync + "'");
    }
    auto ms = opts.take_uint("busy_timeout_ms", static_cast<std::uint64_t>(o.busy_timeout.count()), 0, 3'600'000);
    if (!ms.ok()) return ms.get_status();
    o.busy_timeout = std::chrono::milliseconds(ms.value());
    return opts.reject_unknown();
}

template <typename T>
result<std::unique_ptr<target>> upcast(result<std::unique_ptr<T>> r) {
    if (!r.ok()) return r.get_status();
    return std::unique_ptr<target>(std::move(r).value());
}

}  // namespace

result<std::unique_ptr<target>> open_target(const std::string& uri, const target_options& /*opts*/) {
    internal::parsed_uri p = internal::split_uri(uri);
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
