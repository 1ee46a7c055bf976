#pragma once
// gateway/client.h: a small C++ producer for the gateway's ZeroMQ listener (docs/producers.md).
//
// Contract:
// - One client = one producer id = one request in flight. publish() sends the records as ONE
//   request (appended atomically, all or nothing) under the next sequence number and returns only
//   when the gateway acknowledged it durably (the offsets), or when it gives up.
// - Retries: on a timeout, a lost connection, a gateway restart, "busy" or "failed", the SAME
//   request with the SAME sequence is sent again (after a fresh connection for timeouts), until
//   `give_up_after`. The gateway's producer table turns a retry of an appended request into its
//   original offsets, so a record acknowledged once is in the log exactly once.
// - Sequences: with `first_sequence` 0 (the default), connect() asks the gateway for the
//   producer's last appended sequence and continues above it: run one process per producer id.
// - Batching is the caller's: publish() takes any number of records (up to the gateway's
//   --max-request-records / --max-request-kib), and a batch costs one round trip and shares one
//   fsync with whatever else the gateway is writing.
// - A "refused" reply (a bad record, a stale sequence) is not retried: invalid_argument with the
//   gateway's reason (and record index). Giving up is unavailable; the caller may call publish()
//   again with the same records, which reuses the same sequence (the request is still pending).
// Not thread-safe: one thread per client. Owns a ZeroMQ context and a DEALER socket.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/curve.h"
#include "common/record.h"
#include "common/status.h"

namespace syncline::gateway {

struct client_options {
    std::string endpoint;                                   // tcp://HOST:PORT or ipc://PATH. Required.
    std::string producer;                                   // Producer id; empty: not idempotent (no retries).
    std::uint64_t first_sequence = 0;                       // 0: resume above the gateway's record.
    std::chrono::milliseconds reply_timeout{5000};          // Per attempt. Default: 5 s.
    std::chrono::milliseconds give_up_after{60'000};        // Whole publish(). Default: 60 s.
    std::chrono::milliseconds retry_backoff{50};            // First pause; doubles up to 1 s.
    std::optional<curve::keys> curve;                       // CURVE client keys. Default: off.
};

struct publish_ack {
    std::uint64_t first = 0, last = 0, count = 0;
    std::uint64_t sequence = 0;
    bool duplicate = false;  // Answered from the producer table (an earlier attempt was appended).
    int attempts = 1;
};

class client {
public:
    // Connects (ZeroMQ connects lazily) and, with a producer id and first_sequence 0, asks the
    // gateway for the producer's last sequence (waiting up to give_up_after).
    static result<std::unique_ptr<client>> connect(const client_options& options);
    ~client();

    // One request: every record or none. See the contract above.
    result<publish_ack> publish(std::span<const record> records);
    // The same with a JSON Lines / JSON array body, parsed by the gateway.
    result<publish_ack> publish_jsonl(std::string_view body);

    std::uint64_t next_sequence() const noexcept { return _next_sequence; }

private:
    struct impl;
    explicit client(std::unique_ptr<impl> impl, std::uint64_t next);
    result<publish_ack> send_request(const std::string& header, const std::string& body, std::uint64_t sequence);
    std::unique_ptr<impl> _impl;
    std::uint64_t _next_sequence = 1;
};

}  // namespace syncline::gateway
