#pragma once
// tests/support/mysql_server.h: a throwaway MariaDB for tests: mariadb-install-db into a temp dir,
// mariadbd on 127.0.0.1:<free port> (and a unix socket in the temp dir), user `syncline` with a
// password (created by an init file at every start) and all privileges. As root, mariadbd runs
// with --user=root (it refuses root otherwise) in its own temp dir; as a normal user, as that user.
// max_allowed_packet is kept small (max_packet_bytes) so that tests of oversized rows stay cheap.
// kill() (SIGKILL, crash recovery at the next start) or stop() (clean shutdown), then start()
// again on the same data dir and port. The destructor kills the server and removes the directory,
// even when a test failed. Throws std::runtime_error when the server cannot be set up or started.
#include <memory>
#include <string>
#include <vector>

#include "common/subprocess.h"

namespace syncline::testing {

class mysql_server {
public:
    static constexpr const char* user = "syncline";
    static constexpr const char* password = "syncline-test-password";
    static constexpr std::size_t max_packet_bytes = 4 << 20;

    mysql_server();  // install-db + start; waits until `user` can connect.
    // With extra mariadbd options (e.g. "--lower-case-table-names=1"), at install and every start.
    explicit mysql_server(std::vector<std::string> server_options);
    ~mysql_server();
    mysql_server(const mysql_server&) = delete;
    mysql_server& operator=(const mysql_server&) = delete;

    void start();  // On the same data dir and port; waits until `user` can connect.
    void stop();   // Clean shutdown (SIGTERM), waits for the exit.
    void kill();   // SIGKILL, as a crash; waits for the exit.
    bool running();

    int port() const { return _port; }
    const std::string& dir() const { return _dir; }
    std::string socket() const { return _dir + "/mysqld.sock"; }
    // A file holding the password (for ?password_file=).
    std::string password_file() const { return _dir + "/password"; }
    // mysql://syncline@127.0.0.1:PORT/DB?password_file=...[&query]
    std::string uri(const std::string& db, const std::string& query = "") const;
    // Runs `sql` (several statements allowed) on `db` ("" for none) as `user`; the first row's
    // first column ("" if none; "NULL" for NULL). Throws std::runtime_error with the server's message.
    std::string query(const std::string& sql, const std::string& db = "") const;

private:
    std::vector<std::string> _options;
    std::string _dir;  // Owned temp dir: data/, socket, init file, log.
    int _port = 0;
    std::unique_ptr<child_process> _server;
    std::string _log;
};

}  // namespace syncline::testing
