#pragma once
// tests/support/nats_server.h: a throwaway nats-server with JetStream (/usr/sbin/nats-server, or
// $SYNCLINE_NATS_SERVER) for tests: `-js -a 127.0.0.1 -p PORT -sd DIR/jetstream`, log in its own
// temp dir, started in the foreground as our child. stop() sends SIGTERM (the server flushes
// its streams), start() again (same port, same dir) finds every stored message: what the
// outage tests need. The destructor kills (SIGKILL) and reaps a running server; if the test
// process dies without unwinding, the kernel kills the server (parent-death signal).
// Also a JetStream reader (libnats) for checking what a stream holds. Throws
// std::runtime_error when the server does not come up or a call fails. Not thread-safe.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "tests/support/harness.h"

namespace syncline::testing {

// One message as a JetStream consumer receives it.
struct stream_message {
    std::string subject;
    std::map<std::string, std::string> headers;  // First value of each header.
    std::string body;
    std::uint64_t sequence = 0;  // The stream's sequence number.
};

class nats_server {
public:
    // Starts the server and waits (up to 20 s) until JetStream answers.
    nats_server();
    ~nats_server();
    nats_server(const nats_server&) = delete;
    nats_server& operator=(const nats_server&) = delete;

    int port() const { return _port; }
    // nats://127.0.0.1:PORT/PREFIX, plus `query` (without '?') if given.
    std::string uri(const std::string& prefix, const std::string& query = "") const;
    const std::string& dir() const { return _dir.path(); }
    bool running() { return _process && _process->running(); }

    // SIGTERM and wait for the exit; SIGKILL after 10 s.
    void stop();
    // Starts again on the same port and dir; waits until JetStream answers.
    void start();

    // Creates a file-stored stream on `subjects` (e.g. "sync.>") with a duplicate window.
    void create_stream(const std::string& name, const std::string& subjects, int duplicate_window_s = 120,
                       std::int32_t max_msg_size = -1);
    // Every message of `stream`, read in order by a pull consumer (deleted when done).
    std::vector<stream_message> read_stream(const std::string& name);

private:
    temp_dir _dir;
    int _port = 0;
    std::optional<child_process> _process;
};

// A core NATS subscription that records every message published on `subjects` while it lives,
// the ones a stream drops as duplicates included (the stream's dedup only decides what it
// stores): how a test sees redeliveries. Thread-safe.
class nats_recorder {
public:
    nats_recorder(int port, const std::string& subjects);
    ~nats_recorder();
    nats_recorder(const nats_recorder&) = delete;
    nats_recorder& operator=(const nats_recorder&) = delete;

    std::vector<stream_message> messages();  // So far, in arrival order (sequence 0).

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::testing
