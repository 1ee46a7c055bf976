#include "gateway/client.h"

#include <algorithm>
#include <thread>

#include <zmq.hpp>

#include "common/zmq_util.h"
#include "gateway/protocol.h"

namespace syncline::gateway {

struct client::impl {
    client_options options;
    zmq::context_t context{1};
    std::unique_ptr<zmq::socket_t> socket;

    status open_socket() {
        if (socket) socket->close();
        socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
        zmqx::tune(*socket, {.send_hwm = 4, .recv_hwm = 4, .immediate = false,
                             .linger = std::chrono::milliseconds(0)});
        if (options.curve) SYNCLINE_RETURN_IF_ERROR(curve::apply_client(*socket, *options.curve));
        return zmqx::connect(*socket, options.endpoint);
    }

    // One attempt: send, wait for the reply. nullopt on timeout.
    result<std::optional<reply>> round_trip(const std::string& header, const std::string& body) {
        if (!zmqx::send(*socket, header, body, options.reply_timeout)) return std::optional<reply>{};
        const auto deadline = std::chrono::steady_clock::now() + options.reply_timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::optional<reply>{};
            auto got = zmqx::receive(*socket, left);
            if (!got.ok()) continue;  // A malformed reply: wait for a good one until the deadline.
            if (!got->has_value()) return std::optional<reply>{};
            auto r = decode_reply((*got)->header_view(), (*got)->body_view());
            if (!r.ok()) continue;
            return std::optional<reply>{std::move(*r)};
        }
    }
};

client::client(std::unique_ptr<impl> impl, std::uint64_t next) : _impl(std::move(impl)), _next_sequence(next) {}
client::~client() = default;

result<std::unique_ptr<client>> client::connect(const client_options& options) {
    if (options.endpoint.empty()) return status{errc::invalid_argument, "gateway endpoint is empty"};
    if (!options.producer.empty()) SYNCLINE_RETURN_IF_ERROR(validate_producer_id(options.producer));
    auto state = std::make_unique<impl>();
    state->options = options;
    SYNCLINE_RETURN_IF_ERROR(state->open_socket());
    std::uint64_t next = std::max<std::uint64_t>(options.first_sequence, 1);
    if (!options.producer.empty() && options.first_sequence == 0) {
        const wire::frames query = encode_producer_query(options.producer);
        const auto give_up = std::chrono::steady_clock::now() + options.give_up_after;
        for (;;) {
            auto r = state->round_trip(query.header, query.body);
            if (!r.ok()) return r.get_status();
            if (r->has_value() && (*r)->type == reply::kind::producer_state) {
                next = (*r)->sequence + 1;
                break;
            }
            if (std::chrono::steady_clock::now() >= give_up)
                return status{errc::unavailable, "no answer from the gateway at " + options.endpoint};
            SYNCLINE_RETURN_IF_ERROR(state->open_socket());
        }
    }
    return std::unique_ptr<client>(new client(std::move(state), next));
}

result<publish_ack> client::publish(std::span<const record> records) {
    const std::uint64_t sequence = _impl->options.producer.empty() ? 0 : _next_sequence;
    const wire::frames f = encode_publish(_impl->options.producer, sequence, records);
    return send_request(f.header, f.body, sequence);
}

result<publish_ack> client::publish_jsonl(std::string_view body) {
    const std::uint64_t sequence = _impl->options.producer.empty() ? 0 : _next_sequence;
    const wire::frames f = encode_publish_jsonl(_impl->options.producer, sequence, body);
    return send_request(f.header, f.body, sequence);
}

result<publish_ack> client::send_request(const std::string& header, const std::string& body, std::uint64_t sequence) {
    const bool idempotent = !_impl->options.producer.empty();
    const auto give_up = std::chrono::steady_clock::now() + _impl->options.give_up_after;
    auto backoff = _impl->options.retry_backoff;
    std::string last_problem = "no answer";
    for (int attempt = 1;; ++attempt) {
        auto r = _impl->round_trip(header, body);
        if (!r.ok()) return r.get_status();
        if (r->has_value()) {
            const reply& rep = **r;
            switch (rep.type) {
                case reply::kind::published:
                    if (idempotent && rep.sequence != sequence) break;  // Not ours: keep waiting next time.
                    if (idempotent) _next_sequence = sequence + 1;
                    return publish_ack{rep.first, rep.last, rep.count, sequence, rep.duplicate, attempt};
                case reply::kind::refused: {
                    if (idempotent) _next_sequence = sequence + 1;  // Nothing appended; the sequence is spent.
                    std::string msg = "gateway refused the request: " + rep.reason;
                    if (rep.index) msg = "gateway refused record " + std::to_string(*rep.index) + ": " + rep.reason;
                    return status{errc::invalid_argument, msg};
                }
                case reply::kind::busy:
                    last_problem = "busy";
                    backoff = std::max(backoff, std::chrono::milliseconds(rep.retry_after_ms));
                    break;
                case reply::kind::failed:
                    last_problem = "failed: " + rep.reason;
                    break;
                case reply::kind::producer_state:
                    break;
            }
        } else {
            last_problem = "no answer within " + std::to_string(_impl->options.reply_timeout.count()) + " ms";
            if (!idempotent)
                return status{errc::unavailable, "no answer from the gateway at " + _impl->options.endpoint +
                                                     " (without a producer id the request cannot be retried safely: it may have been appended)"};
            // A fresh socket: a late reply to this attempt must not be taken for the next one's.
            SYNCLINE_RETURN_IF_ERROR(_impl->open_socket());
        }
        if (std::chrono::steady_clock::now() + backoff >= give_up)
            return status{errc::unavailable, "gave up after " + std::to_string(attempt) + " attempts (" + last_problem +
                                                 ") at " + _impl->options.endpoint + "; publish the same records again to retry"};
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
}

}  // namespace syncline::gateway
