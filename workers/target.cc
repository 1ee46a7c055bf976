#include "workers/target.h"

#include <functional>
#include <string_view>

#include "workers/internal/uri.h"
#include "workers/targets/http_target.h"
#include "workers/targets/jsonl_target.h"
#include "workers/targets/null_target.h"
#include "workers/targets/sqlite_target.h"

namespace syncline::workers {
namespace {

// One line per scheme, listed in every URI error so the user sees what is accepted.
constexpr std::string_view supported_schemes =
    "supported: sqlite:PATH[?synchronous=full|normal&busy_timeout_ms=N], jsonl:PATH, null:, "
    "http(s)://HOST[:PORT]/PATH?syncline.secret_env=NAME|syncline.secret_file=PATH[&syncline.mode=batch|record"
    "&syncline.timeout_ms=N&syncline.connect_timeout_ms=N&syncline.verify_tls=true|false&syncline.ca_file=PATH]";

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

// An HTTP endpoint's query string is its own: syncline's options are the items named
// syncline.NAME, which the target takes out before sending (docs/targets/webhook.md).
result<opener> parse_http(const std::string& uri, const internal::parsed_uri&, internal::uri_options& options,
                          const target_options& opts) {
    auto o = parse_http_target_options(uri, options, opts.pipeline);
    if (!o.ok()) return o.get_status();
    return opener([o = std::move(o.value())] { return upcast(http_target::open(o)); });
}

struct scheme {
    std::string_view name;
    scheme_parser parse;
    bool parses_own_query = false;  // The parser feeds `options` itself (the query is not all options).
};

constexpr scheme schemes[] = {
    {"sqlite", parse_sqlite},
    {"jsonl", parse_jsonl},
    {"null", parse_null},
    {"http", parse_http, true},
    {"https", parse_http, true},
};

result<opener> parse_target_uri(const std::string& uri, const target_options& opts) {
    internal::uri_options options(uri, std::string(supported_schemes));
    internal::parsed_uri p = internal::split_uri(uri);
    if (p.scheme.empty()) return options.error("no scheme");
    for (const scheme& s : schemes) {
        if (s.name != p.scheme) continue;
        if (!s.parses_own_query) SYNCLINE_RETURN_IF_ERROR(options.parse(p.query));
        auto made = s.parse(uri, p, options, opts);
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
