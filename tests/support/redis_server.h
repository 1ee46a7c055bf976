#pragma once
// tests/support/redis_server.h: a throwaway redis-server (/usr/bin/redis-server, or
// $SYNCLINE_REDIS_SERVER) for tests and benchmarks: 127.0.0.1 on a free port, data, AOF and log
// in its own temp dir, started in the foreground as our child.
//
// Persistence: appendonly yes, appendfsync everysec, no RDB snapshots. stop() sends SIGTERM, on
// which Redis flushes and fsyncs the AOF before exiting, so start() again (same port, same dir)
// finds every acknowledged write: what the outage tests need. (A SIGKILL or power loss could
// lose the last second; tests that want that must say so.)
// stop()/start() can be repeated; the destructor kills (SIGKILL) and reaps a running server and
// removes the directory; if the test process dies without unwinding, the kernel kills the server
// (parent-death signal). Throws std::runtime_error when the server does not come up (its log
// is in the message). Not thread-safe.
#include <chrono>
#include <optional>
#include <string>

#include "common/subprocess.h"
#include "tests/support/harness.h"

namespace syncline::testing {

class redis_server {
public:
    // Starts the server and waits (up to 20 s) until it answers PING.
    redis_server();
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    int port() const { return _port; }
    // redis://127.0.0.1:PORT/db, plus `query` (without '?') if given.
    std::string uri(unsigned db = 0, const std::string& query = "") const;
    const std::string& dir() const { return _dir.path(); }
    bool running() { return _process && _process->running(); }

    // SIGTERM and wait for the exit (Redis saves the AOF first); SIGKILL after 10 s.
    void stop();
    // Starts again on the same port and dir; waits until it answers PING.
    void start();

private:
    temp_dir _dir;
    int _port = 0;
    std::optional<child_process> _process;
};

}  // namespace syncline::testing
