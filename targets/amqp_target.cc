#include "targets/amqp_target.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <vector>

#include "targets/internal/text.h"
#include "targets/internal/uri.h"

namespace syncline::targets {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr amqp_channel_t channel = 1;
// Confirms read between publishes every this many messages, so that a long batch never fills the
// socket buffers with acks nobody reads.
constexpr std::size_t drain_every = 256;
constexpr std::string_view exchange_types[] = {"direct", "topic", "fanout", "headers"};

timeval to_timeval(milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

// librabbitmq never writes through the bytes it is given to send.
amqp_bytes_t bytes_of(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }
std::string_view text_of(amqp_bytes_t b) { return {static_cast<const char*>(b.bytes), b.len}; }

// Reply codes that say the configuration is wrong, not that the broker is away for now.
bool is_config_error(int reply_code) {
    return reply_code == AMQP_ACCESS_REFUSED || reply_code == AMQP_NOT_FOUND ||
           reply_code == AMQP_PRECONDITION_FAILED || reply_code == AMQP_NOT_ALLOWED;
}

amqp_table_entry_t text_entry(const char* name, std::string_view value) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(name);
    e.value.kind = AMQP_FIELD_KIND_UTF8;  // An AMQP long string: any bytes, so keys and values travel as they are.
    e.value.value.bytes = bytes_of(value);
    return e;
}

// The offset in a message id "<pipeline>:<offset>"; nullopt if it has none.
std::optional<std::uint64_t> offset_of(std::string_view id) {
    const auto colon = id.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(id.data() + colon + 1, id.data() + id.size(), n);
    if (ec != std::errc{} || end != id.data() + id.size()) return std::nullopt;
    return n;
}

}  // namespace

std::string amqp_target::message_id(const std::string& pipeline, std::uint64_t offset) {
    return pipeline + ":" + std::to_string(offset);
}

result<amqp_target_options> amqp_target::options_from_uri(const internal::parsed_uri& p, internal::uri_options& options,
                                                          const std::string& pipeline) {
    if (!p.had_slashes) return options.error("write amqp://[USER@]HOST[:PORT]/EXCHANGE");
    amqp_target_options o;
    o.pipeline = pipeline;
    std::string_view authority = p.path;
    const auto slash = authority.find('/');
    if (slash == std::string_view::npos)
        return options.error("no exchange: write amqp://HOST[:PORT]/EXCHANGE (amqp://HOST/ for the default exchange)");
    auto exchange = internal::percent_decode(authority.substr(slash + 1));
    if (!exchange || exchange->size() > 255) return options.error("the exchange name must be 0..255 bytes");
    o.exchange = std::move(*exchange);
    authority = authority.substr(0, slash);
    auto parsed = internal::parse_authority(authority, o.port, options);
    if (!parsed.ok()) return parsed.get_status();
    if (!parsed->user.empty()) o.user = std::move(parsed->user);
    o.host = std::move(parsed->host);
    o.port = parsed->port;
    if (auto user = options.take("user")) {
        if (!parsed->user.empty()) return options.error("give the user in the URI or as ?user=, not both");
        if (user->empty()) return options.error("empty user");
        o.user = std::move(*user);
    }
    auto password = internal::take_secret(options, "password");
    if (!password.ok()) return password.get_status();
    if (password->has_value()) o.password = std::move(**password);
    else if (o.user != "guest") return options.error("user " + o.user + " needs ?password_env=VARIABLE or ?password_file=PATH");
    if (auto vhost = options.take("vhost")) {
        if (vhost->empty() || vhost->size() > 255) return options.error("vhost must be 1..255 bytes");
        o.vhost = std::move(*vhost);
    }
    if (auto type = options.take("declare_exchange")) {
        if (std::find(std::begin(exchange_types), std::end(exchange_types), *type) == std::end(exchange_types))
            return options.error("declare_exchange must be direct, topic, fanout or headers, not '" + *type + "'");
        if (o.exchange.empty()) return options.error("the default exchange (empty name) cannot be declared");
        o.declare_type = std::move(*type);
    }
    auto mandatory = options.take_bool("mandatory", o.mandatory);
    if (!mandatory.ok()) return mandatory.get_status();
    o.mandatory = mandatory.value();
    auto heartbeat = options.take_uint("heartbeat_s", static_cast<std::uint64_t>(o.heartbeat.count()), 0, 3600);
    if (!heartbeat.ok()) return heartbeat.get_status();
    o.heartbeat = std::chrono::seconds(heartbeat.value());
    SYNCLINE_RETURN_IF_ERROR(options.take_timeouts(o.connect_timeout, o.timeout));
    return o;
}

struct amqp_target::impl {
    amqp_target_options o;
    std::string where;  // "amqp HOST:PORT vhost V exchange 'X'": never the password.
    amqp_connection_state_t conn = nullptr;
    std::uint64_t next_tag = 1;  // The delivery tag the broker gives the next publish on the channel.

    // The batch being confirmed: its first tag, each message's state, and what came back.
    std::uint64_t first_tag = 0;
    std::vector<bool> confirmed;
    std::size_t unconfirmed = 0, lowest_unconfirmed = 0, nacked = 0;
    std::optional<std::uint64_t> first_nacked;
    std::span<const record_view> batch;

    // Reused per message: the message id and the headers table.
    std::string id;
    std::vector<amqp_table_entry_t> headers;

    ~impl() {
        if (conn != nullptr) {
            // A clean close, so the broker does not log a lost client; bounded by the RPC timeout.
            amqp_channel_close(conn, channel, AMQP_REPLY_SUCCESS);
            amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        }
        disconnect();
    }

    void disconnect() {
        if (conn != nullptr) amqp_destroy_connection(conn);
        conn = nullptr;
    }

    status lost(std::string_view what, int library_error) {
        disconnect();
        return status{errc::unavailable, where + ": " + std::string(what) + ": " + amqp_error_string2(library_error)};
    }

    // The status of an RPC's reply (nothing when it succeeded). A broker that closes the channel or
    // the connection says why with a reply code: configuration errors (refused credentials, no such
    // exchange or vhost) are invalid_argument, everything else unavailable. The connection is
    // dropped after any failure: a closed channel is not reopened in place.
    status checked(const amqp_rpc_reply_t& r, std::string_view what) {
        if (r.reply_type == AMQP_RESPONSE_NORMAL) return {};
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) return lost(what, r.library_error);
        if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION) {
            disconnect();
            return status{errc::unavailable, where + ": " + std::string(what) + ": no reply"};
        }
        return closed_by_broker(r.reply, what);
    }

    status closed_by_broker(const amqp_method_t& method, std::string_view what) {
        int code = 0;
        std::string text;
        if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const auto* m = static_cast<const amqp_connection_close_t*>(method.decoded);
            code = m->reply_code;
            text = internal::printable(text_of(m->reply_text), 300);
            amqp_connection_close_ok_t ok{};
            amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        } else if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const auto* m = static_cast<const amqp_channel_close_t*>(method.decoded);
            code = m->reply_code;
            text = internal::printable(text_of(m->reply_text), 300);
            amqp_channel_close_ok_t ok{};
            amqp_send_method(conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        } else {
            text = "unexpected method " + std::string(amqp_method_name(method.id));
        }
        disconnect();
        return status{is_config_error(code) ? errc::invalid_argument : errc::unavailable,
                      where + ": " + std::string(what) + ": broker replied " + std::to_string(code) + " " + text};
    }

    status connect() {
        disconnect();
        conn = amqp_new_connection();
        if (conn == nullptr) return status{errc::unavailable, where + ": cannot allocate a connection"};
        amqp_socket_t* socket = amqp_tcp_socket_new(conn);
        if (socket == nullptr) return lost("cannot create a socket", AMQP_STATUS_NO_MEMORY);
        timeval connect_tv = to_timeval(o.connect_timeout);
        if (int rc = amqp_socket_open_noblock(socket, o.host.c_str(), o.port, &connect_tv); rc != AMQP_STATUS_OK)
            return lost("cannot connect", rc);
        timeval rpc_tv = to_timeval(o.timeout);
        amqp_set_handshake_timeout(conn, &rpc_tv);
        amqp_set_rpc_timeout(conn, &rpc_tv);
        SYNCLINE_RETURN_IF_ERROR(checked(amqp_login(conn, o.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE,
                                                    static_cast<int>(o.heartbeat.count()), AMQP_SASL_METHOD_PLAIN,
                                                    o.user.c_str(), o.password.c_str()),
                                         "login as " + o.user));
        amqp_channel_open(conn, channel);
        SYNCLINE_RETURN_IF_ERROR(checked(amqp_get_rpc_reply(conn), "channel.open"));
        amqp_confirm_select(conn, channel);
        SYNCLINE_RETURN_IF_ERROR(checked(amqp_get_rpc_reply(conn), "confirm.select"));
        next_tag = 1;
        if (o.exchange.empty()) return {};  // The default exchange always exists.
        // Passive: only checks that the exchange exists (404 otherwise). Declaring is opt-in, so a
        // typo in the URI never creates an exchange nobody consumes from.
        const bool passive = o.declare_type.empty();
        amqp_exchange_declare(conn, channel, bytes_of(o.exchange), amqp_cstring_bytes(passive ? "direct" : o.declare_type.c_str()),
                              passive, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
        return checked(amqp_get_rpc_reply(conn), passive ? "exchange check" : "exchange.declare " + o.declare_type);
    }

    status publish(const record_view& r) {
        id = message_id(o.pipeline, r.offset);
        headers.clear();
        headers.push_back(text_entry("syncline-pipeline", o.pipeline));
        headers.push_back(text_entry("syncline-collection", r.collection));
        headers.push_back(text_entry("syncline-key", r.key));
        headers.push_back(text_entry("syncline-op", op_name(r.operation)));
        amqp_table_entry_t offset{};
        offset.key = amqp_cstring_bytes("syncline-offset");
        offset.value.kind = AMQP_FIELD_KIND_I64;  // RabbitMQ's 64-bit integer type is signed.
        offset.value.value.i64 = static_cast<std::int64_t>(r.offset);
        headers.push_back(offset);
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_HEADERS_FLAG |
                       AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        props.message_id = bytes_of(id);
        props.app_id = amqp_cstring_bytes("syncline");
        props.timestamp = static_cast<std::uint64_t>(std::max<std::int64_t>(r.ts_ms, 0) / 1000);  // AMQP: seconds.
        props.headers = {static_cast<int>(headers.size()), headers.data()};
        const std::string_view body = r.operation == op::del ? std::string_view{} : r.value;
        const int rc = amqp_basic_publish(conn, channel, bytes_of(o.exchange), bytes_of(r.collection), o.mandatory ? 1 : 0,
                                          /*immediate=*/0, &props, bytes_of(body));
        if (rc != AMQP_STATUS_OK) return lost("publish", rc);
        ++next_tag;
        return {};
    }

    void confirm(std::uint64_t tag, bool multiple, bool nack) {
        if (tag < first_tag || tag >= first_tag + confirmed.size()) return;  // Not this batch's.
        const std::size_t high = tag - first_tag;
        for (std::size_t i = multiple ? lowest_unconfirmed : high; i <= high; ++i) {
            if (confirmed[i]) continue;
            confirmed[i] = true;
            --unconfirmed;
            if (nack && ++nacked == 1) first_nacked = batch[i].offset;
        }
        while (lowest_unconfirmed < confirmed.size() && confirmed[lowest_unconfirmed]) ++lowest_unconfirmed;
    }

    // A message the broker could not route (mandatory): its record is dead-lettered with the
    // reason. The broker confirms it too, after the return.
    status returned(const amqp_frame_t& frame, delivery_outcome& out) {
        const auto* m = static_cast<const amqp_basic_return_t*>(frame.payload.method.decoded);
        const std::string reason = "returned by the broker: " + std::to_string(m->reply_code) + " " +
                                   internal::printable(text_of(m->reply_text), 200) + " (exchange '" +
                                   internal::printable(text_of(m->exchange)) + "', routing key '" +
                                   internal::printable(text_of(m->routing_key)) + "': no queue bound for it)";
        amqp_message_t message;
        SYNCLINE_RETURN_IF_ERROR(checked(amqp_read_message(conn, frame.channel, &message, 0), "reading a returned message"));
        std::optional<std::uint64_t> offset;
        if (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) offset = offset_of(text_of(message.properties.message_id));
        amqp_destroy_message(&message);
        if (offset && std::any_of(batch.begin(), batch.end(), [&](const record_view& r) { return r.offset == *offset; }))
            out.failures.push_back({*offset, reason});
        return {};
    }

    // Handles the next frame from the broker, waiting up to `wait`. `timed_out` is set when none came.
    status next_frame(timeval* wait, delivery_outcome& out, bool& timed_out) {
        amqp_frame_t frame;
        const int rc = amqp_simple_wait_frame_noblock(conn, &frame, wait);
        timed_out = rc == AMQP_STATUS_TIMEOUT;
        if (timed_out) return {};
        if (rc != AMQP_STATUS_OK) return lost("waiting for confirms", rc);
        if (frame.frame_type != AMQP_FRAME_METHOD) return {};
        switch (frame.payload.method.id) {
            case AMQP_BASIC_ACK_METHOD: {
                const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
                confirm(ack->delivery_tag, ack->multiple != 0, false);
                return {};
            }
            case AMQP_BASIC_NACK_METHOD: {
                const auto* nack = static_cast<const amqp_basic_nack_t*>(frame.payload.method.decoded);
                confirm(nack->delivery_tag, nack->multiple != 0, true);
                return {};
            }
            case AMQP_BASIC_RETURN_METHOD:
                return returned(frame, out);
            case AMQP_CHANNEL_CLOSE_METHOD:
            case AMQP_CONNECTION_CLOSE_METHOD: {
                // The broker closing in the middle of a batch (an exchange deleted meanwhile, a
                // node shutting down) is never the records' fault: the batch waits for a fix.
                const status s = closed_by_broker(frame.payload.method, "while publishing");
                return status{errc::unavailable, s.message()};
            }
            default:
                return {};
        }
    }

    // Publishes `records` and waits for all their confirms. Not ok: nothing of the batch counts.
    status publish_confirmed(std::span<const record_view> records, delivery_outcome& out) {
        if (conn == nullptr) {
            const status s = connect();
            if (!s.ok()) return status{errc::unavailable, s.message()};
        }
        batch = records;
        first_tag = next_tag;
        confirmed.assign(records.size(), false);
        unconfirmed = records.size();
        lowest_unconfirmed = nacked = 0;
        first_nacked.reset();
        bool timed_out = false;
        for (std::size_t i = 0; i < records.size(); ++i) {
            SYNCLINE_RETURN_IF_ERROR(publish(records[i]));
            if ((i + 1) % drain_every != 0) continue;
            timeval none{};
            do SYNCLINE_RETURN_IF_ERROR(next_frame(&none, out, timed_out));
            while (!timed_out);
        }
        const auto deadline = steady_clock::now() + o.timeout;
        while (unconfirmed > 0) {
            const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
            timeval wait = to_timeval(std::max(left, milliseconds(0)));
            SYNCLINE_RETURN_IF_ERROR(next_frame(&wait, out, timed_out));
            if (timed_out) {
                const std::size_t missing = unconfirmed;
                disconnect();  // Late confirms would be mistaken for the next batch's.
                return status{errc::unavailable, where + ": " + std::to_string(missing) + " of " + std::to_string(records.size()) +
                                                     " messages not confirmed within " + std::to_string(o.timeout.count()) + " ms"};
            }
        }
        amqp_maybe_release_buffers(conn);
        if (nacked > 0)
            return status{errc::unavailable, where + ": the broker nacked " + std::to_string(nacked) + " of " +
                                                 std::to_string(records.size()) + " messages (first offset " +
                                                 std::to_string(*first_nacked) + ")"};
        return {};
    }
};

amqp_target::amqp_target(std::unique_ptr<impl> i) : _impl(std::move(i)) {}
amqp_target::~amqp_target() = default;

result<std::unique_ptr<amqp_target>> amqp_target::open(const amqp_target_options& opts) {
    auto i = std::make_unique<impl>();
    i->o = opts;
    i->where = "amqp " + opts.host + ":" + std::to_string(opts.port) + " vhost " + opts.vhost + " exchange '" +
               internal::printable(opts.exchange) + "'";
    SYNCLINE_RETURN_IF_ERROR(i->connect());
    return std::unique_ptr<amqp_target>(new amqp_target(std::move(i)));
}

delivery_outcome amqp_target::deliver(std::span<const record_view> records) {
    delivery_outcome out;
    if (records.empty()) return out;
    // A connection that sat idle may have been closed by the broker (missed heartbeats, a broker
    // restart) without our noticing until now: one more try on a fresh one before reporting it.
    const bool reused = _impl->conn != nullptr;
    status s = _impl->publish_confirmed(records, out);
    if (!s.ok() && reused) {
        out = {};
        s = _impl->publish_confirmed(records, out);
    }
    if (!s.ok()) {
        out.failures.clear();
        out.transient = std::move(s);
    }
    return out;
}

result<std::optional<state_map>> amqp_target::read_state() { return std::optional<state_map>{}; }

}  // namespace syncline::targets
