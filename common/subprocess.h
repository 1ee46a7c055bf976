#pragma once
// common/subprocess.h: a child process owned by its parent (posix_spawn): start it with its
// output sent to files, signal it, wait for it with a timeout. The destructor kills (SIGKILL)
// and reaps a child still running, so neither tests nor `syncline run` leave orphans behind.
// Not thread-safe. Errors: io_error when the program cannot be started.
#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "common/status.h"

namespace syncline {

struct spawn_options {
    std::vector<std::string> argv{};   // argv[0] is the program path.
    std::string stdout_path{};       // Appended to; empty = inherit the parent's.
    std::string stderr_path{};       // Appended to; empty = inherit the parent's.
    std::string stdin_path{};        // Empty = inherit.
    bool own_process_group = false;  // Keeps a terminal's Ctrl-C from reaching the child directly.
};

class child_process {
public:
    static result<child_process> spawn(const spawn_options& opts);
    child_process(child_process&& other) noexcept;
    child_process& operator=(child_process&& other) noexcept;
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process();

    pid_t pid() const noexcept { return _pid; }
    // True until the child has exited (reaps it when it has).
    bool running();
    // Exit code once exited: the code, or 128 + signal number when killed by a signal.
    std::optional<int> exit_code() const noexcept { return _exit_code; }
    // Sends `sig` if the child still runs.
    void signal(int sig);
    // Waits up to `timeout` for the exit; the exit code, or nullopt if it still runs.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL after `grace`; returns the exit code.
    int stop(std::chrono::milliseconds grace);
    // For a child already sent SIGTERM: waits up to `grace`, then SIGKILL; returns the exit code.
    // (A second SIGTERM would make a syncline process exit at once instead of draining.)
    int wait_or_kill(std::chrono::milliseconds grace);

private:
    explicit child_process(pid_t pid) : _pid(pid) {}
    pid_t _pid = -1;
    std::optional<int> _exit_code;
};

}  // namespace syncline
