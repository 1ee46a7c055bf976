#pragma once
// common/curve.h: CurveZMQ for the pipeline's sockets (docs/security.md).
// - Key files: z85 text, NAME.key (secret, owner-only mode 0600) and NAME.pub (public), written
//   by write_key_pair (`syncline keygen`). load_* refuse a secret key file that group or others
//   can access, naming the file and the fix.
// - curve_options / add_cli_options: the --curve-* flags every binary shares; load() turns them
//   into keys (nullopt when CURVE is off).
// - apply_server / apply_client: socket options, set before bind / connect.
// - allow_list: the *.pub files of a directory, re-read when the directory changes.
// - zap_guard: the ZAP handler (RFC 27) of a server process: a thread answering libzmq's
//   authentication requests on inproc://zeromq.zap.01 from the allow list, counting and logging
//   (rate-limited) every peer it turns away, and the handshakes that fail before ZAP is asked.
// Nothing here throws; errors come back as invalid_argument (bad file, bad key) or io_error.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/cli_options.h"
#include "common/log.h"
#include "common/status.h"

namespace syncline::curve {

inline constexpr std::size_t key_bytes = 32;  // A binary Curve25519 key.
inline constexpr std::size_t z85_chars = 40;  // Its z85 text.

// A key pair as binary 32-byte strings.
struct key_pair {
    std::string public_key;
    std::string secret_key;
};

// A fresh key pair from libzmq (zmq_curve_keypair); io_error if libzmq lacks CURVE.
result<key_pair> generate();

// Writes DIR/NAME.key (mode 0600) and DIR/NAME.pub, creating DIR (mode 0700) if missing.
// invalid_argument if either file exists (keys are never overwritten silently) or NAME is not a
// plain name. Returns the paths written.
result<std::pair<std::string, std::string>> write_key_pair(const std::string& dir, std::string_view name,
                                                           const key_pair& keys);

// The key in a .pub file (binary). invalid_argument names the file and the problem.
result<std::string> load_public_key(const std::string& path);
// The key pair from a .key file (the public half is derived). invalid_argument if the file's
// permissions let group or others in, with the chmod that fixes it.
result<key_pair> load_secret_key(const std::string& path);

// z85 text of a binary key (for logs and allow-list comparison).
std::string to_z85(std::string_view binary_key);

// What a process does with CURVE, from its --curve-* flags.
enum class role {
    server,             // Binds only (sink): --curve-secret, --curve-allow.
    server_and_client,  // Binds and connects (ventilator): also --curve-server-key (default: own key).
    client,             // Connects only (worker): --curve-secret, --curve-server-key.
};

struct curve_options {
    std::string secret_key_file;  // --curve-secret: this process's key pair. Empty: CURVE off.
    std::string server_key_file;  // --curve-server-key: public key of the servers it connects to.
    std::string allow_dir;        // --curve-allow: directory of admitted clients' *.pub files.
    bool enabled() const { return !secret_key_file.empty(); }
};

// Adds the --curve-* flags that `r` uses to `desc`, storing into `out`.
void add_cli_options(cli::po::options_description& desc, curve_options& out, role r);

// Keys loaded from the files (binary).
struct keys {
    key_pair own;
    std::string server_public;  // Clients: the server's public key.
    std::string allow_dir;      // Servers: the allow-list directory.
};

// nullopt when CURVE is off; invalid_argument for flags that do not go together, missing or
// unreadable files, bad keys, or a secret key file others can read.
result<std::optional<keys>> load(const curve_options& options, role r);

// The ZAP domain of a server socket: its role, "syncline.<channel>". zap_guard admits per role:
// "syncline.control" (the sink's control socket, where the ventilator connects) only the
// servers' own key; every other role the own key and the allow list. docs/security.md, "Roles".
std::string role_domain(std::string_view channel);

// Socket options, before bind / connect. Throw nothing; invalid_argument if libzmq refuses.
// `domain`: the socket's role (role_domain).
status apply_server(zmq::socket_t& socket, const keys& k, std::string_view domain = "syncline.acks");
status apply_client(zmq::socket_t& socket, const keys& k);

// True for endpoints other hosts cannot reach: ipc://, inproc://, tcp:// on 127.0.0.0/8,
// localhost or [::1].
bool is_local_endpoint(std::string_view endpoint);
// Warns once per endpoint of the comma-separated `list` that other hosts can reach while CURVE
// is off: anyone who can connect there can read records or forge acks.
void warn_if_exposed(const logger& log, std::string_view channel, std::string_view list, bool curve_on);

// The admitted client keys: every *.pub file of a directory. Not thread-safe (the ZAP thread
// owns it). Files that do not hold a key are skipped with a warning.
class allow_list {
public:
    allow_list(std::string dir, const logger& log);
    // True if `public_key` (binary) is in the directory now. The directory is re-read when its
    // mtime changed (a file added, removed or renamed) and, for a key not found, at most every
    // 100 ms anyway (a file rewritten in place keeps the directory's mtime).
    bool admits(std::string_view public_key);
    std::size_t size() const { return _keys.size(); }
    const std::string& dir() const { return _dir; }

private:
    void rescan();
    std::string _dir;
    const logger& _log;
    std::set<std::string> _keys;
    std::optional<std::filesystem::file_time_type> _scanned_mtime;
    std::chrono::steady_clock::time_point _scanned_at{};
};

// The ZAP handler of one server process's context: admits CURVE clients whose public key is in
// the allow list (or is `trusted`, the servers' own key), refuses everyone else; on the control
// role (role_domain("control")) it admits the servers' own key only. Constructed
// before the server sockets bind (libzmq admits everyone while no handler is bound); stopped and
// joined by the destructor, which must run before the context is closed.
class zap_guard {
public:
    // Binds the handler and starts its thread; unavailable if the context already has one.
    static result<std::unique_ptr<zap_guard>> start(zmq::context_t& context, const keys& k, const logger& log);
    ~zap_guard();
    zap_guard(const zap_guard&) = delete;
    zap_guard& operator=(const zap_guard&) = delete;

    // Also counts handshakes that fail on `socket` before ZAP is asked (a peer without CURVE, or
    // one that has the wrong server key). Call before binding it. `channel` names it in logs.
    void watch(zmq::socket_t& socket, const std::string& channel);

    std::uint64_t admitted() const { return _admitted.load(); }
    std::uint64_t rejected() const { return _rejected.load(); }
    std::uint64_t handshake_failures() const { return _handshake_failures.load(); }
    // curve_admitted, curve_rejected and handshake_failures: fields for shutdown lines.
    void append_fields(std::vector<log_field>& fields) const;

private:
    zap_guard(zmq::context_t& context, const keys& k, const logger& log);
    void serve();
    void handle_request(zmq::socket_t& handler);
    void handle_monitor_event(zmq::socket_t& monitor, const std::string& channel);

    zmq::context_t& _context;
    const logger& _log;
    std::string _trusted;
    allow_list _allow;
    zmq::socket_t _handler;
    std::mutex _mutex;  // Guards _pending_monitors (watch() runs on the owner's thread).
    std::vector<std::pair<std::string, std::string>> _pending_monitors;  // endpoint, channel
    std::atomic<bool> _stop{false};
    std::atomic<std::uint64_t> _admitted{0}, _rejected{0}, _handshake_failures{0};
    rate_limiter _reject_log, _handshake_log;
    std::thread _thread;
};

// The client side of a refusal: libzmq does not reconnect a connection whose handshake failed
// (key not allowed, wrong server key), so a refused worker would wait forever even after its key
// is added. This watches client sockets (monitor events, polled by the owner's loop: one thread)
// and reconnects a refused one at most every `retry`, logging what the operator must fix.
class refusal_watch {
public:
    refusal_watch(zmq::context_t& context, const logger& log, std::chrono::milliseconds retry = std::chrono::seconds(1));
    // Before connecting `socket` to `endpoint`.
    void watch(zmq::socket_t& socket, const std::string& channel, const std::string& endpoint);
    // Reads pending events without blocking; reconnects refused sockets whose retry is due.
    void poll();
    std::uint64_t refusals() const { return _refusals; }

private:
    struct watched {
        zmq::socket_t* socket;
        std::string channel, endpoint;
        zmq::socket_t monitor;
        std::optional<std::chrono::steady_clock::time_point> reconnect_at;
    };
    zmq::context_t& _context;
    const logger& _log;
    std::chrono::milliseconds _retry;
    std::vector<watched> _watched;
    std::uint64_t _refusals = 0;
    rate_limiter _refusal_log{std::chrono::seconds(10)};
};

// One socket of a process and what it is for, for secure_sockets.
struct channel_socket {
    zmq::socket_t* socket;
    std::string channel;    // "work", "acks", "control": names it in logs.
    std::string endpoints;  // Comma-separated, as configured.
};

// Everything a process does about CURVE before it binds and connects. Off (`k` empty): warns
// about endpoints other hosts can reach (warn_if_exposed) and returns null. On: starts the ZAP
// guard when there are `servers` (kept alive by the caller until its sockets close), watches and
// applies the server options to them, and the client options to `clients`.
result<std::unique_ptr<zap_guard>> secure_sockets(zmq::context_t& context, const std::optional<keys>& k,
                                                  const logger& log, const std::vector<channel_socket>& servers,
                                                  const std::vector<channel_socket>& clients);

}  // namespace syncline::curve
