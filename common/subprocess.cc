#include "common/subprocess.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace syncline {
namespace {

int decode_wait_status(int ws) {
    if (WIFEXITED(ws)) return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
    return 255;
}

}  // namespace

result<child_process> child_process::spawn(const spawn_options& opts) {
    if (opts.argv.empty()) return status{errc::invalid_argument, "spawn: empty argv"};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const int append = O_WRONLY | O_CREAT | O_APPEND;
    if (!opts.stdin_path.empty()) posix_spawn_file_actions_addopen(&actions, 0, opts.stdin_path.c_str(), O_RDONLY, 0);
    if (!opts.stdout_path.empty()) posix_spawn_file_actions_addopen(&actions, 1, opts.stdout_path.c_str(), append, 0644);
    if (!opts.stderr_path.empty()) posix_spawn_file_actions_addopen(&actions, 2, opts.stderr_path.c_str(), append, 0644);

    // Children start with default signal handling, whatever the parent ignores or blocks.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults, none;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (opts.own_process_group) {
        posix_spawnattr_setpgroup(&attr, 0);
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&attr, flags);

    std::vector<char*> argv;
    for (const auto& a : opts.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return status{errc::io_error, "cannot start " + opts.argv[0] + ": " + std::strerror(rc)};
    return child_process(pid);
}

child_process::child_process(child_process&& other) noexcept : _pid(other._pid), _exit_code(other._exit_code) {
    other._pid = -1;
}

child_process& child_process::operator=(child_process&& other) noexcept {
    if (this != &other) {
        if (running()) stop(std::chrono::milliseconds(0));
        _pid = other._pid;
        _exit_code = other._exit_code;
        other._pid = -1;
    }
    return *this;
}

child_process::~child_process() {
    if (_pid > 0 && running()) {
        ::kill(_pid, SIGKILL);
        int ws = 0;
        while (::waitpid(_pid, &ws, 0) < 0 && errno == EINTR) {
        }
    }
}

bool child_process::running() {
    if (_pid <= 0 || _exit_code) return false;
    int ws = 0;
    const pid_t r = ::waitpid(_pid, &ws, WNOHANG);
    if (r == _pid) {
        _exit_code = decode_wait_status(ws);
        return false;
    }
    return r == 0;
}

void child_process::signal(int sig) {
    if (running()) ::kill(_pid, sig);
}

std::optional<int> child_process::wait_for(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= end) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return _exit_code;
}

int child_process::stop(std::chrono::milliseconds grace) {
    signal(SIGTERM);
    return wait_or_kill(grace);
}

int child_process::wait_or_kill(std::chrono::milliseconds grace) {
    if (auto code = wait_for(grace)) return *code;
    signal(SIGKILL);
    if (auto code = wait_for(std::chrono::seconds(10))) return *code;
    return 255;
}

}  // namespace syncline
