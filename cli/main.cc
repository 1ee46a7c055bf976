// `syncline`: the control tool. All logic lives in syncline::cli (cli/syncline_cli.h).
#include <exception>

#include "cli/syncline_cli.h"
#include "common/process.h"

int main(int argc, char** argv) {
    try {
        return syncline::cli::syncline_main(argc, argv);
    } catch (const std::exception& e) {  // The only catch-all: a bug or memory exhaustion.
        return syncline::report_fatal("syncline", e.what());
    } catch (...) {
        return syncline::report_fatal("syncline", "unknown exception");
    }
}
