#include "targets/target.h"

#include <algorithm>
#include <functional>
#include <string_view>

#include "common/cli_options.h"
#include "targets/internal/uri.h"
#include "targets/jsonl_target.h"
#include "targets/null_target.h"
#include "targets/rocksdb_target.h"
#include "targets/sqlite_target.h"

// The build switches (cmake/syncline.cmake): which kinds this build has.
#if !defined(SYNCLINE_WITH_POSTGRES) || !defined(SYNCLINE_WITH_MYSQL) || !defined(SYNCLINE_WITH_REDIS) || \
    !defined(SYNCLINE_WITH_NATS) || !defined(SYNCLINE_WITH_AMQP) || !defined(SYNCLINE_WITH_HTTP)
#error "targets/target.cc is compiled with the SYNCLINE_WITH_* definitions (targets/CMakeLists.txt)"
#endif
#if SYNCLINE_WITH_POSTGRES
#include "targets/postgres_target.h"
#endif
#if SYNCLINE_WITH_MYSQL
#include "targets/mysql_target.h"
#endif
#if SYNCLINE_WITH_REDIS
#include "targets/redis_target.h"
#endif
#if SYNCLINE_WITH_NATS
#include "targets/nats_target.h"
#endif
#if SYNCLINE_WITH_AMQP
#include "targets/amqp_target.h"
#endif
#if SYNCLINE_WITH_HTTP
#include "targets/http_target.h"
#include "targets/push_target.h"
#include "targets/smtp_target.h"
#endif

namespace syncline::targets {
namespace {

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
                            const target_options& opts) {
    if (p.path.empty()) return options.error("empty path");
    sqlite_target_options o;
    o.path = std::string(p.path);
    o.writer_group = opts.writer_group;
    if (auto sync = options.take("synchronous")) {
        if (*sync == "full" || *sync == "FULL") o.synchronous = sqlite_sync::full;
        else if (*sync == "normal" || *sync == "NORMAL") o.synchronous = sqlite_sync::normal;
        else return options.error("synchronous must be full or normal, not '" + *sync + "'");
    }
    auto ms = options.take_uint("busy_timeout_ms", static_cast<std::uint64_t>(o.busy_timeout.count()), 0, 3'600'000);
    if (!ms.ok()) return ms.get_status();
    o.busy_timeout = std::chrono::milliseconds(ms.value());
    auto pages = options.take_uint("wal_autocheckpoint", o.wal_autocheckpoint, 100, 10'000'000);
    if (!pages.ok()) return pages.get_status();
    o.wal_autocheckpoint = static_cast<unsigned>(pages.value());
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

#if SYNCLINE_WITH_POSTGRES
// postgresql://user@host[:port]/db: libpq's URI form, except that its options are ours (libpq
// would refuse `schema`), so the parts become libpq connection keywords. As for every target, a
// password in the URI is refused (URIs travel on the workers' command lines, shown by `ps`): it
// comes from ?password_file= or ?password_env=, or else from libpq's defaults (PGPASSWORD,
// ~/.pgpass or PGPASSFILE, PGSERVICE), as do host etc. when not given (PGHOST, ...).
result<opener> parse_postgres(const std::string& uri, const internal::parsed_uri& p, internal::uri_options& options,
                              const target_options& opts) {
    if (!p.had_slashes) return options.error("expected postgresql://[USER@]HOST[:PORT]/DB");
    postgres_target_options o;
    // The userinfo ends at the last '@' (a password may hold a raw '/' or '@'), the authority at
    // the first '/' after it; the database follows.
    const std::string_view rest = p.path;
    const auto at = rest.rfind('@');
    const auto slash = rest.find('/', at == std::string_view::npos ? 0 : at + 1);
    auto authority = internal::parse_authority(rest.substr(0, slash), 0, options, {.host_required = false});
    if (!authority.ok()) return authority.get_status();
    auto password = internal::take_secret(options, "password");
    if (!password.ok()) return password.get_status();
    auto keyword = [&](const char* name, std::string text) {
        if (!text.empty()) o.connection.emplace_back(name, std::move(text));
    };
    keyword("user", std::move(authority.value().user));
    if (password.value()) keyword("password", std::move(*password.value()));
    keyword("host", std::move(authority.value().host));
    if (authority.value().port != 0) keyword("port", std::to_string(authority.value().port));
    auto db = internal::percent_decode(slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1));
    if (!db) return options.error("bad %-escape in the dbname");
    keyword("dbname", std::move(*db));
    // ?host=/run/postgresql: a unix socket directory, as libpq's URIs allow.
    if (auto h = options.take("host")) o.connection.emplace_back("host", *h);
    if (auto schema = options.take("schema")) {
        if (schema->empty() || schema->size() > 63 || schema->find('\0') != std::string::npos)
            return options.error("schema must be 1..63 bytes");
        o.schema = *schema;
    }
    if (auto value = options.take("value")) {
        if (*value == "jsonb") o.value_type = postgres_value_type::jsonb;
        else if (*value == "text") o.value_type = postgres_value_type::text;
        else if (*value == "bytea") o.value_type = postgres_value_type::bytea;
        else return options.error("value must be jsonb, text or bytea, not '" + *value + "'");
    }
    if (auto mode = options.take("sslmode")) {
        static constexpr std::string_view modes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
        if (std::find(std::begin(modes), std::end(modes), *mode) == std::end(modes))
            return options.error("sslmode must be disable, allow, prefer, require, verify-ca or verify-full");
        o.connection.emplace_back("sslmode", *mode);
    }
    auto timeout = options.take_uint("connect_timeout", 10, 1, 3600);
    if (!timeout.ok()) return timeout.get_status();
    o.connection.emplace_back("connect_timeout", std::to_string(timeout.value()));
    o.connection.emplace_back("client_encoding", "UTF8");
    o.connection.emplace_back("application_name", "syncline" + (opts.pipeline.empty() ? "" : "-" + opts.pipeline));
    o.description = cli::redact_secrets("target", uri);
    return opener([o] { return upcast(postgres_target::open(o)); });
}

#endif

#if SYNCLINE_WITH_MYSQL
// mysql://user@host[:port]/db (alias mariadb://): parsed by mysql_target (a password in the URI is refused).
result<opener> parse_mysql(const std::string& uri, const internal::parsed_uri& p, internal::uri_options& options,
                           const target_options&) {
    auto parsed = mysql_target::options_from_uri(cli::redact_secrets("target", uri), p, options);
    if (!parsed.ok()) return parsed.get_status();
    return opener([o = std::move(parsed.value())] { return upcast(mysql_target::open(o)); });
}

#endif

#if SYNCLINE_WITH_REDIS
// redis://[user@]host[:port][/db]: parsed by redis_target (a password in the URI is refused).
result<opener> parse_redis(const std::string&, const internal::parsed_uri& p, internal::uri_options& options,
                           const target_options&) {
    auto parsed = redis_target::options_from_uri(p, options);
    if (!parsed.ok()) return parsed.get_status();
    return opener([o = std::move(parsed.value())] { return upcast(redis_target::open(o)); });
}

#endif

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

#if SYNCLINE_WITH_HTTP
// An HTTP endpoint's query string is its own: syncline's options are the items named
// syncline.NAME, which the target takes out before sending (docs/targets/webhook.md).
result<opener> parse_http(const std::string& uri, const internal::parsed_uri&, internal::uri_options& options,
                          const target_options& opts) {
    auto o = parse_http_target_options(uri, options, opts.pipeline);
    if (!o.ok()) return o.get_status();
    return opener([o = std::move(o.value())] { return upcast(http_target::open(o)); });
}

#endif

#if SYNCLINE_WITH_NATS
// nats://host[:port]/subject-prefix: JetStream publishing (docs/targets/nats.md).
result<opener> parse_nats(const std::string&, const internal::parsed_uri& p, internal::uri_options& options,
                          const target_options& opts) {
    auto o = parse_nats_target_options(p, options, opts.pipeline);
    if (!o.ok()) return o.get_status();
    return opener([o = std::move(o.value())] { return upcast(nats_target::open(o)); });
}

#endif

#if SYNCLINE_WITH_AMQP
// amqp://[user@]host[:port]/exchange: parsed by amqp_target (a password in the URI is refused).
result<opener> parse_amqp(const std::string&, const internal::parsed_uri& p, internal::uri_options& options,
                          const target_options& opts) {
    auto parsed = amqp_target::options_from_uri(p, options, opts.pipeline);
    if (!parsed.ok()) return parsed.get_status();
    return opener([o = std::move(parsed.value())] { return upcast(amqp_target::open(o)); });
}

#endif

#if SYNCLINE_WITH_HTTP
// smtp(s)://host[:port]?from=...&to=...: parsed by smtp_target (docs/targets/smtp.md).
result<opener> parse_smtp(const std::string&, const internal::parsed_uri& p, internal::uri_options& options,
                          const target_options& opts) {
    auto o = parse_smtp_target_options(p, options, opts.pipeline);
    if (!o.ok()) return o.get_status();
    return opener([o = std::move(o.value())] { return upcast(smtp_target::open(o)); });
}

// fcm://PROJECT and apns://TOPIC: mobile push (docs/targets/push.md).
result<opener> parse_push(const std::string&, const internal::parsed_uri& p, internal::uri_options& options,
                          const target_options& opts) {
    auto o = p.scheme == "fcm" ? parse_fcm_options(p, options, opts.pipeline) : parse_apns_options(p, options, opts.pipeline);
    if (!o.ok()) return o.get_status();
    return opener([o = std::move(o.value())] { return upcast(push_target::open(o)); });
}

#endif

// The registry's private half: each kind's parser, beside its public row.
struct kind_row {
    target_kind kind;
    scheme_parser parse;
    bool parses_own_query = false;  // The parser feeds `options` itself (the query is not all options).
};

constexpr std::string_view sqlite_schemes[] = {"sqlite"}, jsonl_schemes[] = {"jsonl"}, null_schemes[] = {"null"},
    postgres_schemes[] = {"postgresql", "postgres"}, mysql_schemes[] = {"mysql", "mariadb"},
    redis_schemes[] = {"redis"}, rocksdb_schemes[] = {"rocksdb"}, http_schemes[] = {"http", "https"},
    nats_schemes[] = {"nats"}, amqp_schemes[] = {"amqp"}, smtp_schemes[] = {"smtp", "smtps"},
    fcm_schemes[] = {"fcm"}, apns_schemes[] = {"apns"};

constexpr target_capabilities state{.fenced_state = true, .verifiable = true};
// Channels: at-least-once with ids from pipeline + offset; nothing to read back.
constexpr target_capabilities channel{};
// Requests whose id is their batch's offset range must stay the same request on every redelivery.
constexpr target_capabilities channel_batch_ids{.joins_batches = false};

const kind_row kinds[] = {
    {{"sqlite", sqlite_schemes, "sqlite:PATH[?synchronous=full|normal&busy_timeout_ms=N&wal_autocheckpoint=PAGES]",
      "fenced state, one table per collection, one writing worker per pipeline (docs/targets/sqlite.md)",
      {.fenced_state = true, .verifiable = true, .max_writers = 1}}, parse_sqlite},
#if SYNCLINE_WITH_POSTGRES
    {{"postgresql", postgres_schemes,
      "postgresql://USER@HOST[:PORT]/DB[?password_env=VAR|password_file=PATH&schema=S&value=jsonb|text|bytea&sslmode=M"
      "&connect_timeout=S]",
      "fenced state, one table per collection (docs/targets/postgresql.md)", state}, parse_postgres},
#endif
#if SYNCLINE_WITH_MYSQL
    {{"mysql", mysql_schemes,
      "mysql|mariadb://USER@HOST[:PORT]/DB[?password_env=VAR|password_file=PATH&value=json|text|blob&socket=PATH"
      "&tls=off|require|verify&tls_ca_file=PATH&connect_timeout=S&timeout=S]",
      "fenced state, one table per collection (docs/targets/mysql.md)", state}, parse_mysql},
#endif
#if SYNCLINE_WITH_REDIS
    {{"redis", redis_schemes,
      "redis://[USER@]HOST[:PORT][/DB][?password_env=VAR|password_file=PATH&prefix=P&connect_timeout_ms=N"
      "&timeout_ms=N&chunk_records=N]",
      "fenced state, a hash per key (docs/targets/redis.md)", state}, parse_redis},
#endif
    {{"rocksdb", rocksdb_schemes, "rocksdb:PATH[?sync=true|false]",
      "fenced mirror, one writer at a time (docs/targets/rocksdb.md)",
      {.fenced_state = true, .verifiable = true, .max_writers = 1}}, parse_rocksdb},
    {{"jsonl", jsonl_schemes, "jsonl:PATH", "append-only change file, at-least-once; its reader fences",
      {.verifiable = true}}, parse_jsonl},
    {{"null", null_schemes, "null:", "discards everything (benchmarks)", channel}, parse_null},
#if SYNCLINE_WITH_HTTP
    {{"http", http_schemes,
      "http(s)://HOST[:PORT]/PATH?syncline.secret_env=NAME|syncline.secret_file=PATH[&syncline.mode=batch|record"
      "&syncline.timeout_ms=N&syncline.connect_timeout_ms=N&syncline.verify_tls=true|false&syncline.ca_file=PATH]",
      "signed webhook POST, at-least-once with an Idempotency-Key (docs/targets/webhook.md)", channel_batch_ids},
     parse_http, true},
#endif
#if SYNCLINE_WITH_NATS
    {{"nats", nats_schemes,
      "nats://HOST[:PORT]/SUBJECT-PREFIX[?token_env=VAR|token_file=PATH|creds_file=PATH&connect_timeout_ms=N"
      "&ack_timeout_ms=N&create_stream=NAME&duplicate_window_s=N&missing_stream=retry|dead_letter]",
      "JetStream publish per record, at-least-once with Nats-Msg-Id (docs/targets/nats.md)", channel}, parse_nats},
#endif
#if SYNCLINE_WITH_AMQP
    {{"amqp", amqp_schemes,
      "amqp://[USER@]HOST[:PORT]/EXCHANGE[?vhost=V&user=U&password_env=VAR|password_file=PATH&declare_exchange=TYPE"
      "&mandatory=true|false&heartbeat_s=N&connect_timeout_ms=N&timeout_ms=N]",
      "RabbitMQ publish per record, at-least-once with message_id (docs/targets/amqp.md)", channel}, parse_amqp},
#endif
#if SYNCLINE_WITH_HTTP
    {{"smtp", smtp_schemes,
      "smtp(s)://HOST[:PORT]?from=ADDRESS&to=TEMPLATE[&subject=T&body=T|body_file=PATH&mode=record|digest"
      "&deletes=skip|send&starttls=try|required|never&user=U&password_env=VAR|password_file=PATH&timeout_ms=N"
      "&connect_timeout_ms=N&verify_tls=true|false&ca_file=PATH]",
      "an email per change or digest, at-least-once with a Message-ID (docs/targets/smtp.md)", channel_batch_ids},
     parse_smtp},
    {{"fcm", fcm_schemes,
      "fcm://PROJECT?token_file=PATH|token_env=VAR&title=T&body=T[&data=T&device_token=T&deletes=skip|send"
      "&endpoint=URL&ca_file=PATH]",
      "Firebase push per change, at-least-once (docs/targets/push.md)", channel}, parse_push},
    {{"apns", apns_schemes,
      "apns://TOPIC?key_file=PATH&key_id=K&team_id=T&title=T&body=T[&push_type=P&priority=N&collapse_id=T"
      "&sandbox=B&data=T&device_token=T&deletes=skip|send&endpoint=URL&ca_file=PATH]",
      "Apple push per change, at-least-once with apns-id (docs/targets/push.md)", channel}, parse_push},
#endif
};

// The kinds a build switch can leave out (cmake/syncline.cmake): a URI of one this build lacks is
// refused naming the switch, never "unknown scheme".
struct switched_kind {
    std::string_view name;
    std::span<const std::string_view> schemes;
    std::string_view build_switch;
    bool built;
};
constexpr std::string_view http_family_schemes[] = {"http", "https", "smtp", "smtps", "fcm", "apns"};
constexpr switched_kind switched_kinds[] = {
    {"postgresql", postgres_schemes, "SYNCLINE_WITH_POSTGRES", SYNCLINE_WITH_POSTGRES != 0},
    {"mysql", mysql_schemes, "SYNCLINE_WITH_MYSQL", SYNCLINE_WITH_MYSQL != 0},
    {"redis", redis_schemes, "SYNCLINE_WITH_REDIS", SYNCLINE_WITH_REDIS != 0},
    {"nats", nats_schemes, "SYNCLINE_WITH_NATS", SYNCLINE_WITH_NATS != 0},
    {"amqp", amqp_schemes, "SYNCLINE_WITH_AMQP", SYNCLINE_WITH_AMQP != 0},
    {"http, smtp and push", http_family_schemes, "SYNCLINE_WITH_HTTP", SYNCLINE_WITH_HTTP != 0},
};

const switched_kind* left_out(std::string_view scheme) {
    for (const switched_kind& kind : switched_kinds)
        if (!kind.built && std::find(kind.schemes.begin(), kind.schemes.end(), scheme) != kind.schemes.end())
            return &kind;
    return nullptr;
}

const kind_row* find_row(std::string_view scheme) {
    for (const kind_row& row : kinds)
        for (std::string_view s : row.kind.schemes)
            if (s == scheme) return &row;
    return nullptr;
}

// Listed in every URI error, so the user sees what is accepted.
std::string supported_schemes() {
    std::string text = "supported: ";
    for (const kind_row& row : kinds) {
        if (&row != &kinds[0]) text += ", ";
        text += row.kind.synopsis;
    }
    return text;
}

result<opener> parse_target_uri(const std::string& uri, const target_options& opts) {
    // Errors name the URI: never with its password.
    const std::string shown = cli::redact_secrets("target", uri);
    internal::uri_options options(shown, supported_schemes());
    internal::parsed_uri p = internal::split_uri(uri);
    if (p.scheme.empty()) return options.error("no scheme");
    if (const kind_row* s = find_row(p.scheme)) {
        if (!s->parses_own_query) SYNCLINE_RETURN_IF_ERROR(options.parse(p.query));
        auto made = s->parse(uri, p, options, opts);
        if (!made.ok()) {
            // Parsers may return a bare reason; every error leaves here naming the URI. A parser
            // that stopped early has not taken its later options: they are not "unknown".
            if (made.get_status().message().find(shown) == std::string::npos)
                return options.error(made.get_status().message());
            return made.get_status();
        }
        SYNCLINE_RETURN_IF_ERROR(options.reject_unknown());
        return made;
    }
    if (const switched_kind* off = left_out(p.scheme))
        return options.error("the " + std::string(off->name) + " targets are not in this build (it was configured with -D" +
                             std::string(off->build_switch) + "=OFF; rebuild with -D" + std::string(off->build_switch) +
                             "=ON)");
    return options.error("unknown scheme '" + std::string(p.scheme) + "'");
}

}  // namespace

std::string_view target_build_switch(std::string_view uri) {
    const internal::parsed_uri p = internal::split_uri(uri);
    const switched_kind* off = p.scheme.empty() ? nullptr : left_out(p.scheme);
    return off ? off->build_switch : std::string_view{};
}

std::span<const target_kind> target_kinds() {
    static const std::vector<target_kind> all = [] {
        std::vector<target_kind> v;
        for (const kind_row& row : kinds) v.push_back(row.kind);
        return v;
    }();
    return all;
}

const target_kind* find_target_kind(std::string_view uri) {
    internal::parsed_uri p = internal::split_uri(uri);
    const kind_row* row = p.scheme.empty() ? nullptr : find_row(p.scheme);
    return row ? &row->kind : nullptr;
}

std::string target_uri_help(bool verifiable_only) {
    std::string text = verifiable_only ? "target URI, a state target:" : "target URI:";
    for (const kind_row& row : kinds) {
        if (verifiable_only && !row.kind.capabilities.verifiable) continue;
        text += "\n  ";
        text += row.kind.synopsis;
        text += "\n      ";
        text += row.kind.summary;
    }
    return text;
}

status check_target_uri(const std::string& uri, const target_options& opts) {
    return parse_target_uri(uri, opts).get_status();
}

result<std::unique_ptr<target>> open_target(const std::string& uri, const target_options& opts) {
    auto made = parse_target_uri(uri, opts);
    if (!made.ok()) return made.get_status();
    return made.value()();
}

}  // namespace syncline::targets
