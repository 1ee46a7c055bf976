#include "tests/support/launch.h"

#include <csignal>
#include <stdexcept>

#include "tests/support/harness.h"

namespace syncline::testing {

void start_on_free_ports(const std::function<void()>& start) {
    for (int attempt = 0;; ++attempt) {
        try {
            start();
            return;
        } catch (const std::runtime_error&) {
            if (attempt == 2) throw;
        }
    }
}

child_process launch_server(const std::string& what, std::vector<std::string> argv, const std::string& log,
                            const std::function<bool()>& ready) {
    spawn_options opts;
    opts.argv = {"/usr/bin/setpriv", "--pdeathsig", "KILL"};
    opts.argv.insert(opts.argv.end(), argv.begin(), argv.end());
    opts.stdout_path = log;
    opts.stderr_path = log;
    opts.stdin_path = "/dev/null";
    auto child = child_process::spawn(opts);
    if (!child.ok()) throw std::runtime_error(what + ": " + child.get_status().message());
    child_process process = std::move(child.value());
    const bool up = eventually([&] { return !process.running() || ready(); }, std::chrono::seconds(20));
    if (!up || !process.running()) throw std::runtime_error(what + " did not come up: " + read_file(log));
    return process;
}

void stop_server(std::optional<child_process>& process) {
    if (!process) return;
    process->signal(SIGTERM);
    process->wait_or_kill(std::chrono::seconds(10));
    process.reset();
}

}  // namespace syncline::testing
