// syncline-capture: change capture from PostgreSQL into the change log (capture/capture.h).
// On a terminal the snapshot's progress is one redrawn bar per table (cli/progress.h, issue 18);
// otherwise the capture logs a line per chunk.
#include <exception>
#include <memory>

#include "capture/capture.h"
#include "cli/progress.h"
#include "common/process.h"

int main(int argc, char** argv) {
    using namespace syncline;
    auto cli = capture::parse_cli(argc, argv);
    if (!cli.ok()) return report_usage_error("syncline-capture", cli.get_status());
    if (cli->exit_now) return exit_ok;
    stop_flag stop = install_stop_handlers();
    std::unique_ptr<cli::progress_line> bar;
    std::string bar_table;
    cli->options.on_snapshot_progress = [&](const capture::capture_options::snapshot_progress& p) {
        if (bar_table != p.table || !bar) {
            bar.reset();  // ends the previous table's line
            bar = std::make_unique<cli::progress_line>("snapshot " + p.table);
            bar_table = p.table;
        }
        if (!bar->active()) return false;
        bar->update(p.rows, p.done ? p.rows : p.estimate,
                    "table " + std::to_string(p.table_number) + "/" + std::to_string(p.tables), p.done);
        if (p.done) bar.reset();
        return true;
    };
    try {
        status s = capture::run(cli->options, stop);
        bar.reset();
        if (s.ok()) return exit_ok;
        return s.code() == errc::invalid_argument ? report_usage_error("syncline-capture", s)
                                                  : report_fatal("syncline-capture", s);
    } catch (const std::exception& e) {  // the only catch-all in the process
        return report_fatal("syncline-capture", e.what());
    }
}
