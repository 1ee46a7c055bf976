#pragma once
// tests/support/rabbitmq_server.h: a throwaway RabbitMQ broker (Debian's rabbitmq-server, on
// Erlang) for tests, and a small consumer to read back what a target published.
//
// Everything lives in its own temp dir: the Mnesia database, logs, rabbitmq.conf, an empty
// enabled_plugins, and a HOME with the Erlang cookie. The broker listens on 127.0.0.1 on a free
// port; its Erlang distribution uses another free port, and it registers with an epmd of its own
// that we start on a third free port (ERL_EPMD_PORT), so no epmd is shared with other tests or a
// system broker and both processes are ours to kill by PID. The broker's VM is our direct child
// (RABBITMQ_ALLOW_INPUT makes the start script exec erl; -noinput keeps it off the terminal), and
// both processes get a parent-death SIGKILL (setpriv), so even a test killed outright takes them
// along.
// Login: user `syncline`, password `password()`, vhost `syncline-test` (not guest on /), so the
// target's user, password and vhost handling is exercised.
// Start-up takes 10-20 s on a busy 2-core machine: the tests using it share one broker per test
// binary and are labelled `integration;rabbitmq` (docs/targets/amqp.md).
// stop() SIGTERMs the broker (a clean shutdown) and start() brings it back on the same port and
// database: durable queues and persistent messages survive. Throws std::runtime_error when the
// broker does not come up (its log in the message). Not thread-safe.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "tests/support/harness.h"

namespace syncline::testing {

class rabbitmq_server {
public:
    // Starts epmd and the broker and waits (up to 90 s) until an AMQP login succeeds.
    rabbitmq_server();
    ~rabbitmq_server();
    rabbitmq_server(const rabbitmq_server&) = delete;
    rabbitmq_server& operator=(const rabbitmq_server&) = delete;

    int port() const { return _port; }
    static std::string user() { return "syncline"; }
    static std::string password() { return "rabbit-secret-1"; }
    static std::string vhost() { return "syncline-test"; }
    const std::string& dir() const { return _dir.path(); }
    // A file holding password(), for ?password_file=.
    std::string password_file() const { return _dir / "password"; }
    // amqp://syncline@127.0.0.1:PORT/EXCHANGE?vhost=syncline-test&password_file=...[&query]
    std::string uri(const std::string& exchange, const std::string& query = "") const;
    // How long the last start() took until the first successful login.
    std::chrono::milliseconds last_start_time() const { return _last_start; }

    // SIGTERM and wait for the exit (a clean shutdown); SIGKILL after 30 s.
    void stop();
    // Starts again on the same port and database; waits until a login succeeds.
    void start();

private:
    temp_dir _dir;
    int _port = 0, _dist_port = 0, _epmd_port = 0;
    std::string _node;
    std::chrono::milliseconds _last_start{0};
    std::optional<child_process> _epmd, _broker;
};

// A message as a consumer received it.
struct consumed_message {
    std::string exchange, routing_key, body, message_id, app_id;
    int delivery_mode = 0;
    std::map<std::string, std::string> headers;  // Integers in decimal.
};

// One connection to the broker as rabbitmq_server::user() on its vhost, for setting up exchanges
// and queues and reading back what was published. Throws std::runtime_error on any failure.
class amqp_consumer {
public:
    explicit amqp_consumer(const rabbitmq_server& server);
    ~amqp_consumer();
    amqp_consumer(const amqp_consumer&) = delete;
    amqp_consumer& operator=(const amqp_consumer&) = delete;

    void declare_exchange(const std::string& name, const std::string& type);
    void delete_exchange(const std::string& name);
    // A durable queue bound to `exchange` with `binding_key` (empty exchange: just the queue).
    void declare_queue(const std::string& queue, const std::string& exchange, const std::string& binding_key);
    // Reads (and acks) messages from `queue` until `count` have come or none came for `idle`.
    std::vector<consumed_message> take(const std::string& queue, std::size_t count,
                                       std::chrono::milliseconds idle = std::chrono::seconds(3));

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::testing
