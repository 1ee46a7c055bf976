#include "targets/redis_target.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "targets/internal/text.h"
#include "targets/internal/uri.h"

namespace syncline::targets {
namespace {

// The fence, run once per chunk. KEYS[i] is the Redis key of the chunk's record i; ARGV[3i-2],
// ARGV[3i-1], ARGV[3i] are its tombstone flag ("1"/"0"), offset and value. Offsets are compared
// as decimal strings, length first, so the comparison is exact over all of uint64 (Lua numbers
// are doubles, exact only up to 2^53). The HGET goes through pcall so that a key holding another
// type (WRONGTYPE) fails that record alone; the script returns {index, error} pairs for those.
// A script is atomic on the server: no other client sees a record half-applied.
constexpr std::string_view fence_script = R"lua(
local failed = {}
for i = 1, #KEYS do
  local j = 3 * i - 2
  local off = ARGV[j + 1]
  local cur = redis.pcall('HGET', KEYS[i], 'o')
  if type(cur) == 'table' then
    failed[#failed + 1] = i
    failed[#failed + 1] = cur.err
  elseif not cur or #off > #cur or (#off == #cur and off > cur) then
    redis.call('HSET', KEYS[i], 'v', ARGV[j + 2], 'o', off, 'd', ARGV[j])
  end
end
return failed
)lua";

struct reply_deleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

timeval to_timeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

std::string_view reply_text(const redisReply& r) { return {r.str, r.len}; }

// Errors that say the configuration is wrong rather than that the server is away for now.
bool is_config_error(std::string_view err) {
    return err.starts_with("NOAUTH") || err.starts_with("WRONGPASS") || err.starts_with("NOPERM") ||
           err.starts_with("ERR invalid password") || err.starts_with("ERR AUTH") ||
           err.starts_with("ERR DB index") || err.starts_with("ERR invalid DB index");
}

void append_escaped_collection(std::string& out, std::string_view collection) {
    for (char c : collection) {
        if (c == '%') out += "%25";
        else if (c == ':') out += "%3A";
        else out.push_back(c);
    }
}

// SCAN's MATCH is a glob: the prefix must match literally.
std::string glob_literal(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

}  // namespace

struct redis_target::impl {
    redis_target_options o;
    redisContext* ctx = nullptr;
    std::string sha;  // Of fence_script, from SCRIPT LOAD on this connection.

    // Reused by every batch: the chunk's keys and offsets laid out in one buffer each, and the
    // argv handed to hiredis (which copies it into its output buffer at once).
    std::string key_bytes, offset_bytes;
    std::vector<std::size_t> key_ends, offset_ends;
    std::vector<const char*> argv;
    std::vector<std::size_t> argvlen;

    ~impl() { disconnect(); }

    std::string where() const {
        return "redis " + o.host + ":" + std::to_string(o.port) + "/" + std::to_string(o.db);
    }

    void disconnect() {
        if (ctx != nullptr) redisFree(ctx);
        ctx = nullptr;
        sha.clear();
    }

    // The connection's error as a status; the context is unusable after one, so it goes.
    status connection_lost(std::string_view what) {
        std::string msg = where() + ": " + std::string(what) + ": " +
                          (ctx != nullptr && ctx->errstr[0] != '\0' ? ctx->errstr : "connection lost");
        disconnect();
        return status{errc::unavailable, std::move(msg)};
    }

    // One command, waiting for its reply. A server error reply is returned as a status too.
    result<reply_ptr> command(std::string_view what, std::initializer_list<std::string_view> args) {
        std::vector<const char*> a;
        std::vector<std::size_t> l;
        for (auto s : args) a.push_back(s.data()), l.push_back(s.size());
        auto* r = static_cast<redisReply*>(redisCommandArgv(ctx, static_cast<int>(a.size()), a.data(), l.data()));
        if (r == nullptr) return connection_lost(what);
        reply_ptr reply(r);
        if (reply->type == REDIS_REPLY_ERROR) {
            const std::string_view err = reply_text(*reply);
            return status{is_config_error(err) ? errc::invalid_argument : errc::unavailable,
                          where() + ": " + std::string(what) + ": " + std::string(err)};
        }
        return reply;
    }

    status load_script() {
        auto r = command("SCRIPT LOAD", {"SCRIPT", "LOAD", fence_script});
        if (!r.ok()) return r.get_status();
        if ((*r)->type != REDIS_REPLY_STRING) return status{errc::unavailable, where() + ": SCRIPT LOAD: unexpected reply"};
        sha.assign(reply_text(**r));
        return {};
    }

    status connect() {
        if (ctx != nullptr && ctx->err == 0 && !sha.empty()) return {};
        disconnect();
        ctx = redisConnectWithTimeout(o.host.c_str(), o.port, to_timeval(o.connect_timeout));
        if (ctx == nullptr) return status{errc::unavailable, where() + ": cannot allocate a connection"};
        if (ctx->err != 0) return connection_lost("cannot connect");
        if (redisSetTimeout(ctx, to_timeval(o.timeout)) != REDIS_OK) return connection_lost("cannot set timeouts");
        status s;
        if (!o.password.empty()) {
            // The password goes out in the command only; errors name the user at most.
            auto r = o.user.empty() ? command("AUTH", {"AUTH", o.password})
                                    : command("AUTH as " + o.user, {"AUTH", o.user, o.password});
            s = r.get_status();
        }
        if (s.ok() && o.db != 0) s = command("SELECT", {"SELECT", std::to_string(o.db)}).get_status();
        if (s.ok()) s = load_script();
        if (!s.ok()) disconnect();
        return s;
    }

    // Appends one EVALSHA for `records` (a chunk) to the connection's output buffer.
    void append_chunk(std::span<const record_view> records) {
        const std::size_t n = records.size();
        key_bytes.clear();
        offset_bytes.clear();
        key_ends.clear();
        offset_ends.clear();
        for (const record_view& r : records) {
            key_bytes += o.prefix;
            append_escaped_collection(key_bytes, r.collection);
            key_bytes.push_back(':');
            key_bytes.append(r.key);
            key_ends.push_back(key_bytes.size());
            char digits[24];
            auto [end, ec] = std::to_chars(digits, digits + sizeof digits, r.offset);
            offset_bytes.append(digits, end);
            offset_ends.push_back(offset_bytes.size());
        }
        const std::string numkeys = std::to_string(n);
        argv.clear();
        argvlen.clear();
        auto push = [&](const char* p, std::size_t len) {
            argv.push_back(p);
            argvlen.push_back(len);
        };
        push("EVALSHA", 7);
        push(sha.data(), sha.size());
        push(numkeys.data(), numkeys.size());
        for (std::size_t i = 0, begin = 0; i < n; begin = key_ends[i], ++i) push(key_bytes.data() + begin, key_ends[i] - begin);
        for (std::size_t i = 0, begin = 0; i < n; begin = offset_ends[i], ++i) {
            const bool tombstone = records[i].operation == op::del;
            push(tombstone ? "1" : "0", 1);
            push(offset_bytes.data() + begin, offset_ends[i] - begin);
            // Tombstones keep an empty value; a non-null pointer either way (hiredis reads len bytes).
            push(tombstone || records[i].value.data() == nullptr ? "" : records[i].value.data(),
                 tombstone ? 0 : records[i].value.size());
        }
        // Only fails when out of memory; the reply read then reports the broken context.
        redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), argvlen.data());
    }

    // One pass over the batch: every chunk appended, then every reply read (one round trip).
    // `noscript` is set when the server has lost the script (restarted, SCRIPT FLUSH).
    status send_batch(std::span<const record_view> records, delivery_outcome& out, bool& noscript) {
        const std::size_t chunk = o.chunk_records;
        std::size_t chunks = 0;
        for (std::size_t first = 0; first < records.size(); first += chunk, ++chunks)
            append_chunk(records.subspan(first, std::min(chunk, records.size() - first)));
        status first_error;
        for (std::size_t c = 0; c < chunks; ++c) {
            void* raw = nullptr;
            if (redisGetReply(ctx, &raw) != REDIS_OK) return connection_lost("deliver");
            reply_ptr reply(static_cast<redisReply*>(raw));
            // Every reply is read even after an error, so the connection stays in step.
            if (!first_error.ok()) continue;
            if (reply->type == REDIS_REPLY_ERROR) {
                const std::string_view err = reply_text(*reply);
                if (err.starts_with("NOSCRIPT")) noscript = true;
                else first_error = status{errc::unavailable, where() + ": EVALSHA: " + std::string(err)};
                continue;
            }
            if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
                first_error = status{errc::unavailable, where() + ": EVALSHA: unexpected reply"};
                continue;
            }
            for (std::size_t i = 0; i + 1 < reply->elements; i += 2) {
                const redisReply* index = reply->element[i];
                const redisReply* err = reply->element[i + 1];
                const std::string_view msg = err->str != nullptr ? reply_text(*err) : std::string_view("error");
                const auto at = c * chunk + static_cast<std::size_t>(index->integer) - 1;
                // Only a key of another type is the record's own fault; anything else (OOM, a
                // replica turned read-only) concerns the server and may pass.
                if (index->type != REDIS_REPLY_INTEGER || at >= records.size() || !msg.starts_with("WRONGTYPE")) {
                    first_error = status{errc::unavailable, where() + ": " + std::string(msg)};
                    break;
                }
                const record_view& r = records[at];
                out.failures.push_back({r.offset, "redis: collection '" + internal::printable(r.collection) +
                                                      "' key '" + internal::printable(r.key) + "': " + std::string(msg)});
            }
        }
        return first_error;
    }
};

redis_target::redis_target(std::unique_ptr<impl> impl) : _impl(std::move(impl)) {}
redis_target::~redis_target() = default;

std::string redis_target::redis_key(std::string_view prefix, std::string_view collection, std::string_view key) {
    std::string out(prefix);
    append_escaped_collection(out, collection);
    out.push_back(':');
    out.append(key);
    return out;
}

// A password in the URI is refused: URIs are logged and shown in errors, so it comes from
// password_env / password_file (read here, so a missing one is a config error).
result<redis_target_options> redis_target::options_from_uri(const internal::parsed_uri& p,
                                                            internal::uri_options& options) {
    if (!p.had_slashes) return options.error("write redis://HOST[:PORT][/DB]");
    redis_target_options o;
    std::string_view rest = p.path;
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
        const std::string db(rest.substr(slash + 1));
        if (db.size() > 5 || db.find_first_not_of("0123456789") != std::string::npos)
            return options.error("database must be a number, not '" + db + "'");
        if (!db.empty()) o.db = static_cast<unsigned>(std::stoul(db));
    }
    auto authority = internal::parse_authority(rest.substr(0, slash), o.port, options);
    if (!authority.ok()) return authority.get_status();
    o.user = std::move(authority.value().user);
    o.host = std::move(authority.value().host);
    o.port = authority.value().port;
    auto password = internal::take_secret(options, "password");
    if (!password.ok()) return password.get_status();
    if (password.value()) o.password = std::move(*password.value());
    if (auto prefix = options.take("prefix")) o.prefix = std::move(*prefix);
    using std::chrono::milliseconds;
    auto connect_ms = options.take_duration("connect_timeout_ms", o.connect_timeout, milliseconds(1), milliseconds(600'000));
    if (!connect_ms.ok()) return connect_ms.get_status();
    auto io_ms = options.take_duration("timeout_ms", o.timeout, milliseconds(1), milliseconds(600'000));
    if (!io_ms.ok()) return io_ms.get_status();
    auto chunk = options.take_uint("chunk_records", o.chunk_records, 1, 100'000);
    if (!chunk.ok()) return chunk.get_status();
    o.connect_timeout = connect_ms.value();
    o.timeout = io_ms.value();
    o.chunk_records = chunk.value();
    return o;
}

result<std::unique_ptr<redis_target>> redis_target::open(const redis_target_options& opts) {
    if (opts.chunk_records == 0) return status{errc::invalid_argument, "redis target: chunk_records must be positive"};
    auto m = std::make_unique<impl>();
    m->o = opts;
    SYNCLINE_RETURN_IF_ERROR(m->connect());
    return std::unique_ptr<redis_target>(new redis_target(std::move(m)));
}

delivery_outcome redis_target::deliver(std::span<const record_view> records) {
    delivery_outcome out;
    if (records.empty()) return out;
    impl& m = *_impl;
    // A lost script is loaded again and the whole batch sent again: chunks that did apply the
    // first time are fenced off the second time, so nothing is applied twice.
    for (int pass = 0; pass < 2; ++pass) {
        if (status s = m.connect(); !s.ok()) {
            out.transient = status{errc::unavailable, s.message()};
            return out;
        }
        bool noscript = false;
        out.failures.clear();
        status s = m.send_batch(records, out, noscript);
        if (!s.ok()) {
            out.failures.clear();
            out.transient = std::move(s);
            return out;
        }
        if (!noscript) return out;
        if (status loaded = m.load_script(); !loaded.ok()) {
            out.failures.clear();
            out.transient = status{errc::unavailable, loaded.message()};
            return out;
        }
    }
    out.failures.clear();
    out.transient = status{errc::unavailable, m.where() + ": the server keeps losing the fencing script (NOSCRIPT)"};
    return out;
}

result<std::optional<state_map>> redis_target::read_state() {
    impl& m = *_impl;
    SYNCLINE_RETURN_IF_ERROR(m.connect());
    const std::string pattern = glob_literal(m.o.prefix) + "*";
    state_map state;
    std::string cursor = "0";
    do {
        auto page = m.command("SCAN", {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000", "TYPE", "hash"});
        if (!page.ok()) return page.get_status();
        const redisReply& p = **page;
        if (p.type != REDIS_REPLY_ARRAY || p.elements != 2 || p.element[0]->type != REDIS_REPLY_STRING ||
            p.element[1]->type != REDIS_REPLY_ARRAY)
            return status{errc::io_error, m.where() + ": SCAN: unexpected reply"};
        cursor.assign(reply_text(*p.element[0]));
        const redisReply& keys = *p.element[1];
        for (std::size_t i = 0; i < keys.elements; ++i) {
            const char* argv[] = {"HMGET", keys.element[i]->str, "v", "o", "d"};
            const std::size_t argvlen[] = {5, keys.element[i]->len, 1, 1, 1};
            redisAppendCommandArgv(m.ctx, 5, argv, argvlen);
        }
        for (std::size_t i = 0; i < keys.elements; ++i) {
            void* raw = nullptr;
            if (redisGetReply(m.ctx, &raw) != REDIS_OK) return m.connection_lost("read state");
            reply_ptr fields(static_cast<redisReply*>(raw));
            // A key deleted or retyped between SCAN and HMGET, or a hash that is not ours.
            if (fields->type != REDIS_REPLY_ARRAY || fields->elements != 3 ||
                fields->element[1]->type != REDIS_REPLY_STRING)
                continue;
            std::string_view name = reply_text(*keys.element[i]);
            name.remove_prefix(m.o.prefix.size());
            const auto colon = name.find(':');
            if (colon == std::string_view::npos) continue;
            auto collection = internal::percent_decode(name.substr(0, colon));
            if (!collection || redis_key("", *collection, "") != std::string(name.substr(0, colon + 1))) continue;
            row_state row;
            const std::string_view o = reply_text(*fields->element[1]);
            auto [end, ec] = std::from_chars(o.data(), o.data() + o.size(), row.offset);
            if (ec != std::errc{} || end != o.data() + o.size()) continue;
            if (fields->element[0]->type == REDIS_REPLY_STRING) row.value.assign(reply_text(*fields->element[0]));
            row.deleted = fields->element[2]->type == REDIS_REPLY_STRING && reply_text(*fields->element[2]) == "1";
            state.insert_or_assign({std::move(*collection), std::string(name.substr(colon + 1))}, std::move(row));
        }
    } while (cursor != "0");
    return std::optional<state_map>(std::move(state));
}

}  // namespace syncline::targets
