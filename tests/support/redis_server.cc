#include "tests/support/redis_server.h"

#include <hiredis/hiredis.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace syncline::testing {
namespace {

std::string server_binary() {
    const char* custom = std::getenv("SYNCLINE_REDIS_SERVER");
    return custom && *custom ? custom : "/usr/bin/redis-server";
}

bool answers_ping(int port) {
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port, timeval{0, 200'000});
    bool ok = false;
    if (c != nullptr && c->err == 0) {
        redisSetTimeout(c, timeval{1, 0});
        // LOADING (replaying the AOF) is an error reply: not ready yet.
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
        if (r != nullptr) freeReplyObject(r);
    }
    if (c != nullptr) redisFree(c);
    return ok;
}

}  // namespace

redis_server::redis_server() {
    // The free port may be taken by someone else before the server binds it: try a few.
    for (int attempt = 0; attempt < 3; ++attempt) {
        _port = free_tcp_port();
        try {
            start();
            return;
        } catch (const std::runtime_error&) {
            if (attempt == 2) throw;
        }
    }
}

redis_server::~redis_server() {
    // child_process kills and reaps it; temp_dir removes the data.
    _process.reset();
}

std::string redis_server::uri(unsigned db, const std::string& query) const {
    return "redis://127.0.0.1:" + std::to_string(_port) + "/" + std::to_string(db) + (query.empty() ? "" : "?" + query);
}

void redis_server::start() {
    spawn_options opts;
    // setpriv (util-linux, always on Debian) execs the server with a parent-death signal: even a
    // test binary killed outright (SIGKILL, a ctest timeout) takes its server with it.
    opts.argv = {"/usr/bin/setpriv", "--pdeathsig", "KILL", server_binary(),
                 "--port", std::to_string(_port),
                 "--bind", "127.0.0.1",
                 "--dir", _dir.path(),
                 "--daemonize", "no",
                 "--save", "",
                 "--appendonly", "yes",
                 "--appendfsync", "everysec",
                 "--logfile", "",  // stdout, appended to redis.log below.
                 "--databases", "16"};
    opts.stdout_path = _dir / "redis.log";
    opts.stderr_path = _dir / "redis.log";
    opts.stdin_path = "/dev/null";
    auto child = child_process::spawn(opts);
    if (!child.ok()) throw std::runtime_error("redis-server: " + child.get_status().message());
    _process.emplace(std::move(child.value()));
    const bool up = eventually([&] { return !_process->running() || answers_ping(_port); }, std::chrono::seconds(20));
    if (!up || !_process->running()) {
        _process.reset();
        throw std::runtime_error("redis-server on port " + std::to_string(_port) +
                                 " did not come up: " + read_file(_dir / "redis.log"));
    }
}

void redis_server::stop() {
    if (!_process) return;
    _process->signal(SIGTERM);
    _process->wait_or_kill(std::chrono::seconds(10));
    _process.reset();
}

}  // namespace syncline::testing
