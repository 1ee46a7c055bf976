#pragma once
// tests/support/launch.h: what every launcher of a real server in tests/support/ (redis, nats,
// rabbitmq, the smtp and push receivers) does the same way: pick free ports and start again when
// one was taken meanwhile, start the server so that it dies with the test binary, wait until it
// answers, and stop it.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/subprocess.h"

namespace syncline::testing {

// free_tcp_port() was free a moment ago, but another process may bind it before the server does:
// `start` picks its ports and starts; when it throws std::runtime_error it runs again, three
// times in all (the last error propagates).
void start_on_free_ports(const std::function<void()>& start);

// Starts `argv` under setpriv's parent-death signal (a test binary killed outright, by SIGKILL or
// a ctest timeout, takes its server with it), stdout and stderr appended to `log`, stdin
// /dev/null; then waits up to scaled(20 s) until `ready()` holds. Throws std::runtime_error
// naming `what` and holding the log's text when the server exits or never gets ready.
child_process launch_server(const std::string& what, std::vector<std::string> argv, const std::string& log,
                            const std::function<bool()>& ready);

// SIGTERM, then SIGKILL after 10 s, reaped; `process` is empty after. Nothing when already empty.
void stop_server(std::optional<child_process>& process);

}  // namespace syncline::testing
