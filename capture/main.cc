// syncline-capture: change capture from PostgreSQL into the change log (capture/capture.h).
#include <exception>

#include "capture/capture.h"
#include "common/process.h"

int main(int argc, char** argv) {
    using namespace syncline;
    auto cli = capture::parse_cli(argc, argv);
    if (!cli.ok()) return report_usage_error("syncline-capture", cli.get_status());
    if (cli->exit_now) return exit_ok;
    stop_flag stop = install_stop_handlers();
    try {
        status s = capture::run(cli->options, stop);
        if (s.ok()) return exit_ok;
        return s.code() == errc::invalid_argument ? report_usage_error("syncline-capture", s)
                                                  : report_fatal("syncline-capture", s);
    } catch (const std::exception& e) {  // the only catch-all in the process
        return report_fatal("syncline-capture", e.what());
    }
}
