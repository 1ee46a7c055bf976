#include "store/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

namespace syncline::store {
namespace {

std::string lock_path(const std::string& root, const std::string& pipeline) {
    return (std::filesystem::path(root) / (pipeline + ".running")).string();
}

std::optional<pid_t> read_pid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return std::nullopt;
    const long pid = std::strtol(buf, nullptr, 10);
    return pid > 0 ? std::optional<pid_t>(static_cast<pid_t>(pid)) : std::nullopt;
}

}  // namespace

result<run_lock> run_lock::acquire(const std::string& root, const std::string& pipeline) {
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    const std::string path = lock_path(root, pipeline);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return status{errc::io_error, "cannot open " + path + ": " + std::strerror(errno)};
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const auto pid = read_pid(fd);
        ::close(fd);
        return status{errc::busy, "pipeline " + pipeline + " is already running" +
                                      (pid ? " (pid " + std::to_string(*pid) + " holds its run lock)" : std::string()) +
                                      "; lock " + path};
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        // The pid is only for messages: the lock holds without it.
    }
    return run_lock(fd);
}

std::optional<pid_t> run_lock::holder(const std::string& root, const std::string& pipeline) {
    const int fd = ::open(lock_path(root, pipeline).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::optional<pid_t> out;
    if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
        out = read_pid(fd);
        if (!out) out = 0;
    } else {
        ::flock(fd, LOCK_UN);
    }
    ::close(fd);
    return out;
}

result<std::optional<run_lock>> run_lock::sink_lock(const std::string& root, const std::string& pipeline) {
    if (const auto pid = holder(root, pipeline); pid && *pid > 0) {
        // Walk up from the parent (a wrapper script may sit between the runner and the sink).
        for (pid_t p = ::getppid(); p > 1;) {
            if (p == *pid) return std::optional<run_lock>();
            std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
            std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
            const auto close = text.rfind(')');
            if (close == std::string::npos || close + 4 > text.size()) break;
            p = static_cast<pid_t>(std::strtol(text.c_str() + close + 4, nullptr, 10));  // ") S PPID"
        }
    }
    auto lock = acquire(root, pipeline);
    if (!lock.ok()) return lock.get_status();
    return std::optional<run_lock>(std::move(lock.value()));
}

run_lock::run_lock(run_lock&& other) noexcept : _fd(std::exchange(other._fd, -1)) {}

run_lock& run_lock::operator=(run_lock&& other) noexcept {
    if (this != &other) {
        if (_fd >= 0) ::close(_fd);
        _fd = std::exchange(other._fd, -1);
    }
    return *this;
}

run_lock::~run_lock() {
    if (_fd >= 0) ::close(_fd);  // Closing the last descriptor releases the flock.
}

}  // namespace syncline::store
