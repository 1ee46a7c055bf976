#pragma once
// gateway/client.h: a small C++ producer for the gateway's ZeroMQ listener (docs/producers.md).
//
// Contract:
// - One client = one producer id. Each request (a batch of records, appended atomically: all or
//   nothing) gets the next sequence number. publish() sends one request and returns once the
//   gateway acknowledged it durably (its offsets) or when it gives up.
// - Windows (pipelining): with `window` W > 1 (needs a producer id), send() returns as soon as the
//   request is sent, while fewer than W requests are unacknowledged (otherwise it first waits for
//   acks); collect() returns the acks. Each request names the sequence before it (`previous`), and
//   the gateway appends it only right after that one: a producer's requests land in the log in
//   the order sent, with no gaps, whatever is retried. The producer table keeps the producer's
//   last W requests, so a retry of any of them is answered with its original offsets.
// - Retries: on a timeout, a lost connection, a gateway restart, "busy", "failed" or "out of
//   order", the client opens a fresh connection (late replies to earlier attempts are dropped
//   with the old one), waits its backoff and resends every unacknowledged request, in order, with
//   the SAME sequences, until `give_up_after` since the oldest one was first sent. A record
//   acknowledged once is in the log exactly once.
// - Sequences: with `first_sequence` 0 (the default), connect() asks the gateway for the
//   producer's last appended sequence and continues above it: run one process per producer id.
// - Batching is the caller's: a request holds any number of records (up to the gateway's
//   --max-request-records / --max-request-kib) and costs one message each way; requests waiting
//   together in the gateway share one fsync.
// - A "refused" reply (a bad record, a stale sequence) is not retried. publish() returns
//   invalid_argument with the gateway's reason (and record index); with a window, the ack says
//   `refused` and the requests after it are resent chained to the one before it. Giving up is
//   unavailable; the requests stay pending and the next send()/collect()/publish() keeps trying
//   them (publish() of the same records after a give-up resends the pending request, not a copy).
// - An "out of order" reply to the oldest unacknowledged request means the gateway no longer
//   knows the producer's last request (its entry was dropped after --producer-idle-hours, or
//   another process uses the id): invalid_argument, and the client stops (every later call returns it).
// Not thread-safe: one thread per client. Owns a ZeroMQ context and a DEALER socket.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/curve.h"
#include "common/record.h"
#include "common/status.h"

namespace syncline::gateway {

struct client_options {
    std::string endpoint;                                   // tcp://HOST:PORT or ipc://PATH. Required.
    std::string producer;                                   // Producer id; empty: not idempotent (no retries).
    std::uint64_t first_sequence = 0;                       // 0: resume above the gateway's record.
    std::uint32_t window = 1;                               // Requests in flight, 1-64 (>1 needs a producer id).
    std::chrono::milliseconds reply_timeout{5000};          // Per attempt. Default: 5 s.
    std::chrono::milliseconds give_up_after{60'000};        // Per request. Default: 60 s.
    std::chrono::milliseconds retry_backoff{50};            // First pause; doubles up to 1 s.
    std::optional<curve::keys> curve;                       // CURVE client keys. Default: off.
};

struct publish_ack {
    std::uint64_t first = 0, last = 0, count = 0;
    std::uint64_t sequence = 0;
    bool duplicate = false;  // Answered from the producer table (an earlier attempt was appended).
    int attempts = 1;
    // Window mode only (publish() returns invalid_argument instead): the gateway refused the
    // request, nothing of it was appended. `reason` (and `index`, the bad record) say why.
    bool refused = false;
    std::string reason;
    std::optional<std::uint64_t> index;
};

class client {
public:
    // Connects (ZeroMQ connects lazily) and, with a producer id and first_sequence 0, asks the
    // gateway for the producer's last sequence (waiting up to give_up_after).
    static result<std::unique_ptr<client>> connect(const client_options& options);
    ~client();

    // One request: every record or none, acknowledged on return. Acks of earlier send()s that
    // arrive meanwhile are kept for collect().
    result<publish_ack> publish(std::span<const record> records);
    // The same with a JSON Lines / JSON array body, parsed by the gateway.
    result<publish_ack> publish_jsonl(std::string_view body);

    // Pipelining: sends one request and returns its sequence, first waiting (and retrying) while
    // `window` requests are unacknowledged. An error means the request was not taken (send it
    // again); once a sequence is returned the request is the client's to deliver: while a resend
    // is under way it goes out with the next send() / collect(), so finish with collect().
    result<std::uint64_t> send(std::span<const record> records);
    result<std::uint64_t> send_jsonl(std::string_view body);
    // Waits until at most `max_unacknowledged` requests are unacknowledged (retrying as needed)
    // and returns every ack received since the last call, in sequence order.
    result<std::vector<publish_ack>> collect(std::size_t max_unacknowledged = 0);
    std::size_t unacknowledged() const;

    std::uint64_t next_sequence() const noexcept { return _next_sequence; }

private:
    struct impl;
    explicit client(std::unique_ptr<impl> impl, std::uint64_t next);
    result<std::uint64_t> enqueue(std::string body, bool jsonl);
    result<publish_ack> publish_one(std::string body, bool jsonl);
    std::unique_ptr<impl> _impl;
    std::uint64_t _next_sequence = 1;
};

}  // namespace syncline::gateway
