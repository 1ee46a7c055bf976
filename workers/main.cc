// syncline-worker: delivers batches to a target (workers/worker.h has the logic).
#include <exception>

#include "common/process.h"
#include "workers/worker.h"

int main(int argc, char** argv) {
    using namespace syncline;
    auto cli = workers::parse_cli(argc, argv);
    if (!cli.ok()) return report_usage_error("syncline-worker", cli.get_status());
    if (cli->exit_now) return exit_ok;
    stop_flag stop = install_stop_handlers();
    tune_allocator_for_batches();
    try {
        status s = workers::run(cli->options, stop);
        if (s.ok()) return exit_ok;
        return s.code() == errc::invalid_argument ? report_usage_error("syncline-worker", s)
                                                  : report_fatal("syncline-worker", s);
    } catch (const std::exception& e) {  // the only catch-all in the process
        return report_fatal("syncline-worker", e.what());
    }
}
