#pragma once
// capture/capture.h: `syncline-capture` (docs/capture.md): change capture from PostgreSQL by
// logical replication (pgoutput) into the change log.
//   - a source transaction is never split: whole transactions (one, or several that arrived back
//     to back) are one atomic append, whose WriteBatch also stores the end LSN of the last commit
//     in the log's meta entry `capture/<slot>/lsn` (store/change_log.h);
//   - on start it resumes from that LSN and skips transactions the log already holds;
//   - it confirms an LSN to PostgreSQL only after the append holding it returned (synced), and
//     advances the slot on an idle source from the server's keepalives (no transaction open);
//   - a new slot first copies the tables in its exported snapshot (chunked appends), then streams;
//     a table added later is copied in the snapshot of a temporary slot, and its changes committed
//     before that snapshot's point are dropped from the stream;
//   - an open transaction past transaction_memory_bytes is staged in the log (invisible) and made
//     visible whole by its commit's append;
//   - appends run on an appender thread while the main thread decodes (run() owns both).
// run() returns ok after a requested stop (the open transaction is finished, appended and
// confirmed first). Errors: invalid_argument for configuration problems (exit 2: no REPLICATION
// privilege, wal_level not logical, missing table, no primary key, missing publication/slot
// without create=true); unavailable when the source goes away; the log's errors.
// Metrics: changes, transactions, slot lag bytes, retained WAL bytes, capture lag seconds.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/metrics_endpoint.h"
#include "common/process.h"
#include "common/status.h"

namespace syncline::capture {

struct capture_options {
    std::string log;                                    // Change log directory. Required.
    std::string source;                                 // Source URI (capture/source.h). Required.
    std::chrono::milliseconds status_interval{10'000};  // Feedback / heartbeat to the server. Default: 10 s.
    std::size_t snapshot_chunk = 10'000;                // Rows per snapshot append. Default: 10,000.
    // The snapshot reads at most this many rows per second, so copying a big table does not
    // load the source; 0 = as fast as it goes. Default: 0.
    std::uint64_t snapshot_max_rows_per_second = 0;
    std::uint64_t wal_warn_bytes = 1ull << 30;          // Warn when the slot retains more WAL. Default: 1 GiB.
    // The records of an open source transaction held in memory (approximate bytes); past it they
    // are staged in the log (store/change_log.h stage()), invisible until the transaction's commit
    // makes them visible with the rest in one atomic append. Default: 64 MiB.
    std::size_t transaction_memory_bytes = 64u << 20;
    std::size_t max_transaction_records = 0;            // A bigger source transaction fails the capture; 0 = no limit. Default: 0.
    // Snapshot progress (the initial snapshot and tables added later), after each chunk and once
    // per table when it is done. Returns true when it showed it (a progress bar: the capture then
    // does not log the chunk's line). Default: none (log lines).
    struct snapshot_progress {
        std::string table;
        std::uint64_t rows = 0, estimate = 0;  // estimate: pg_class.reltuples; 0 = unknown
        std::size_t table_number = 0, tables = 0;  // 1-based
        bool done = false;
    };
    std::function<bool(const snapshot_progress&)> on_snapshot_progress;
    metrics::endpoint_options metrics;                  // /metrics, /live, /ready. Default: off.
};

struct cli_outcome {
    capture_options options;
    bool exit_now = false;
};

result<cli_outcome> parse_cli(int argc, const char* const* argv);

// The meta key holding the slot's position in the log: "capture/<slot>/lsn".
std::string position_key(const std::string& slot);

status run(const capture_options& options, const stop_flag& stop);

}  // namespace syncline::capture
