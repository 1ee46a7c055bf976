#pragma once
// workers/worker.h: the stateless worker process (docs/architecture.md): pulls batches from the ventilator,
// delivers each to its target in one round trip where the target allows, and pushes an ack
// (with per-record permanent failures) or, after bounded retries, a nack to the sink. It holds
// nothing but connections: killing it at any moment loses nothing (the ventilator redelivers).
// run() returns ok on a requested stop after finishing the batch in hand and nacking the ones
// still queued to it (so they are redelivered at once); invalid_argument for a bad target URI or a
// --transform script that does not load (docs/processing.md: a record the script fails on is
// dead-lettered with the Lua message; the worker goes on).
// Each batch it takes is confirmed to the sink with a receipt (worker id), so the ventilator knows
// who holds what. Metrics (docs/operations.md): batches and records received, delivered, failed,
// nacked, retries, the target latency histogram, batches in flight (syncline_worker_in_flight_batches), bad frames. Ready while the
// target is open and its last delivery did not fail.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics_endpoint.h"
#include "common/curve.h"
#include "common/process.h"
#include "common/status.h"

namespace syncline::workers {

struct worker_options {
    std::string target = "sqlite:syncline.db";        // Target URI. Default: sqlite:syncline.db.
    std::string pipeline = "default";                 // Default: "default".
    std::string origin_pipeline;                      // The pipeline the records belong to: channel ids
                                                      // (Idempotency-Key, Message-ID, ...) derive from it.
                                                      // Set by `syncline replay`. Default: `pipeline`.
    std::string work = "tcp://127.0.0.1:5557";        // The ventilator's endpoint (PULL connect).
    std::string acks = "tcp://127.0.0.1:5558";        // The sink's endpoint (PUSH connect).
    std::string id;                                   // Worker id in acks. Default: host:pid.
    std::uint32_t max_retries = 5;                    // Transient failures retried before a nack. Default: 5.
    std::uint32_t isolate_after_attempts = 5;         // From this delivery attempt on, a failing batch is
                                                      // retried record by record (see worker.cc). Default: 5.
    std::chrono::milliseconds retry_backoff{100};     // First retry delay, doubled up to 5 s. Default: 100 ms.
    // Queued batches delivered together up to this many records. 0 (the default): by target,
    // 100,000 for a target with one writer (capabilities.max_writers = 1: sqlite, rocksdb), whose
    // cost per record falls with the transaction's size, 10,000 for the others.
    std::size_t coalesce_records = 0;
    std::string transform;                            // Lua transform file (docs/processing.md). Default: none.
    std::uint64_t transform_max_instructions = 1'000'000;  // Per call. Default: 1 M.
    std::size_t transform_max_memory_mb = 64;         // Per Lua state. Default: 64 MiB.
    metrics::endpoint_options metrics;                // /metrics, /live, /ready. Default: off.
    std::optional<curve::keys> curve;                 // CURVE client on both sockets. Default: off (--curve-*).
};

struct cli_outcome {
    worker_options options;
    bool exit_now = false;  // --help / --version printed.
};

// Parses argv (and --config FILE); invalid_argument names the bad option.
result<cli_outcome> parse_cli(int argc, const char* const* argv);

// The command-line arguments (program name not included) that parse_cli reads back as `options`:
// --target, --pipeline, --work, --acks and --id (when set) always, --origin-pipeline when it
// differs from --pipeline, every other option only when it differs from its default (so a
// supervisor's extra arguments may still set it). CURVE is left out: the keys come from files,
// and the caller appends their --curve-* flags.
std::vector<std::string> to_argv(const worker_options& options);

status run(const worker_options& options, const stop_flag& stop);

}  // namespace syncline::workers
