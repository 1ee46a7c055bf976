#include "tests/support/redis_server.h"

#include <hiredis/hiredis.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "tests/support/launch.h"

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
    start_on_free_ports([this] {
        _port = free_tcp_port();
        start();
    });
}

redis_server::~redis_server() {
    // child_process kills and reaps it; temp_dir removes the data.
    _process.reset();
}

std::string redis_server::uri(unsigned db, const std::string& query) const {
    return "redis://127.0.0.1:" + std::to_string(_port) + "/" + std::to_string(db) + (query.empty() ? "" : "?" + query);
}

void redis_server::start() {
    _process = launch_server("redis-server on port " + std::to_string(_port),
                             {server_binary(),
                 "--port", std::to_string(_port),
                 "--bind", "127.0.0.1",
                 "--dir", _dir.path(),
                 "--daemonize", "no",
                 "--save", "",
                 "--appendonly", "yes",
                 "--appendfsync", "everysec",
                 "--logfile", "",  // stdout, appended to redis.log below.
                 "--databases", "16"},
                             _dir / "redis.log", [this] { return answers_ping(_port); });
}

void redis_server::stop() {
    stop_server(_process);
}

}  // namespace syncline::testing
