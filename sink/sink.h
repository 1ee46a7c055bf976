#pragma once
// sink/sink.h: the sink process (docs/architecture.md): pulls acks and nacks from workers, tracks the
// contiguous watermark, commits it (with dead letters) as soon as it moves with a synced write,
// and tells the ventilator over the control channel what is acknowledged, committed, or must be
// redelivered. It owns the pipeline's state store: a second sink of the same pipeline gets
// "busy". run() returns ok on a requested stop after a final commit; errors are store failures.
// Workers' receipts (who took which batch) are passed on to the ventilator in progress messages.
// Metrics (docs/operations.md): acks, nacks, receipts, dead letters, commits and their latency,
// the committed offset, and when each worker was last heard from. Ready once the state is open
// and the sockets are bound.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics_endpoint.h"
#include "common/curve.h"
#include "common/process.h"
#include "common/status.h"

namespace syncline::sink {

// What a record the target refuses for good does to the pipeline (docs/architecture.md "Delivery").
enum class failure_policy {
    dlq,   // Dead-letter it (record, reason, attempts, time) and move the watermark past it.
    stop,  // Never acknowledge past it: the watermark stays at offset - 1 and the pipeline stalls
           // there (its batch is redelivered with backoff) until the target accepts it or an
           // operator skips it (`offsets set --to-offset offset+1` while stopped).
};

struct sink_options {
    std::string state;                                 // State root directory. Required.
    std::string pipeline = "default";                  // Default: "default".
    std::string log;                                   // Change log, to store dead-lettered records. Optional.
    std::string acks = "tcp://127.0.0.1:5558";         // PULL bind. Default: tcp://127.0.0.1:5558.
    std::string control = "tcp://127.0.0.1:5559";      // ROUTER bind. Default: tcp://127.0.0.1:5559.
    std::chrono::milliseconds commit_interval{0};      // Least time between commits; 0 (default): commit
                                                       // as soon as the watermark moves (fsyncs group
                                                       // themselves: acks arriving during one go in the next).
    bool sync = true;                                  // fsync each commit. Default: true.
    failure_policy on_failure = failure_policy::dlq;   // --on-failure dlq|stop. Default: dlq.
    metrics::endpoint_options metrics;                 // /metrics, /live, /ready. Default: off.
    std::optional<curve::keys> curve;                  // CURVE on both sockets (server). Default: off.
};

struct cli_outcome {
    sink_options options;
    bool exit_now = false;  // --help / --version printed.
};

// Parses argv (and --config FILE); invalid_argument names the bad option.
result<cli_outcome> parse_cli(int argc, const char* const* argv);

// The command-line arguments (program name not included) that parse_cli reads back as `options`:
// --state, --pipeline, --log (when set), --acks and --control always, every other option only
// when it differs from its default (so a supervisor's extra arguments may still set it).
// CURVE is left out: the keys come from files, and the caller appends their --curve-* flags.
std::vector<std::string> to_argv(const sink_options& options);

status run(const sink_options& options, const stop_flag& stop);

}  // namespace syncline::sink
