#include "store/wal_watch.h"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <string_view>
#include <sys/inotify.h>
#include <unistd.h>

namespace syncline::store {

result<wal_watch> wal_watch::open(const std::string& dir) {
    const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return status{errc::io_error, std::string("inotify_init1: ") + std::strerror(errno)};
    // IN_MODIFY: a WAL append; IN_CREATE / IN_MOVED_TO: a new WAL file (after a memtable switch).
    if (inotify_add_watch(fd, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
        const int err = errno;
        ::close(fd);
        return status{errc::io_error, "inotify_add_watch " + dir + ": " + std::strerror(err)};
    }
    return wal_watch(fd);
}

wal_watch::wal_watch(wal_watch&& other) noexcept : _fd(other._fd) { other._fd = -1; }

wal_watch& wal_watch::operator=(wal_watch&& other) noexcept {
    if (this != &other) {
        if (_fd >= 0) ::close(_fd);
        _fd = other._fd;
        other._fd = -1;
    }
    return *this;
}

wal_watch::~wal_watch() {
    if (_fd >= 0) ::close(_fd);
}

bool wal_watch::consume() {
    if (_fd < 0) return false;
    bool wal = false;
    alignas(inotify_event) char buf[8192];
    while (true) {
        const ssize_t n = ::read(_fd, buf, sizeof buf);
        if (n <= 0) break;  // EAGAIN: drained (EINTR: the next poll comes back).
        for (ssize_t at = 0; at + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
            const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
            at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
            if (e->mask & IN_Q_OVERFLOW) {
                wal = true;  // Events were lost: assume the worst.
                continue;
            }
            if (e->len == 0) continue;
            const std::string_view name(e->name, ::strnlen(e->name, e->len));
            if (name.size() > 4 && name.substr(name.size() - 4) == ".log") wal = true;
        }
    }
    return wal;
}

bool wal_watch::wait(std::chrono::milliseconds timeout) {
    if (_fd < 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (consume()) return true;  // Events for other files (MANIFEST, LOG) keep waiting.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{_fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) == 0) return false;
    }
}

}  // namespace syncline::store
