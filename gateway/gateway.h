#pragma once
// gateway/gateway.h: the ingest gateway (`syncline-gateway`, `syncline serve`): the change log's
// one writer, taking changes from producers over ZeroMQ (a ROUTER socket, gateway/protocol.h) and
// HTTP or HTTPS (POST /v1/changes, JSON Lines or a JSON array) and answering each request with its offsets
// once they are on disk (docs/producers.md).
// - Atomic: a request is appended whole or not at all; a bad record refuses the whole request,
//   naming the record's index and the problem.
// - Durable acks with group commit: one writer thread drains the queue of pending requests and
//   appends all of them in one synced RocksDB write, then answers each.
// - Idempotent producers: a request may carry (producer id, sequence). The producer table
//   (producer id -> last sequence and its offsets) lives in the log's meta column family, written
//   in the same atomic batch as the records, so a retry is answered with the original offsets and
//   appends nothing, across restarts too. A sequence below the producer's last is refused unless
//   it is one of the producer's last `window` requests (a pipelining producer's retry). The
//   table is bounded: ids idle longer than producer_idle and the least recently used beyond
//   max_producers are deleted (in a later group commit's batch).
// - Bounded memory: requests over --max-request-kib are refused (HTTP 413; ZeroMQ drops the
//   peer's oversized message); past --max-in-flight-kib of accepted-but-unanswered requests new
//   ones get HTTP 429 with Retry-After / a ZeroMQ "busy" reply.
// - Writes DIR/gateway.endpoints (pid and the endpoints it listens on) once listening; `syncline
//   append` reads it to name the gateway holding the log. Removed on a clean stop.
// run() returns ok after SIGTERM/SIGINT once every accepted request is answered; errors are a
// log that cannot be opened (busy: another writer) or an endpoint that cannot be bound.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/curve.h"
#include "common/metrics_endpoint.h"
#include "common/process.h"
#include "common/status.h"

namespace syncline::gateway {

struct gateway_options {
    std::string log;                                        // Change log directory. Required.
    std::string zmq_listen = "tcp://127.0.0.1:5570";        // ROUTER binds (comma-separated); "" = off.
    std::string http_listen;                                // HOST:PORT; "" = off. Default: off.
    std::string http_token_file;                            // Bearer token for /v1/*. Default: none.
    std::string http_tls_cert, http_tls_key;                // PEM files: HTTPS instead of HTTP. Default: none.
    std::uint64_t max_request_bytes = 16ull << 20;          // Default: 16 MiB.
    std::size_t max_request_records = 100'000;              // Default: 100,000 (codec's batch limit).
    std::uint64_t max_in_flight_bytes = 256ull << 20;       // Default: 256 MiB.
    std::uint64_t max_value_bytes = 1ull << 20;             // Default: 1 MiB (as `syncline append`).
    int http_threads = 8;                                   // Default: 8.
    bool sync = true;                                       // fsync each group commit. Default: true.
    std::chrono::milliseconds producer_idle{7 * 24 * 3600'000LL};  // Producer table: idle bound. 0: none. Default: 7 days.
    std::size_t max_producers = 100'000;                    // Producer table: most ids (LRU beyond). Default: 100,000.
    metrics::endpoint_options metrics;                      // Separate /metrics endpoint. Default: off.
    std::optional<curve::keys> curve;                       // CURVE on the ROUTER (server). Default: off.
};

struct cli_outcome {
    gateway_options options;
    bool exit_now = false;  // --help / --version printed.
};

// Parses argv (and --config FILE); invalid_argument names the bad option.
result<cli_outcome> parse_cli(int argc, const char* const* argv);

status run(const gateway_options& options, const stop_flag& stop);

// The file a running gateway writes into its log directory.
inline constexpr const char* endpoints_file_name = "gateway.endpoints";

struct endpoints_info {
    long pid = 0;
    std::vector<std::string> zmq;  // Resolved ROUTER endpoints.
    std::string http;              // "http://HOST:PORT" or "".
};
// What DIR/gateway.endpoints says; nullopt when there is none (or it cannot be read).
std::optional<endpoints_info> read_endpoints_file(const std::string& log_dir);

}  // namespace syncline::gateway
