#pragma once
// cli/runner.h: `syncline run`: launches a whole pipeline (sink, N workers, ventilator) as child
// processes from the binaries beside `syncline`, writes their logs and PID files into a run
// directory, restarts a child that dies, shows progress, and stops them in order (ventilator
// first, so in-flight work drains and commits; then workers; the sink last) on SIGINT/SIGTERM or,
// with --to / --until-caught-up, once the ventilator reports that offset committed (it runs
// with --to and exits 0 then).
// Errors: invalid_argument for bad options; unavailable when a child keeps failing at start.
#include <chrono>
#include <cstdint>
#include <string>

#include "common/process.h"
#include "common/status.h"

namespace syncline::cli {

struct run_options {
    std::string log;                          // Change log directory. Required.
    std::string state;                        // State root directory. Required.
    std::string pipeline = "default";
    std::string target = "sqlite:syncline.db";
    unsigned workers = 4;                     // Default: 4.
    bool until_caught_up = false;             // Exit 0 once the log's last offset at start is committed.
    std::uint64_t to = 0;                     // Exit 0 once this offset is committed (a bounded pass). 0 = never.
    std::string run_dir;                      // Logs and PID files. Default: <state>/<pipeline>.run
    std::string work, acks, control;          // Endpoints. Default: ipc:// sockets in the run directory.
    std::string bin_dir;                      // Where the syncline-* binaries are. Default: beside this program.
    bool progress = false;                    // Print a progress line every second.
    std::string ventilator_args;              // Extra options for the ventilator ("--window 64 ...").
    std::string worker_args;                  // Extra options for each worker.
    std::string sink_args;                    // Extra options for the sink.
    std::string curve_keys;                   // CURVE on: DIR with server.key (ventilator, sink) and
                                              // worker.key (the workers started here). Default: off.
    std::string curve_allow;                  // Admitted clients' *.pub. Default: curve_keys.
};

// Parses `syncline run` options (argv[0] is "run"); exit_now after --help.
result<std::pair<run_options, bool>> parse_run_cli(int argc, const char* const* argv);

// Runs until stopped (ok) or caught up (ok); errors when a child cannot be kept running.
status run_pipeline(const run_options& options, const stop_flag& stop);

// The `syncline run` subcommand: parse, run, exit code.
int run_command(int argc, const char* const* argv);

}  // namespace syncline::cli
