#pragma once
// tests/support/pipeline.h: the daemons as integration tests start them. Each command line is
// the daemon's own to_argv(options) (the spelling `syncline run` uses too), so a test names the
// options it cares about and never spells flags by hand; `extra` adds flags to_argv has no field
// for (CURVE key files) or that a test wants raw (a bad value on purpose).
// `pipeline_spec` holds one test pipeline's names and endpoints; its sink(), ventilator() and
// worker(i) give the options the tests start from (the ventilator redelivers after 1.5 s and
// tails every 5 ms, so recovery tests finish in seconds).
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "sink/sink.h"
#include "ventilator/ventilator.h"
#include "workers/worker.h"

namespace syncline::testing {

struct pipeline_spec {
    std::string pipeline = "p1";
    std::string log;      // The change log directory.
    std::string state;    // The state root.
    std::string work;     // Endpoints (ipc:// in the test's temp dir, usually).
    std::string acks;
    std::string control;
    std::string target;   // The workers' target URI.

    // --state, --pipeline, --acks, --control (no --log: add it when dead letters need the record).
    sink::sink_options sink() const;
    // --log, --pipeline, --work, --control, --ack-timeout-ms 1500, --tail-interval-ms 5.
    ventilator::ventilator_options ventilator() const;
    // --target, --pipeline, --work, --acks, --id w<i>.
    workers::worker_options worker(int i) const;
};

// Starts the daemon with `options` (its to_argv), then `extra`; stdout and stderr to `log_path`.
// Throws std::runtime_error when it cannot be spawned (as start() in harness.h).
child_process launch(const sink::sink_options& options, const std::string& log_path,
                     const std::vector<std::string>& extra = {});
child_process launch(const ventilator::ventilator_options& options, const std::string& log_path,
                     const std::vector<std::string>& extra = {});
child_process launch(const workers::worker_options& options, const std::string& log_path,
                     const std::vector<std::string>& extra = {});

}  // namespace syncline::testing
