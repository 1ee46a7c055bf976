#include "common/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/zmq_util.h"

namespace syncline::curve {
namespace {

namespace fs = std::filesystem;

status invalid(std::string msg) { return status{errc::invalid_argument, std::move(msg)}; }

// The first line of `path` that is neither empty nor a # comment, trimmed, decoded from z85.
result<std::string> read_key_file(const std::string& path, std::string_view what) {
    std::ifstream in(path);
    if (!in) return invalid(std::string(what) + " file " + path + ": cannot be read");
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
        const auto start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line[start] == '#') continue;
        const std::string text = line.substr(start);
        std::string binary(key_bytes, '\0');
        if (text.size() != z85_chars ||
            zmq_z85_decode(reinterpret_cast<std::uint8_t*>(binary.data()), text.c_str()) == nullptr)
            return invalid(std::string(what) + " file " + path + ": not a z85 CurveZMQ key (40 characters)");
        return binary;
    }
    return invalid(std::string(what) + " file " + path + ": holds no key");
}

// Creates `path` with `mode`, refusing to replace an existing file (O_EXCL).
status write_new_file(const std::string& path, const std::string& text, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST) return invalid(path + " already exists: keys are never overwritten (move it away first)");
        return status{errc::io_error, "cannot create " + path + ": " + std::strerror(errno)};
    }
    // The umask may have cleared bits, never added any; fchmod makes the mode exact.
    const bool ok = ::fchmod(fd, mode) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!ok) return status{errc::io_error, "cannot write " + path + ": " + std::strerror(saved)};
    return {};
}

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

// The host of a tcp://host:port endpoint.
std::string_view tcp_host(std::string_view endpoint) {
    std::string_view rest = endpoint.substr(6);
    const auto colon = rest.rfind(':');
    return colon == std::string_view::npos ? rest : rest.substr(0, colon);
}

}  // namespace

result<key_pair> generate() {
    std::array<char, z85_chars + 1> public_text{}, secret_text{};
    if (zmq_curve_keypair(public_text.data(), secret_text.data()) != 0)
        return status{errc::io_error, std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()) +
                                          " (libzmq built without CURVE?)"};
    key_pair out{std::string(key_bytes, '\0'), std::string(key_bytes, '\0')};
    zmq_z85_decode(reinterpret_cast<std::uint8_t*>(out.public_key.data()), public_text.data());
    zmq_z85_decode(reinterpret_cast<std::uint8_t*>(out.secret_key.data()), secret_text.data());
    return out;
}

std::string to_z85(std::string_view binary_key) {
    if (binary_key.size() != key_bytes) return "<invalid key>";
    std::array<char, z85_chars + 1> text{};
    zmq_z85_encode(text.data(), reinterpret_cast<const std::uint8_t*>(binary_key.data()), binary_key.size());
    return text.data();
}

result<std::pair<std::string, std::string>> write_key_pair(const std::string& dir, std::string_view name,
                                                           const key_pair& keys) {
    SYNCLINE_RETURN_IF_ERROR(cli::validate_name("--name", name));
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec) return status{errc::io_error, "cannot create " + dir + ": " + ec.message()};
        fs::permissions(dir, fs::perms::owner_all, ec);
    }
    const std::string secret_path = (fs::path(dir) / (std::string(name) + ".key")).string();
    const std::string public_path = (fs::path(dir) / (std::string(name) + ".pub")).string();
    if (fs::exists(public_path, ec))
        return invalid(public_path + " already exists: keys are never overwritten (move it away first)");
    SYNCLINE_RETURN_IF_ERROR(write_new_file(
        secret_path,
        "# syncline CurveZMQ secret key '" + std::string(name) + "': keep it private (mode 0600)\n" +
            to_z85(keys.secret_key) + "\n",
        0600));
    SYNCLINE_RETURN_IF_ERROR(write_new_file(
        public_path,
        "# syncline CurveZMQ public key '" + std::string(name) + "'\n" + to_z85(keys.public_key) + "\n", 0644));
    return std::pair{secret_path, public_path};
}

result<std::string> load_public_key(const std::string& path) { return read_key_file(path, "public key"); }

result<key_pair> load_secret_key(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return invalid("secret key file " + path + ": " + std::strerror(errno));
    if ((st.st_mode & 077) != 0)
        return invalid("secret key file " + path + " has mode " + octal_mode(st.st_mode) +
                       ": group and others must have no access to a secret key; fix it with: chmod 600 " + path);
    auto secret = read_key_file(path, "secret key");
    if (!secret.ok()) return secret.get_status();
    std::array<char, z85_chars + 1> public_text{};
    const std::string secret_text = to_z85(*secret);
    if (zmq_curve_public(public_text.data(), secret_text.c_str()) != 0)
        return invalid("secret key file " + path + ": cannot derive its public key");
    key_pair out{std::string(key_bytes, '\0'), std::move(secret.value())};
    zmq_z85_decode(reinterpret_cast<std::uint8_t*>(out.public_key.data()), public_text.data());
    return out;
}

void add_cli_options(cli::po::options_description& desc, curve_options& out, role r) {
    namespace po = cli::po;
    desc.add_options()("curve-secret", po::value(&out.secret_key_file)->value_name("FILE"),
                       "CurveZMQ: this process's secret key file (syncline keygen); turns CURVE on");
    if (r != role::client)
        desc.add_options()("curve-allow", po::value(&out.allow_dir)->value_name("DIR"),
                           "CurveZMQ: directory of the public keys (*.pub) of admitted clients; re-read on change");
    if (r != role::server)
        desc.add_options()("curve-server-key", po::value(&out.server_key_file)->value_name("FILE"),
                           r == role::client ? "CurveZMQ: the servers' public key file (the ventilator's and sink's)"
                                             : "CurveZMQ: the sink's public key file (default: this process's own)");
}

result<std::optional<keys>> load(const curve_options& options, role r) {
    if (!options.enabled()) {
        if (!options.server_key_file.empty() || !options.allow_dir.empty())
            return invalid("--curve-server-key and --curve-allow need --curve-secret");
        return std::optional<keys>{};
    }
    keys out;
    auto own = load_secret_key(options.secret_key_file);
    if (!own.ok()) return own.get_status();
    out.own = std::move(own.value());
    if (r != role::client) {
        if (options.allow_dir.empty())
            return invalid("--curve-secret needs --curve-allow DIR (the public keys of the clients to admit)");
        std::error_code ec;
        if (!fs::is_directory(options.allow_dir, ec))
            return invalid("--curve-allow: " + options.allow_dir + " is not a directory");
        out.allow_dir = options.allow_dir;
    }
    if (r == role::client && options.server_key_file.empty())
        return invalid("--curve-secret needs --curve-server-key FILE (the servers' public key)");
    if (!options.server_key_file.empty()) {
        auto server = load_public_key(options.server_key_file);
        if (!server.ok()) return server.get_status();
        out.server_public = std::move(server.value());
    } else if (r == role::server_and_client) {
        out.server_public = out.own.public_key;  // The sink holds the same server key pair.
    }
    return std::optional<keys>{std::move(out)};
}

status apply_server(zmq::socket_t& socket, const keys& k, std::string_view domain) {
    try {
        socket.set(zmq::sockopt::curve_server, true);
        socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(k.own.secret_key.data(), key_bytes));
        // A non-empty domain makes libzmq ask the ZAP handler about every connection.
        // The domain is the socket's role (zap_guard admits per role).
        socket.set(zmq::sockopt::zap_domain, std::string(domain));
        return {};
    } catch (const zmq::error_t& e) {
        return invalid(std::string("CURVE server options: ") + e.what());
    }
}

status apply_client(zmq::socket_t& socket, const keys& k) {
    try {
        socket.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(k.server_public.data(), key_bytes));
        socket.set(zmq::sockopt::curve_publickey, zmq::const_buffer(k.own.public_key.data(), key_bytes));
        socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(k.own.secret_key.data(), key_bytes));
        return {};
    } catch (const zmq::error_t& e) {
        return invalid(std::string("CURVE client options: ") + e.what());
    }
}

std::string role_domain(std::string_view channel) { return "syncline." + std::string(channel); }

bool is_local_endpoint(std::string_view endpoint) {
    if (!endpoint.starts_with("tcp://")) return true;  // ipc:// and inproc:// never leave the host.
    std::string_view host = tcp_host(endpoint);
    // A connecting endpoint may name a source first ("tcp://src:port;host:port"): the peer counts.
    if (const auto semicolon = host.find(';'); semicolon != std::string_view::npos) host = host.substr(semicolon + 1);
    return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

void warn_if_exposed(const logger& log, std::string_view channel, std::string_view list, bool curve_on) {
    if (curve_on) return;
    for (const auto& endpoint : zmqx::split_endpoints(list)) {
        if (is_local_endpoint(endpoint)) continue;
        log.warn("reachable from other hosts without CURVE: anyone who can connect can read records or forge "
                 "acks (see docs/security.md: --curve-secret / curve_keys)",
                 {{"channel", channel}, {"endpoint", endpoint}});
    }
}

allow_list::allow_list(std::string dir, const logger& log) : _dir(std::move(dir)), _log(log) { rescan(); }

void allow_list::rescan() {
    std::error_code ec;
    _scanned_mtime = fs::last_write_time(_dir, ec);
    if (ec) _scanned_mtime.reset();
    _scanned_at = std::chrono::steady_clock::now();
    std::set<std::string> found;
    for (fs::directory_iterator it(_dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() != ".pub") continue;
        auto key = load_public_key(it->path().string());
        if (!key.ok()) {
            _log.warn("allow list: skipping " + key.get_status().message());
            continue;
        }
        found.insert(std::move(key.value()));
    }
    if (ec) _log.warn("allow list: cannot read " + _dir + ": " + ec.message());
    if (found != _keys) _log.info("allow list " + _dir + ": " + std::to_string(found.size()) + " client keys");
    _keys = std::move(found);
}

bool allow_list::admits(std::string_view public_key) {
    std::error_code ec;
    const auto mtime = fs::last_write_time(_dir, ec);
    const bool changed = ec ? _scanned_mtime.has_value() : (!_scanned_mtime || *_scanned_mtime != mtime);
    if (changed) rescan();
    if (_keys.count(std::string(public_key))) return true;
    // Not found: look again (bounded) in case a file was rewritten in place.
    if (!changed && std::chrono::steady_clock::now() - _scanned_at >= std::chrono::milliseconds(100)) {
        rescan();
        return _keys.count(std::string(public_key)) > 0;
    }
    return false;
}

result<std::unique_ptr<zap_guard>> secure_sockets(zmq::context_t& context, const std::optional<keys>& k,
                                                  const logger& log, const std::vector<channel_socket>& servers,
                                                  const std::vector<channel_socket>& clients) {
    if (!k) {
        for (const auto* group : {&servers, &clients})
            for (const auto& c : *group) warn_if_exposed(log, c.channel, c.endpoints, false);
        return std::unique_ptr<zap_guard>{};
    }
    std::unique_ptr<zap_guard> guard;
    if (!servers.empty()) {
        auto started = zap_guard::start(context, *k, log);
        if (!started.ok()) return started.get_status();
        guard = std::move(started.value());
    }
    for (const auto& c : servers) {
        guard->watch(*c.socket, c.channel);
        SYNCLINE_RETURN_IF_ERROR(apply_server(*c.socket, *k, role_domain(c.channel)).with_context(c.channel));
    }
    for (const auto& c : clients) SYNCLINE_RETURN_IF_ERROR(apply_client(*c.socket, *k).with_context(c.channel));
    return guard;
}

refusal_watch::refusal_watch(zmq::context_t& context, const logger& log, std::chrono::milliseconds retry)
    : _context(context), _log(log), _retry(retry) {}

void refusal_watch::watch(zmq::socket_t& socket, const std::string& channel, const std::string& endpoint) {
    static std::atomic<unsigned> sequence{0};
    const std::string monitor_at = "inproc://syncline-refusals-" + channel + "-" + std::to_string(sequence++);
    const int events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(socket.handle(), monitor_at.c_str(), events) != 0) {
        _log.warn("cannot monitor channel=" + channel + ": " + zmq_strerror(zmq_errno()));
        return;
    }
    zmq::socket_t monitor(_context, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(monitor_at);
    _watched.push_back({&socket, channel, endpoint, std::move(monitor), std::nullopt});
}

void refusal_watch::poll() {
    const auto now = std::chrono::steady_clock::now();
    for (auto& w : _watched) {
        zmq::message_t event, address;
        while (w.monitor.recv(event, zmq::recv_flags::dontwait)) {
            if (event.more()) (void)w.monitor.recv(address, zmq::recv_flags::dontwait);
            ++_refusals;
            if (!w.reconnect_at) w.reconnect_at = now + _retry;
            if (_refusal_log.allow())
                _log.error("the server at " + w.endpoint + " (channel=" + w.channel +
                           ") refused this process's CURVE handshake: its public key is not in the server's "
                           "--curve-allow directory, or --curve-server-key is not the server's key; retrying every " +
                           std::to_string(_retry.count()) + " ms");
        }
        if (w.reconnect_at && now >= *w.reconnect_at) {
            w.reconnect_at.reset();
            try {
                w.socket->disconnect(w.endpoint);
                w.socket->connect(w.endpoint);
            } catch (const zmq::error_t& e) {
                _log.warn("reconnect " + w.endpoint + ": " + e.what());
            }
        }
    }
}

namespace {

constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";

std::string frame_text(const zmq::message_t& m) { return std::string(m.data<char>(), m.size()); }

}  // namespace

zap_guard::zap_guard(zmq::context_t& context, const keys& k, const logger& log)
    : _context(context), _log(log), _trusted(k.own.public_key), _allow(k.allow_dir, log),
      _handler(context, zmq::socket_type::rep) {
    _handler.set(zmq::sockopt::linger, 0);
}

result<std::unique_ptr<zap_guard>> zap_guard::start(zmq::context_t& context, const keys& k, const logger& log) {
    std::unique_ptr<zap_guard> guard(new zap_guard(context, k, log));
    try {
        // Bound before any server socket binds: libzmq admits everyone while no handler is bound.
        guard->_handler.bind(zap_endpoint);
    } catch (const zmq::error_t& e) {
        return status{errc::unavailable, std::string("ZAP handler ") + zap_endpoint + ": " + e.what()};
    }
    log.info("curve on:", {{"server_key", to_z85(k.own.public_key)}, {"allow_dir", guard->_allow.dir()},
                           {"allowed_keys", guard->_allow.size()}});
    guard->_thread = std::thread([g = guard.get()] { g->serve(); });
    return guard;
}

zap_guard::~zap_guard() {
    _stop.store(true);
    if (_thread.joinable()) _thread.join();
}

void zap_guard::append_fields(std::vector<log_field>& fields) const {
    fields.emplace_back("curve_admitted", admitted());
    fields.emplace_back("curve_rejected", rejected());
    fields.emplace_back("handshake_failures", handshake_failures());
}

void zap_guard::watch(zmq::socket_t& socket, const std::string& channel) {
    static std::atomic<unsigned> sequence{0};
    const std::string endpoint = "inproc://syncline-monitor-" + channel + "-" + std::to_string(sequence++);
    const int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    if (zmq_socket_monitor(socket.handle(), endpoint.c_str(), events) != 0) {
        _log.warn("cannot monitor channel=" + channel + ": " + zmq_strerror(zmq_errno()));
        return;
    }
    std::lock_guard lock(_mutex);
    _pending_monitors.emplace_back(endpoint, channel);
}

void zap_guard::serve() {
    // Monitor sockets are created here, so each socket is only ever used by this thread.
    std::vector<std::pair<zmq::socket_t, std::string>> monitors;
    while (!_stop.load()) {
        {
            std::lock_guard lock(_mutex);
            for (auto& [endpoint, channel] : _pending_monitors) {
                zmq::socket_t monitor(_context, zmq::socket_type::pair);
                monitor.set(zmq::sockopt::linger, 0);
                monitor.connect(endpoint);
                monitors.emplace_back(std::move(monitor), channel);
            }
            _pending_monitors.clear();
        }
        std::vector<zmq::pollitem_t> items{{_handler.handle(), 0, ZMQ_POLLIN, 0}};
        for (auto& m : monitors) items.push_back({m.first.handle(), 0, ZMQ_POLLIN, 0});
        try {
            zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
            if (items[0].revents & ZMQ_POLLIN) handle_request(_handler);
            for (std::size_t i = 0; i < monitors.size(); ++i)
                if (items[i + 1].revents & ZMQ_POLLIN) handle_monitor_event(monitors[i].first, monitors[i].second);
        } catch (const zmq::error_t& e) {
            if (e.num() == ETERM) break;
            if (e.num() != EINTR) _log.warn(std::string("zap handler: ") + e.what());
        }
    }
}

void zap_guard::handle_request(zmq::socket_t& handler) {
    // RFC 27: version, request id, domain, address, routing id, mechanism, credentials...
    std::vector<zmq::message_t> frames;
    while (true) {
        zmq::message_t part;
        if (!handler.recv(part, zmq::recv_flags::dontwait)) break;
        const bool more = part.more();
        frames.push_back(std::move(part));
        if (!more) break;
    }
    if (frames.size() < 6) return;  // Not a ZAP request: libzmq never sends one; nothing to answer.
    const std::string request_id = frame_text(frames[1]);
    const std::string address = frame_text(frames[3]);
    const std::string domain = frame_text(frames[2]);
    const std::string mechanism = frame_text(frames[5]);
    std::string code = "400", text = "not admitted";
    std::string client_key;
    // The control role (the sink's control socket) admits the servers' own key only: a worker key
    // there could redirect the sink's progress messages.
    const bool servers_only = domain == role_domain("control");
    std::string refused_because = "not in the allow list";
    if (mechanism == "CURVE" && frames.size() >= 7 && frames[6].size() == key_bytes) {
        client_key = frame_text(frames[6]);
        if (client_key == _trusted || (!servers_only && _allow.admits(client_key))) code = "200", text = "OK";
        else if (servers_only) refused_because = "the control channel admits the server key only";
    } else {
        text = "CURVE required";
    }
    if (code == "200") {
        ++_admitted;
        _log.debug("admitted client", {{"key", to_z85(client_key)}, {"address", address}});
    } else {
        const auto total = ++_rejected;
        if (_reject_log.allow())
            _log.warn("rejected client: " + refused_because,
                      {{"key", client_key.empty() ? std::string("none") : to_z85(client_key)}, {"address", address},
                       {"mechanism", mechanism}, {"role", domain}, {"allow_dir", _allow.dir()},
                       {"curve_rejected", total}, {"not_logged", _reject_log.suppressed()}});
    }
    const auto more = zmq::send_flags::sndmore;
    handler.send(zmq::str_buffer("1.0"), more);
    handler.send(zmq::buffer(request_id), more);
    handler.send(zmq::buffer(code), more);
    handler.send(zmq::buffer(text), more);
    handler.send(zmq::str_buffer(""), more);  // user id
    handler.send(zmq::str_buffer(""), zmq::send_flags::none);  // metadata
}

void zap_guard::handle_monitor_event(zmq::socket_t& monitor, const std::string& channel) {
    // Two frames: 2-byte event + 4-byte value, then the peer's endpoint.
    zmq::message_t event, address;
    if (!monitor.recv(event, zmq::recv_flags::dontwait)) return;
    if (event.more()) (void)monitor.recv(address, zmq::recv_flags::dontwait);
    if (event.size() < 6) return;
    std::uint16_t id = 0;
    std::uint32_t value = 0;
    std::memcpy(&id, event.data(), 2);
    std::memcpy(&value, event.data<char>() + 2, 4);
    const auto total = ++_handshake_failures;
    if (_handshake_log.allow())
        _log.warn("handshake failed",
                  {{"channel", channel}, {"endpoint", frame_text(address)},
                   {"protocol_error", id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? [&] {
                        char hex[16];
                        std::snprintf(hex, sizeof hex, "0x%x", value);
                        return std::string(hex);
                    }() : std::string("none")},
                   {"cause", "a peer without CURVE or with the wrong server key"}, {"handshake_failures", total}});
}

}  // namespace syncline::curve
