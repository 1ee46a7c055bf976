#include "tests/support/postgres_server.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/harness.h"

namespace syncline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string pg_bin = "/usr/lib/postgresql/15/bin/";

// argv prefix that runs a program as the server's user: `postgres` when we are root (PostgreSQL
// refuses to run as root), ourselves otherwise. setpriv execs in place (no intermediate process
// like runuser's), so the child we own is the postmaster itself and our signals reach it.
struct server_user {
    std::vector<std::string> prefix;
    uid_t uid = ::geteuid();
    gid_t gid = ::getegid();
};

server_user resolve_server_user() {
    server_user u;
    if (::geteuid() != 0) return u;
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("postgres_server: running as root and there is no 'postgres' user");
    u.uid = pw->pw_uid;
    u.gid = pw->pw_gid;
    u.prefix = {"/usr/bin/setpriv", "--reuid=" + std::to_string(u.uid), "--regid=" + std::to_string(u.gid),
                "--clear-groups", "--"};
    return u;
}

void chown_tree(const std::string& path, const server_user& u) {
    if (::geteuid() != 0) return;
    if (::chown(path.c_str(), u.uid, u.gid) != 0) throw std::runtime_error("postgres_server: chown " + path);
    for (const auto& e : fs::recursive_directory_iterator(path))
        if (::lchown(e.path().c_str(), u.uid, u.gid) != 0) throw std::runtime_error("postgres_server: chown " + e.path().string());
}

child_process spawn_as_server_user(std::vector<std::string> argv, const std::string& log) {
    static const server_user u = resolve_server_user();
    spawn_options o;
    o.argv = u.prefix;
    o.argv.insert(o.argv.end(), argv.begin(), argv.end());
    o.stdout_path = log;
    o.stderr_path = log;
    o.stdin_path = "/dev/null";
    auto child = child_process::spawn(o);
    if (!child.ok()) throw std::runtime_error("postgres_server: " + child.get_status().message());
    return std::move(child.value());
}

}  // namespace

postgres_server::postgres_server(std::vector<std::string> settings) : _settings(std::move(settings)) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/syncline-pg-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("postgres_server: mkdtemp failed");
    _dir = pattern;
    _log = _dir + "/server.log";
    _port = free_tcp_port();
    const server_user u = resolve_server_user();
    {
        std::ofstream pw(_dir + "/pwfile");
        pw << password << "\n";
    }
    std::ofstream(_log).flush();
    chown_tree(_dir, u);

    auto initdb = spawn_as_server_user({pg_bin + "initdb", "-D", _dir + "/data", "-U", user, "--pwfile=" + _dir + "/pwfile",
                                        "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"},
                                       _log);
    auto code = initdb.wait_for(seconds(120));
    if (code != 0) throw std::runtime_error("postgres_server: initdb failed: " + read_file(_log));
    start();
}

postgres_server::~postgres_server() {
    if (_postmaster && _postmaster->running()) {
        // Immediate shutdown: the postmaster takes its backends down with it.
        _postmaster->signal(SIGQUIT);
        if (!_postmaster->wait_for(seconds(10))) _postmaster->signal(SIGKILL);
        _postmaster->wait_for(seconds(10));
    }
    _postmaster.reset();
    std::error_code ec;
    fs::remove_all(_dir, ec);
}

void postgres_server::start() {
    if (running()) return;
    std::vector<std::string> argv = {pg_bin + "postgres", "-D", _dir + "/data", "-p", std::to_string(_port), "-k", _dir,
                                     "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=40", "-c", "shared_buffers=64MB"};
    for (const auto& s : _settings) {
        argv.push_back("-c");
        argv.push_back(s);
    }
    _postmaster = std::make_unique<child_process>(spawn_as_server_user(std::move(argv), _log));
    const std::string info = conninfo();
    const bool up = eventually(
        [&] { return !_postmaster->running() || PQping(info.c_str()) == PQPING_OK; }, seconds(60));
    if (!up || !_postmaster->running())
        throw std::runtime_error("postgres_server: did not start on port " + std::to_string(_port) + ": " + read_file(_log));
}

void postgres_server::stop() {
    if (!running()) return;
    _postmaster->signal(SIGINT);  // Fast shutdown: clients are disconnected, the data is checkpointed.
    if (!_postmaster->wait_for(seconds(60))) {
        _postmaster->signal(SIGQUIT);
        _postmaster->wait_for(seconds(10));
    }
}

void postgres_server::crash() {
    if (!running()) return;
    _postmaster->signal(SIGQUIT);
    if (!_postmaster->wait_for(seconds(30))) _postmaster->signal(SIGKILL);
    _postmaster->wait_for(seconds(10));
}

bool postgres_server::running() { return _postmaster && _postmaster->running(); }

std::string postgres_server::uri(const std::string& db, const std::string& query) const {
    return "postgresql://" + std::string(user) + "@127.0.0.1:" + std::to_string(_port) + "/" + db + "?password_file=" +
           _dir + "/pwfile" + (query.empty() ? "" : "&" + query);
}

std::string postgres_server::uri_without_password(const std::string& db, const std::string& query) const {
    return "postgresql://" + std::string(user) + "@127.0.0.1:" + std::to_string(_port) + "/" + db +
           (query.empty() ? "" : "?" + query);
}

std::string postgres_server::conninfo(const std::string& db) const {
    return "host=127.0.0.1 port=" + std::to_string(_port) + " user=" + user + " password=" + password +
           " dbname=" + db + " connect_timeout=5";
}

}  // namespace syncline::testing
