#pragma once
// ventilator/ventilator.h: the ventilator process (docs/architecture.md): tails the change log (RocksDB
// secondary, woken by the writer's WAL writes through store::wal_watch), asks the sink where to resume, cuts batches (count and byte limits) and pushes
// them to workers within a bounded window, redelivering what is not acknowledged in time.
// It forwards the stored record bytes without decoding them. run() returns ok on a requested
// stop (after draining in-flight work, bounded by the drain timeout) or, with `to`, once that
// offset is committed (replay, --until-caught-up); errors: the log is missing
// or was trimmed past the resume point, socket or metrics bind failures.
// Metrics (docs/operations.md): sent / redelivered batches and records, committed and last log
// offsets, lag in records and seconds, in-flight batches (per worker, from the receipts the sink
// forwards), the oldest unacknowledged offset and its holder, stall time, bad frames.
// Ready once the sink answers (and while it keeps answering the hello heartbeat).
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
#include "ventilator/filter.h"
#include "ventilator/window.h"

namespace syncline::ventilator {

struct ventilator_options {
    std::string log;                                   // Change log directory. Required.
    std::string pipeline = "default";                  // Default: "default".
    std::string work = "tcp://127.0.0.1:5557";         // PUSH bind. Default: tcp://127.0.0.1:5557.
    std::string control = "tcp://127.0.0.1:5559";      // DEALER connect to the sink. Default: tcp://127.0.0.1:5559.
    std::size_t batch_records = 1000;                  // Default: 1000 records per batch.
    std::size_t batch_bytes = 1u << 20;                // Default: 1 MiB per batch.
    window_options window;                             // In-flight window and redelivery.
    std::chrono::milliseconds tail_interval{100};      // Fallback poll for appends: the log's writes wake the
                                                       // ventilator at once (store::wal_watch); without
                                                       // inotify it polls at most every 10 ms. Default: 100 ms.
    std::chrono::milliseconds drain_timeout{10'000};   // On stop, wait this long for in-flight commits. Default: 10 s.
    std::chrono::milliseconds stall_warning{30'000};   // Warn when nothing commits for this long with work in flight.
    std::uint64_t to = 0;                              // Bounded pass: send nothing past this offset and
                                                       // exit once it is committed. 0 = follow the log forever.
    record_filter filter;                              // --collections / --ops. Default: every record.
    ordering order = ordering::none;                   // --ordering key: one change per key in flight.
    metrics::endpoint_options metrics;                 // /metrics, /live, /ready. Default: off.
    std::optional<curve::keys> curve;                  // CURVE on the work socket (server) and control
                                                       // (client of the sink). Default: off (--curve-*).
};

struct cli_outcome {
    ventilator_options options;
    bool exit_now = false;  // --help / --version printed.
};

// Parses argv (and --config FILE); invalid_argument names the bad option.
result<cli_outcome> parse_cli(int argc, const char* const* argv);

// The command-line arguments (program name not included) that parse_cli reads back as `options`:
// --log, --pipeline, --work and --control always, every other option only when it differs from
// its default (so a supervisor's extra arguments may still set it). CURVE is left out: the keys
// come from files, and the caller appends their --curve-* flags.
std::vector<std::string> to_argv(const ventilator_options& options);

status run(const ventilator_options& options, const stop_flag& stop);

}  // namespace syncline::ventilator
