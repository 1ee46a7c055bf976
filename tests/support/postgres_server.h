#pragma once
// tests/support/postgres_server.h: a throwaway PostgreSQL 15 for tests: initdb into a temp dir,
// the postmaster on 127.0.0.1:<free port> (and a unix socket in the temp dir), superuser
// `syncline` with password auth (scram-sha-256). PostgreSQL refuses to run as root: as root the
// server runs as the `postgres` system user (Debian's postgresql package creates it), its
// directory chowned to it; as a normal user it runs as that user.
// stop() and start() again reuse the data dir and port (outages). The destructor kills the server
// (immediate shutdown, then SIGKILL) and removes the directory, even when a test failed.
// Throws std::runtime_error when the server cannot be set up or started. Not thread-safe.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/subprocess.h"

namespace syncline::testing {

class postgres_server {
public:
    static constexpr const char* user = "syncline";
    static constexpr const char* password = "syncline-test-password";

    // initdb + start; waits until it accepts connections. `settings` are extra server settings
    // passed as `-c NAME=VALUE` on every start (e.g. "wal_level=logical" for change capture).
    explicit postgres_server(std::vector<std::string> settings = {});
    ~postgres_server();
    postgres_server(const postgres_server&) = delete;
    postgres_server& operator=(const postgres_server&) = delete;

    // Fast shutdown (connections are terminated), waits for the exit.
    void stop();
    // Immediate shutdown (SIGQUIT: no checkpoint, crash recovery at the next start), as a crash.
    void crash();
    // Starts again on the same data dir and port; waits until it accepts connections.
    void start();
    bool running();

    int port() const { return _port; }
    // postgresql://syncline@127.0.0.1:PORT/DB?password_file=DIR/pwfile[&query]
    std::string uri(const std::string& db = "postgres", const std::string& query = "") const;
    // The same without the password (for tests of PGPASSWORD and of messages).
    std::string uri_without_password(const std::string& db = "postgres", const std::string& query = "") const;
    // libpq conninfo string for the tests' own queries.
    std::string conninfo(const std::string& db = "postgres") const;
    const std::string& dir() const { return _dir; }

private:
    std::string _dir;       // Owned temp dir: data/, socket dir, log.
    int _port = 0;
    std::unique_ptr<child_process> _postmaster;
    std::string _log;
    std::vector<std::string> _settings;
};

}  // namespace syncline::testing
