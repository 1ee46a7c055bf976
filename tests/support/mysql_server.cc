#include "tests/support/mysql_server.h"

#include <mysql.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tests/support/harness.h"

namespace syncline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

// mariadbd refuses to run as root unless told to; then it stays root (the data dir is ours).
std::vector<std::string> user_option() {
    if (::geteuid() == 0) return {"--user=root"};
    return {};
}

child_process spawn_logged(std::vector<std::string> argv, const std::string& log) {
    spawn_options o;
    o.argv = std::move(argv);
    o.stdout_path = log;
    o.stderr_path = log;
    o.stdin_path = "/dev/null";
    auto child = child_process::spawn(o);
    if (!child.ok()) throw std::runtime_error("mysql_server: " + child.get_status().message());
    return std::move(child.value());
}

}  // namespace

mysql_server::mysql_server() : mysql_server(std::vector<std::string>{}) {}

mysql_server::mysql_server(std::vector<std::string> server_options) : _options(std::move(server_options)) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/syncline-mysql-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mysql_server: mkdtemp failed");
    _dir = pattern;
    _log = _dir + "/server.log";
    _port = free_tcp_port();
    std::ofstream(password_file()) << password << "\n";
    // Run at every start before connections are accepted: the test user with a password, so
    // that the target's authentication is exercised (no skip-grant-tables).
    std::ofstream(_dir + "/init.sql") << "CREATE USER IF NOT EXISTS '" << user << "'@'127.0.0.1' IDENTIFIED BY '"
                                      << password << "';\nCREATE USER IF NOT EXISTS '" << user
                                      << "'@'localhost' IDENTIFIED BY '" << password << "';\nGRANT ALL ON *.* TO '"
                                      << user << "'@'127.0.0.1';\nGRANT ALL ON *.* TO '" << user << "'@'localhost';\n";
    std::vector<std::string> install = {"/usr/bin/mariadb-install-db", "--no-defaults", "--datadir=" + _dir + "/data",
                                        "--auth-root-authentication-method=normal", "--skip-test-db", "--tmpdir=" + _dir,
                                        "--skip-name-resolve"};
    for (auto& o : user_option()) install.push_back(o);
    for (auto& o : _options) install.push_back(o);
    auto child = spawn_logged(install, _log);
    if (child.wait_for(seconds(120)) != 0) throw std::runtime_error("mysql_server: mariadb-install-db failed: " + read_file(_log));
    start();
}

mysql_server::~mysql_server() {
    kill();
    _server.reset();
    std::error_code ec;
    fs::remove_all(_dir, ec);
}

void mysql_server::start() {
    if (running()) return;
    std::vector<std::string> argv = {"/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + _dir + "/data",
                                     "--bind-address=127.0.0.1", "--port=" + std::to_string(_port),
                                     "--socket=" + socket(), "--pid-file=" + _dir + "/mysqld.pid",
                                     "--init-file=" + _dir + "/init.sql", "--tmpdir=" + _dir, "--skip-name-resolve", "--skip-log-bin",
                                     "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M",
                                     "--innodb-flush-log-at-trx-commit=2", "--max-connections=60",
                                     "--max-allowed-packet=" + std::to_string(max_packet_bytes)};
    for (auto& o : user_option()) argv.push_back(o);
    for (auto& o : _options) argv.push_back(o);
    _server = std::make_unique<child_process>(spawn_logged(argv, _log));
    const bool up = eventually(
        [&] {
            if (!_server->running()) return true;
            MYSQL* c = mysql_init(nullptr);
            const bool ok = mysql_real_connect(c, "127.0.0.1", user, password, nullptr, static_cast<unsigned>(_port),
                                               nullptr, 0) != nullptr;
            mysql_close(c);
            return ok;
        },
        seconds(90));
    if (!up || !_server->running())
        throw std::runtime_error("mysql_server: did not start on port " + std::to_string(_port) + ": " + read_file(_log));
}

void mysql_server::stop() {
    if (!running()) return;
    _server->signal(SIGTERM);
    if (!_server->wait_for(seconds(60))) kill();
}

void mysql_server::kill() {
    if (!running()) return;
    _server->signal(SIGKILL);
    _server->wait_for(seconds(30));
}

bool mysql_server::running() { return _server && _server->running(); }

std::string mysql_server::uri(const std::string& db, const std::string& query) const {
    return "mysql://" + std::string(user) + "@127.0.0.1:" + std::to_string(_port) + "/" + db +
           "?password_file=" + password_file() + (query.empty() ? "" : "&" + query);
}

std::string mysql_server::query(const std::string& sql, const std::string& db) const {
    MYSQL* c = mysql_init(nullptr);
    mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(c, "127.0.0.1", user, password, db.empty() ? nullptr : db.c_str(),
                           static_cast<unsigned>(_port), nullptr, CLIENT_MULTI_STATEMENTS) == nullptr) {
        std::string msg = mysql_error(c);
        mysql_close(c);
        throw std::runtime_error("mysql_server: connect: " + msg);
    }
    std::string first;
    bool have_first = false;
    int status = mysql_real_query(c, sql.data(), sql.size());
    while (status == 0) {
        if (MYSQL_RES* r = mysql_store_result(c)) {
            if (!have_first) {
                if (MYSQL_ROW row = mysql_fetch_row(r)) {
                    first = row[0] ? std::string(row[0], mysql_fetch_lengths(r)[0]) : "NULL";
                    have_first = true;
                }
            }
            mysql_free_result(r);
        }
        status = mysql_next_result(c);
    }
    if (status > 0) {
        std::string msg = mysql_error(c);
        mysql_close(c);
        throw std::runtime_error("mysql_server: " + sql + ": " + msg);
    }
    mysql_close(c);
    return first;
}

}  // namespace syncline::testing
