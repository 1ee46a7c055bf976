#pragma once
// targets/internal/uri.h: the target URI grammar every target shares: `scheme:rest[?query]`
// (or `scheme://rest`), and `name=value&...` options read by name, so that an unknown or
// malformed option is an error naming the URI rather than silently ignored.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace syncline::targets::internal {

struct parsed_uri {
    std::string_view scheme;
    std::string_view path;   // After "scheme:" or "scheme://", before '?'.
    std::string_view query;  // After '?', without it.
    bool had_slashes = false;  // Written as scheme://...
};

// "scheme:rest[?query]". `scheme://rest` is accepted too, so that sqlite:///abs/path and
// sqlite://rel/path mean what they look like.
parsed_uri split_uri(std::string_view uri);

// The `name=value` pairs of a query, consumed one by one; whatever is left at the end is an
// unknown option. Every error names the URI and lists the supported forms (`help`).
class uri_options {
public:
    uri_options(std::string uri, std::string help) : _uri(std::move(uri)), _help(std::move(help)) {}

    // Parses `query`; duplicate names and items without '=' are errors.
    status parse(std::string_view query);

    // The option's value, removed from the set; nullopt when absent.
    std::optional<std::string> take(const std::string& name);
    // An unsigned number in [min, max]; `fallback` when absent.
    result<std::uint64_t> take_uint(const std::string& name, std::uint64_t fallback, std::uint64_t min,
                                    std::uint64_t max);
    // A duration written in whole units of Duration (`timeout_ms` in milliseconds) in [min, max];
    // `fallback` when absent.
    template <typename Duration>
    result<Duration> take_duration(const std::string& name, Duration fallback, Duration min, Duration max) {
        auto n = take_uint(name, static_cast<std::uint64_t>(fallback.count()), static_cast<std::uint64_t>(min.count()),
                           static_cast<std::uint64_t>(max.count()));
        if (!n.ok()) return n.get_status();
        return Duration(static_cast<typename Duration::rep>(n.value()));
    }
    // The two timeouts of the network channel targets (amqp, smtp, http, push): connect_timeout_ms
    // (1..600000) and timeout_ms (1..3600000). Each keeps its value when absent.
    status take_timeouts(std::chrono::milliseconds& connect_timeout, std::chrono::milliseconds& timeout);
    // true/false/1/0/yes/no; `fallback` when absent.
    result<bool> take_bool(const std::string& name, bool fallback);
    // Error for the first option nobody took (call after taking all known ones).
    status reject_unknown() const;

    // invalid_argument: "target URI '<uri>': <why> (<help>)".
    status error(std::string_view why) const;

private:
    std::string _uri;
    std::string _help;
    std::map<std::string, std::string> _values;
};

// The text of a file, for keys and tokens; invalid_argument naming `what` and the path.
result<std::string> read_text_file(const std::string& path, std::string_view what);

// A secret named by option NAME_env (an environment variable) or NAME_file (a file whose trailing
// line break is dropped), never given itself: URIs are logged and shown in errors, so `NAME=` and a
// password in the authority are refused. nullopt when neither option is given. `file_path`
// (when given) receives the file's path ("" when the secret came from the environment).
result<std::optional<std::string>> take_secret(uri_options& options, const std::string& name,
                                               std::string* file_path = nullptr);
// take_secret for a secret the target cannot do without: an error saying what it is (`what`) and
// how to give it (options spelled with `prefix`, e.g. "syncline.") when neither option is there.
result<std::string> require_secret(uri_options& options, const std::string& name, std::string_view prefix,
                                   std::string_view what, std::string* file_path = nullptr);

// `[USER@]HOST[:PORT]` (HOST may be `[v6]`), the authority of every network target's URI: the one
// parser of hosts, ports and user names (docs/targets/README.md). USER and HOST are percent-decoded;
// PORT is 1..65535 in digits. A `USER:PASSWORD@` is always refused (passwords come from take_secret:
// URIs travel on command lines, which `ps` shows). Errors name what is wrong (no host, no user, bad
// port, unclosed '[') and never show the
// password.
struct authority_rules {
    bool user_required = false;     // `no user` when USER@ is missing (mysql).
    bool host_required = true;      // false: an empty HOST is left to the client's default (libpq).
};
struct authority {
    std::string user;  // Empty when not given.
    std::string host;  // Empty only when the rules allow it.
    int port = 0;      // `default_port` when not given.
};
result<authority> parse_authority(std::string_view text, int default_port, const uri_options& options,
                                  authority_rules rules = {});

// Decodes %XX escapes (for user names, passwords and paths inside URIs); nullopt if malformed.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace syncline::targets::internal
