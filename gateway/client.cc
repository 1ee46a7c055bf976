#include "gateway/client.h"

#include <algorithm>
#include <thread>

#include <zmq.hpp>

#include "common/zmq_util.h"
#include "gateway/protocol.h"

namespace syncline::gateway {

namespace {
using clock_type = std::chrono::steady_clock;
}

struct client::impl {
    // A request sent and not yet answered for good.
    struct pending {
        std::uint64_t sequence = 0;  // 0 without a producer id.
        std::optional<std::uint64_t> previous;
        std::optional<std::uint64_t> sent_previous;  // As in the last transmitted header.
        bool awaiting_reply = false;                 // Sent on this connection, not answered yet.
        std::string body;
        bool jsonl = false;
        clock_type::time_point first_sent, last_sent;
        int attempts = 0;
    };

    client_options options;
    zmq::context_t context{1};
    std::unique_ptr<zmq::socket_t> socket;
    std::deque<pending> in_flight;               // In sequence order.
    std::vector<publish_ack> acks;               // Received, not yet collected.
    std::optional<std::uint64_t> acked_tail;     // The producer's last appended sequence, when known.
    std::chrono::milliseconds backoff{0};
    std::string last_problem = "no answer";
    bool must_resend = false;                    // Pause, resend everything in flight (once answered).
    bool must_reopen = false;                    // ... on a fresh connection (a reply went missing).
    status fatal;                                // Once set, every call returns it.

    bool idempotent() const { return !options.producer.empty(); }

    status open_socket() {
        if (socket) socket->close();
        for (pending& p : in_flight) p.awaiting_reply = false;  // Late replies go with the old socket.
        socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
        const int hwm = static_cast<int>(options.window) + 4;
        zmqx::tune(*socket, {.send_hwm = hwm, .recv_hwm = 2 * hwm, .immediate = false,
                             .linger = std::chrono::milliseconds(0)});
        if (options.curve) SYNCLINE_RETURN_IF_ERROR(curve::apply_client(*socket, *options.curve));
        return zmqx::connect(*socket, options.endpoint);
    }

    // One attempt of a query: send, wait for the reply. nullopt on timeout.
    result<std::optional<reply>> round_trip(const std::string& header, const std::string& body) {
        if (!zmqx::send(*socket, header, body, options.reply_timeout)) return std::optional<reply>{};
        const auto deadline = clock_type::now() + options.reply_timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) return std::optional<reply>{};
            auto got = zmqx::receive(*socket, left);
            if (!got.ok()) continue;  // A malformed reply: wait for a good one until the deadline.
            if (!got->has_value()) return std::optional<reply>{};
            auto r = decode_reply((*got)->header_view(), (*got)->body_view());
            if (!r.ok()) continue;
            return std::optional<reply>{std::move(*r)};
        }
    }

    // The sequence the next request follows (nullopt: unknown, then it carries no `previous`).
    std::optional<std::uint64_t> chain_tail() const {
        if (!in_flight.empty()) return in_flight.back().sequence;
        return acked_tail;
    }

    void transmit(pending& p) {
        publish_header h;
        h.producer = options.producer;
        h.sequence = p.sequence;
        h.previous = idempotent() ? p.previous : std::nullopt;
        h.window = idempotent() ? options.window : 1;
        h.jsonl = p.jsonl;
        const auto now = clock_type::now();
        if (p.attempts == 0) p.first_sent = now;
        p.last_sent = now;
        p.sent_previous = h.previous;
        ++p.attempts;
        if (!zmqx::send(*socket, encode_publish_header(h), p.body, options.reply_timeout)) {
            last_problem = "cannot send within " + std::to_string(options.reply_timeout.count()) + " ms";
            must_resend = must_reopen = true;
            return;
        }
        p.awaiting_reply = true;
    }

    // A pause and every request in flight sent again in order, on a fresh connection when a reply
    // went missing (late replies to earlier attempts go with the old one). Called once every
    // request sent on this connection was answered (or given up on). unavailable once the oldest
    // has waited give_up_after.
    status resend_all() {
        const auto now = clock_type::now();
        const pending& oldest = in_flight.front();
        if (now + backoff - oldest.first_sent >= options.give_up_after) {
            status gave_up{errc::unavailable, "gave up on sequence " + std::to_string(oldest.sequence) + " after " +
                                                  std::to_string(oldest.attempts) + " attempts (" + last_problem + ") at " +
                                                  options.endpoint};
            for (pending& p : in_flight) p.first_sent = now;  // The next call tries for another period.
            return gave_up;
        }
        if (must_reopen) SYNCLINE_RETURN_IF_ERROR(open_socket());
        std::this_thread::sleep_for(backoff);
        backoff = std::min(std::max(backoff * 2, options.retry_backoff), std::chrono::milliseconds(1000));
        must_resend = must_reopen = false;
        for (pending& p : in_flight) {
            transmit(p);
            if (must_resend) break;
        }
        return {};
    }

    std::deque<pending>::iterator find(std::uint64_t sequence) {
        return std::find_if(in_flight.begin(), in_flight.end(), [&](const pending& p) { return p.sequence == sequence; });
    }

    void handle(const reply& r) {
        if (auto it = find(r.sequence); it != in_flight.end()) it->awaiting_reply = false;
        switch (r.type) {
            case reply::kind::published: {
                auto it = find(r.sequence);
                if (it == in_flight.end()) return;  // An earlier attempt's, already answered.
                acks.push_back({r.first, r.last, r.count, r.sequence, r.duplicate, it->attempts, false, {}, {}});
                if (idempotent()) acked_tail = std::max(acked_tail.value_or(0), r.sequence);
                in_flight.erase(it);
                backoff = std::chrono::milliseconds(0);
                return;
            }
            case reply::kind::refused: {
                auto it = find(r.sequence);
                if (it == in_flight.end()) return;
                publish_ack a;
                a.sequence = r.sequence;
                a.attempts = it->attempts;
                a.refused = true;
                a.reason = r.reason;
                a.index = r.index;
                acks.push_back(std::move(a));
                // Nothing was appended: the request after it now follows the one before it, and
                // (sent chained to the refused one) must be sent again.
                const std::optional<std::uint64_t> before = it->previous;
                it = in_flight.erase(it);
                if (it != in_flight.end()) {
                    it->previous = before;
                    must_resend = true;
                    backoff = std::chrono::milliseconds(0);
                }
                return;
            }
            case reply::kind::busy:
                if (find(r.sequence) == in_flight.end()) return;
                last_problem = "busy";
                backoff = std::max(backoff, std::chrono::milliseconds(r.retry_after_ms));
                must_resend = true;
                return;
            case reply::kind::failed:
                if (find(r.sequence) == in_flight.end()) return;
                last_problem = "failed: " + r.reason;
                must_resend = true;
                return;
            case reply::kind::out_of_order: {
                auto it = find(r.sequence);
                if (it == in_flight.end()) return;
                if (it == in_flight.begin() && it->sent_previous == acked_tail && it->previous == acked_tail) {
                    fatal = status{errc::invalid_argument,
                                   "the gateway's producer table does not follow producer " + options.producer +
                                       ": it expected sequence " + std::to_string(it->previous.value_or(0)) +
                                       " before " + std::to_string(r.sequence) + " and holds " + std::to_string(r.last) +
                                       " (the entry was dropped after --producer-idle-hours / --max-producers, or "
                                       "another process publishes with this id)"};
                    return;
                }
                last_problem = "out of order";  // An earlier request was not appended (busy, failed).
                must_resend = true;
                return;
            }
            case reply::kind::producer_state: return;
        }
    }

    // Drives the protocol until `done()` holds.
    template <typename Done>
    status drive(Done done) {
        while (!done()) {
            if (!fatal.ok()) return fatal;
            if (in_flight.empty()) {
                must_resend = must_reopen = false;
                continue;
            }
            // The oldest request still waiting for an answer on this connection.
            auto waiting = std::find_if(in_flight.begin(), in_flight.end(), [](const pending& p) { return p.awaiting_reply; });
            if (must_resend && (waiting == in_flight.end() || must_reopen)) {
                SYNCLINE_RETURN_IF_ERROR(resend_all());
                continue;
            }
            if (waiting == in_flight.end()) {  // Nothing sent (a failed send): send everything again.
                must_resend = must_reopen = true;
                continue;
            }
            const auto deadline = waiting->last_sent + options.reply_timeout;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) {
                last_problem = "no answer within " + std::to_string(options.reply_timeout.count()) + " ms";
                if (!idempotent()) {
                    in_flight.clear();
                    SYNCLINE_RETURN_IF_ERROR(open_socket());
                    return status{errc::unavailable,
                                  "no answer from the gateway at " + options.endpoint +
                                      " (without a producer id the request cannot be retried safely: it may have been appended)"};
                }
                must_resend = must_reopen = true;
                continue;
            }
            auto got = zmqx::receive(*socket, std::max(left, std::chrono::milliseconds(1)));
            if (!got.ok() || !got->has_value()) continue;  // Malformed or nothing yet.
            auto r = decode_reply((*got)->header_view(), (*got)->body_view());
            if (!r.ok()) continue;
            handle(*r);
        }
        return fatal;
    }
};

client::client(std::unique_ptr<impl> impl, std::uint64_t next) : _impl(std::move(impl)), _next_sequence(next) {}
client::~client() = default;

result<std::unique_ptr<client>> client::connect(const client_options& options) {
    if (options.endpoint.empty()) return status{errc::invalid_argument, "gateway endpoint is empty"};
    if (!options.producer.empty()) SYNCLINE_RETURN_IF_ERROR(validate_producer_id(options.producer));
    if (options.window < 1 || options.window > max_window)
        return status{errc::invalid_argument, "window must be 1-" + std::to_string(max_window)};
    if (options.window > 1 && options.producer.empty())
        return status{errc::invalid_argument, "a window above 1 needs a producer id (retries must be idempotent)"};
    auto state = std::make_unique<impl>();
    state->options = options;
    SYNCLINE_RETURN_IF_ERROR(state->open_socket());
    std::uint64_t next = std::max<std::uint64_t>(options.first_sequence, 1);
    if (!options.producer.empty() && options.first_sequence == 0) {
        const wire::frames query = encode_producer_query(options.producer);
        const auto give_up = clock_type::now() + options.give_up_after;
        for (;;) {
            auto r = state->round_trip(query.header, query.body);
            if (!r.ok()) return r.get_status();
            if (r->has_value() && (*r)->type == reply::kind::producer_state) {
                next = (*r)->sequence + 1;
                state->acked_tail = (*r)->sequence;
                break;
            }
            if (clock_type::now() >= give_up)
                return status{errc::unavailable, "no answer from the gateway at " + options.endpoint};
            SYNCLINE_RETURN_IF_ERROR(state->open_socket());
        }
    }
    return std::unique_ptr<client>(new client(std::move(state), next));
}

result<std::uint64_t> client::enqueue(std::string body, bool jsonl) {
    impl& s = *_impl;
    SYNCLINE_RETURN_IF_ERROR(s.drive([&] { return s.in_flight.size() < s.options.window; }));
    impl::pending p;
    p.sequence = s.idempotent() ? _next_sequence : 0;
    p.previous = s.chain_tail();
    p.body = std::move(body);
    p.jsonl = jsonl;
    s.in_flight.push_back(std::move(p));
    if (s.idempotent()) ++_next_sequence;
    if (!s.must_resend) s.transmit(s.in_flight.back());
    return s.in_flight.back().sequence;
}

result<std::uint64_t> client::send(std::span<const record> records) { return enqueue(encode_publish_body(records), false); }
result<std::uint64_t> client::send_jsonl(std::string_view body) { return enqueue(std::string(body), true); }

std::size_t client::unacknowledged() const { return _impl->in_flight.size(); }

result<std::vector<publish_ack>> client::collect(std::size_t max_unacknowledged) {
    impl& s = *_impl;
    status st = s.drive([&] { return s.in_flight.size() <= max_unacknowledged; });
    if (!st.ok()) return st;
    std::vector<publish_ack> out;
    out.swap(s.acks);
    std::sort(out.begin(), out.end(), [](const publish_ack& a, const publish_ack& b) { return a.sequence < b.sequence; });
    return out;
}

result<publish_ack> client::publish_one(std::string body, bool jsonl) {
    impl& s = *_impl;
    auto sent = enqueue(std::move(body), jsonl);
    if (!sent.ok()) return sent.get_status();
    const std::uint64_t sequence = *sent;
    auto answered = [&] { return s.idempotent() ? s.find(sequence) == s.in_flight.end() : s.in_flight.empty(); };
    if (status st = s.drive(answered); !st.ok()) {
        // Given up: the request is withdrawn and its sequence not spent, so that publishing the
        // same records again repeats it (the gateway answers from its table if it was appended).
        if (st.code() == errc::unavailable && s.idempotent() && !s.in_flight.empty() && s.in_flight.back().sequence == sequence) {
            s.in_flight.pop_back();
            _next_sequence = sequence;
            return status{errc::unavailable, st.message() + "; publish the same records again to retry"};
        }
        return st;
    }
    auto it = std::find_if(s.acks.begin(), s.acks.end(), [&](const publish_ack& a) { return a.sequence == sequence; });
    if (it == s.acks.end()) return status{errc::corruption, "no ack recorded for sequence " + std::to_string(sequence)};
    publish_ack a = std::move(*it);
    s.acks.erase(it);
    if (a.refused) {
        std::string msg = "gateway refused the request: " + a.reason;
        if (a.index) msg = "gateway refused record " + std::to_string(*a.index) + ": " + a.reason;
        return status{errc::invalid_argument, msg};
    }
    return a;
}

result<publish_ack> client::publish(std::span<const record> records) { return publish_one(encode_publish_body(records), false); }
result<publish_ack> client::publish_jsonl(std::string_view body) { return publish_one(std::string(body), true); }

}  // namespace syncline::gateway
