// syncline-gateway: the ingest gateway (gateway/gateway.h has the logic).
#include <exception>

#include "common/process.h"
#include "gateway/gateway.h"

int main(int argc, char** argv) {
    using namespace syncline;
    auto cli = gateway::parse_cli(argc, argv);
    if (!cli.ok()) return report_usage_error("syncline-gateway", cli.get_status());
    if (cli->exit_now) return exit_ok;
    stop_flag stop = install_stop_handlers();
    tune_allocator_for_batches();
    try {
        status s = gateway::run(cli->options, stop);
        return s.ok() ? exit_ok : report_fatal("syncline-gateway", s);
    } catch (const std::exception& e) {  // the only catch-all in the process
        return report_fatal("syncline-gateway", e.what());
    }
}
