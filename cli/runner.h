#pragma once
// cli/runner.h: `syncline run`: launches a whole pipeline (sink, N workers, ventilator) as child
// processes from the binaries beside `syncline`, writes their logs and PID files into a run
// directory, restarts a child that dies (with exponential backoff, leaving the others running;
// counts in RUN_DIR/restarts.json, see docs/operations.md), serves the pipeline's one /metrics
// (every child's, merged with a `process` label), shows progress, and stops them in
// order (ventilator first, so in-flight work drains and commits; then workers; the sink last) on
// SIGINT/SIGTERM or, with --to / --until-caught-up, once the ventilator reports that offset
// committed (it runs with --to and exits 0 then).
// Errors: invalid_argument for bad options. A failing child is retried for ever, except in a
// bounded pass (--to / --until-caught-up): unavailable after 5 failures in a row.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/cli_options.h"
#include "common/process.h"
#include "common/status.h"

namespace syncline::cli {

struct run_options {
    std::string log;                          // Change log directory. Required.
    std::string state;                        // State root directory. Required.
    std::string pipeline = "default";
    std::string origin_pipeline;              // Workers' --origin-pipeline (syncline replay: the pipeline
                                              // being repaired, so channel ids stay its own). Default: none.
    std::string target = "sqlite:syncline.db";
    unsigned workers = 4;                     // Default: 4.
    bool until_caught_up = false;             // Exit 0 once the log's last offset at start is committed.
    std::uint64_t to = 0;                     // Exit 0 once this offset is committed (a bounded pass). 0 = never.
    std::string run_dir;                      // Logs and PID files. Default: <state>/<pipeline>.run
    std::string work, acks, control;          // Endpoints. Default: ipc:// sockets in the run directory.
    std::string bin_dir;                      // Where the syncline-* binaries are. Default: beside this program.
    bool progress = false;                    // Print a progress line every second.
    std::string collections;                  // Ventilator filter: collection globs. Default: all.
    std::string ops;                          // Ventilator filter: upsert, delete or both. Default: both.
    std::string ordering = "none";            // none | key (docs/processing.md).
    std::string transform;                    // Workers: a Lua transform file. Default: none.
    std::string ventilator_args;              // Extra options for the ventilator ("--window 64 ...").
    std::string worker_args;                  // Extra options for each worker.
    std::string sink_args;                    // Extra options for the sink.
    // A change capture into --log, supervised with the others (docs/capture.md): the source URI
    // of syncline-capture. Default: none.
    std::string capture_source;
    std::string capture_args;                 // Extra options for syncline-capture.
    // The pipeline's one scrape endpoint: the runner serves /metrics of every child merged with a
    // `process` label (process="run" for its own series: syncline_run_restarts_total{child},
    // syncline_run_child_up{child}), /live and /ready; address in <run_dir>/run.metrics.
    // HOST:0 = a free port. "off" = no metrics at all (children included). Default: 127.0.0.1:0.
    std::string metrics_listen = "127.0.0.1:0";
    // Each child's own endpoint (kept beside the merged one; syncline status reads them): empty =
    // free ports on the host of metrics_listen; HOST:P = sink P, ventilator P+1, worker i P+1+i.
    // Each address goes to <run_dir>/<name>.metrics. Default: empty.
    std::string child_metrics_listen;
    std::string curve_keys;                   // CURVE on: DIR with server.key (ventilator, sink) and
                                              // worker.key (the workers started here). Default: off.
    std::string curve_allow;                  // Admitted clients' *.pub. Default: curve_keys.
};

// The `syncline run` options, bound to `o`: also the keys of a pipeline's INI file.
po::options_description run_options_description(run_options& o);

// Checks that need neither the filesystem nor the network (names, ranges, endpoints, the target
// URI's syntax and options); every problem, located where its value was set.
std::vector<std::string> validate_run_options(const run_options& o, const parse_outcome& parsed);

// Parses `syncline run` options (argv[0] is "run"); exit_now after --help.
result<std::pair<run_options, bool>> parse_run_cli(int argc, const char* const* argv);

// Runs until stopped (ok) or caught up (ok); errors when a child cannot be kept running.
status run_pipeline(const run_options& options, const stop_flag& stop);

// The `syncline run` subcommand: parse, run, exit code.
int run_command(int argc, const char* const* argv);

}  // namespace syncline::cli
