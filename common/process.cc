#include "common/process.h"

#include "common/log.h"

#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

namespace syncline {
namespace {

static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free counter");
static_assert(std::atomic<std::atomic<bool>*>::is_always_lock_free, "the signal handler needs a lock-free pointer");

// The handler may only touch lock-free atomics: it reaches the flag through this raw pointer,
// which points into the process-wide shared_ptr that lives until exit.
std::atomic<std::atomic<bool>*> g_signal_flag{nullptr};
std::atomic<int> g_signals{0};
// The supervisor named by stop_with_parent_env, 0 without one.
std::atomic<pid_t> g_supervisor{0};
static_assert(std::atomic<pid_t>::is_always_lock_free, "the signal handler needs a lock-free pid");

extern "C" void on_stop_signal(int, siginfo_t* info, void*) {
    // When a multi-threaded supervisor dies, the kernel sends the parent-death signal again each
    // time this process passes from one of its dying threads to the next: repeats from the
    // supervisor are one request to drain, never the impatient second signal below.
    const pid_t supervisor = g_supervisor.load();
    const bool from_supervisor =
        supervisor != 0 && info != nullptr && info->si_code == SI_USER && info->si_pid == supervisor;
    if (from_supervisor && g_signals.load() >= 1) return;
    // A second signal means the operator does not want to wait for a clean stop.
    if (g_signals.fetch_add(1) >= 1) _exit(exit_failure);
    if (std::atomic<bool>* flag = g_signal_flag.load()) flag->store(true);
}

int report(std::string_view component, std::string_view message, int code) {
    // Whoever parses JSON logs must be able to parse the last line too.
    if (current_log_format() == log_format::json) {
        write_stderr_line(format_log_line(log_level::error, component, message));
        return code;
    }
    std::string line(component);
    line += ": error: ";
    line += scrub_secrets(std::string(message));
    line += '\n';
    write_stderr_line(line);
    return code;
}

std::string_view message_of(const status& s) {
    return s.message().empty() ? std::string_view(errc_name(s.code())) : std::string_view(s.message());
}

}  // namespace

stop_flag install_stop_handlers() {
    // Created (once) before the handlers exist, so a signal never sees a half-built flag.
    static const std::shared_ptr<std::atomic<bool>> flag = std::make_shared<std::atomic<bool>>(false);
    g_signal_flag.store(flag.get());

    const char* parent = std::getenv(stop_with_parent_env);
    if (parent != nullptr && *parent) g_supervisor.store(static_cast<pid_t>(std::atol(parent)));

    struct sigaction sa {};
    sa.sa_sigaction = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    // A peer closing a pipe or socket is an error value at the call site, not a reason to die.
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, nullptr);

    // A supervisor (`syncline run`) names itself here: if it dies, even by SIGKILL, the kernel
    // sends us SIGTERM, so its children drain and stop instead of running on as orphans.
    if (parent != nullptr && *parent) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (std::to_string(getppid()) != parent) flag->store(true);  // It died before prctl.
    }
    return stop_flag(flag);
}

int report_usage_error(std::string_view component, const status& s) {
    return report(component, message_of(s), exit_usage);
}

int report_fatal(std::string_view component, const status& s) {
    return report(component, message_of(s), exit_failure);
}

int report_fatal(std::string_view component, std::string_view message) {
    return report(component, message, exit_failure);
}

void tune_allocator_for_batches() {
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

long peak_rss_kb() {
    // VmHWM, not getrusage: ru_maxrss survives execve, so a child spawned by a big parent
    // would report the parent's peak.
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

}  // namespace syncline
