#include "workers/target.h"

#include <algorithm>
#include <functional>
#include <string_view>

#include "workers/internal/uri.h"
#include "workers/targets/jsonl_target.h"
#include "workers/targets/null_target.h"
#include "workers/targets/redis_target.h"
#include "workers/targets/rocksdb_target.h"
#include "workers/targets/sqlite_target.h"

namespace syncline::workers {
namespace {

// One line per scheme, listed in every URI error so the user sees what is accepted.
constexpr std::string_view supported_schemes =
    "supported: sqlite:PATH[?synchronous=full|normal&busy_timeout_ms=N], jsonl:PATH, null:, "
    "redis://[USER@]HOST[:PORT][/DB][?password_env=VAR&prefix=P&connect_timeout_ms=N&timeout_ms=N&chunk_records=N], "
    "rocksdb:PATH[?sync=true|false]";

// Opening is split in two so that `syncline config check` can validate a URI without touching
// the target: a scheme's parser checks the URI and its options and returns the opener.
using opener = std::function<result<std::unique_ptr<target>>()>;
using scheme_parser = result<opener> (*)(const std::string& uri, const internal::parsed_uri& p,
                                         internal::uri_options& options, const target_options& opts);

template <typename T>
result<std::unique_ptr<target>> upcast(result<std::unique_ptr<T>> r) {
    if (!r.ok()) return r.get_status();
    return std::unique_ptr<target>(std::move(r).value());
}

// Unknown names and bad values are errors so that a typo never silently yields weaker durability.
result<opener> parse_sqlite(const std::string&, const internal::parsed_uri& p, internal::uri_options& options,
                            const target_options&) {
    if (p.path.empty()) return options.error("empty path");
    sqlite_target_options o;
    o.path = std::string(p.path);
    if (auto sync = options.take("synchronous")) {
        if (*sync == "full" || *sync == "FULL") o.synchronous = sqlite_sync::full;
        else if (*sync == "normal" || *sync == "NORMAL") o.synchronous = sqlite_sync::normal;
        else return options.error("synchronous must be full or normal, not '" + *sync + "'");
    }
    auto ms = options.take_uint("busy_timeout_ms", static_cast<std::uint64_t>(o.busy_timeout.count()), 0, 3'600'000);
    if (!ms.ok()) return ms.get_status();
    o.busy_timeout = std::chrono::milliseconds(ms.value());
    return opener([o] { return upcast(sqlite_target::open(o)); });
}

result<opener> parse_jsonl(const std::string&, const internal::parsed_uri& p, internal::uri_options&,
                           const target_options&) {
    if (p.path.empty()) return status{errc::invalid_argument, "empty path"};
    return opener([path = std::string(p.path)] { return upcast(jsonl_target::open({.path = path})); });
}

result<opener> parse_null(const std::string&, const internal::parsed_uri& p, internal::uri_options&,
                          const target_options&) {
    if (!p.path.empty()) return status{errc::invalid_argument, "null: takes no path"};
    return opener([] { return result<std::unique_ptr<target>>(std::unique_ptr<target>(std::make_unique<null_target>())); });
}

// redis://[user@]host[:port][/db]: parsed by redis_target (a password in the URI is refused).
result<opener> parse_redis(const std::string&, const internal::parsed_uri& p, internal::uri_options& options,
                           const target_options&) {
    auto parsed = redis_target::options_from_uri(p, options);
    if (!parsed.ok()) return parsed.get_status();
    return opener([o = std::move(parsed.value())] { return upcast(redis_target::open(o)); });
}

result<opener> parse_rocksdb(const std::string&, const internal::parsed_uri& p, internal::uri_options& options,
                             const target_options&) {
    if (p.path.empty()) return options.error("empty path");
    rocksdb_target_options o;
    o.path = std::string(p.path);
    auto sync = options.take_bool("sync", o.sync);
    if (!sync.ok()) return sync.get_status();
    o.sync = sync.value();
    return opener([o] { return upcast(rocksdb_target::open(o)); });
}

struct scheme {
    std::string_view name;
    scheme_parser parse;
};

constexpr scheme schemes[] = {
    {"sqlite", parse_sqlite},
    {"jsonl", parse_jsonl},
    {"null", parse_null},
    {"redis", parse_redis},
    {"rocksdb", parse_rocksdb},
};

// Errors quote the URI: a password written into it (user:password@host) is shown as "***".
std::string without_password(const std::string& uri) {
    const auto start = uri.find("://");
    if (start == std::string::npos) return uri;
    const auto end = std::min(uri.find_first_of("/?", start + 3), uri.size());
    const auto at = uri.rfind('@', end - 1);
    if (at == std::string::npos || at < start + 3) return uri;
    const auto colon = uri.find(':', start + 3);
    if (colon == std::string::npos || colon > at) return uri;
    return uri.substr(0, colon + 1) + "***" + uri.substr(at);
}

result<opener> parse_target_uri(const std::string& raw_uri, const target_options& opts) {
    const std::string uri = without_password(raw_uri);
    internal::uri_options options(uri, std::string(supported_schemes));
    internal::parsed_uri p = internal::split_uri(raw_uri);
    if (p.scheme.empty()) return options.error("no scheme");
    for (const scheme& s : schemes) {
        if (s.name != p.scheme) continue;
        SYNCLINE_RETURN_IF_ERROR(options.parse(p.query));
        auto made = s.parse(raw_uri, p, options, opts);
        // Parsers may return a bare reason; every error leaves here naming the URI.
        if (!made.ok() && made.get_status().message().find(uri) == std::string::npos)
            return options.error(made.get_status().message());
        SYNCLINE_RETURN_IF_ERROR(options.reject_unknown());
        return made;
    }
    return options.error("unknown scheme '" + std::string(p.scheme) + "'");
}

}  // namespace

status check_target_uri(const std::string& uri, const target_options& opts) {
    return parse_target_uri(uri, opts).get_status();
}

result<std::unique_ptr<target>> open_target(const std::string& uri, const target_options& opts) {
    auto made = parse_target_uri(uri, opts);
    if (!made.ok()) return made.get_status();
    return made.value()();
}

}  // namespace syncline::workers
