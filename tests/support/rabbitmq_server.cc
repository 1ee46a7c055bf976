#include "tests/support/rabbitmq_server.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <stdexcept>

#include "tests/support/launch.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;

amqp_bytes_t bytes_of(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }
std::string text_of(amqp_bytes_t b) { return {static_cast<const char*>(b.bytes), b.len}; }

void write(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("rabbitmq_server: cannot write " + path);
}

std::string reply_error(const amqp_rpc_reply_t& r) {
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) return amqp_error_string2(r.library_error);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const auto* m = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
            return std::to_string(m->reply_code) + " " + text_of(m->reply_text);
        }
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
            return std::to_string(m->reply_code) + " " + text_of(m->reply_text);
        }
    }
    return "no reply";
}

// A logged-in connection with channel 1 open; nullptr (and `why`) when that fails.
amqp_connection_state_t connect(int port, std::string& why) {
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t* s = amqp_tcp_socket_new(c);
    timeval tv{2, 0};
    int rc = amqp_socket_open_noblock(s, "127.0.0.1", port, &tv);
    if (rc != AMQP_STATUS_OK) {
        why = amqp_error_string2(rc);
        amqp_destroy_connection(c);
        return nullptr;
    }
    amqp_set_handshake_timeout(c, &tv);
    timeval rpc{10, 0};
    amqp_set_rpc_timeout(c, &rpc);
    auto r = amqp_login(c, rabbitmq_server::vhost().c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                        rabbitmq_server::user().c_str(), rabbitmq_server::password().c_str());
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        amqp_channel_open(c, 1);
        r = amqp_get_rpc_reply(c);
    }
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        why = reply_error(r);
        amqp_destroy_connection(c);
        return nullptr;
    }
    return c;
}

std::string field_text(const amqp_field_value_t& v) {
    switch (v.kind) {
        case AMQP_FIELD_KIND_UTF8:
        case AMQP_FIELD_KIND_BYTES: return text_of(v.value.bytes);
        case AMQP_FIELD_KIND_I64: return std::to_string(v.value.i64);
        case AMQP_FIELD_KIND_U64: return std::to_string(v.value.u64);
        case AMQP_FIELD_KIND_I32: return std::to_string(v.value.i32);
        default: return "(kind " + std::string(1, static_cast<char>(v.kind)) + ")";
    }
}

}  // namespace

rabbitmq_server::rabbitmq_server() {
    const std::string home = _dir / "home";
    ::mkdir(home.c_str(), 0700);
    // The cookie authenticates Erlang nodes to each other; readable by us alone, as Erlang demands.
    write(home + "/.erlang.cookie", "syncline-test-cookie-" + std::to_string(::getpid()));
    ::chmod((home + "/.erlang.cookie").c_str(), 0400);
    write(_dir / "enabled_plugins", "[].\n");
    write(_dir / "rabbitmq-env.conf", "");
    write(password_file(), password() + "\n");
    start_on_free_ports([this] {
        _port = free_tcp_port();
        _dist_port = free_tcp_port();
        _epmd_port = free_tcp_port();
        _node = "syncline-" + std::to_string(::getpid()) + "-" + std::to_string(_port) + "@localhost";
        write(_dir / "rabbitmq.conf",
              "listeners.tcp.default = 127.0.0.1:" + std::to_string(_port) + "\n"
              "default_user = " + user() + "\n"
              "default_pass = " + password() + "\n"
              "default_vhost = " + vhost() + "\n"
              "loopback_users = none\n"
              "disk_free_limit.absolute = 1MB\n");
        start();
    });
}

rabbitmq_server::~rabbitmq_server() {
    // child_process kills (SIGKILL) and reaps both; temp_dir removes the database.
    _broker.reset();
    _epmd.reset();
}

std::string rabbitmq_server::uri(const std::string& exchange, const std::string& query) const {
    return "amqp://" + user() + "@127.0.0.1:" + std::to_string(_port) + "/" + exchange + "?vhost=" + vhost() +
           "&password_file=" + password_file() + (query.empty() ? "" : "&" + query);
}

void rabbitmq_server::start() {
    const auto began = std::chrono::steady_clock::now();
    const std::string epmd_env = "ERL_EPMD_PORT=" + std::to_string(_epmd_port);
    if (!_epmd || !_epmd->running()) {
        spawn_options e;
        e.argv = {"/usr/bin/env", epmd_env, "/usr/bin/setpriv", "--pdeathsig", "KILL",
                  "/usr/bin/epmd", "-address", "127.0.0.1"};
        e.stdout_path = e.stderr_path = _dir / "epmd.log";
        e.stdin_path = "/dev/null";
        auto child = child_process::spawn(e);
        if (!child.ok()) throw std::runtime_error("epmd: " + child.get_status().message());
        _epmd.emplace(std::move(child.value()));
    }
    spawn_options o;
    o.argv = {"/usr/bin/env",
              "HOME=" + (_dir / "home"),
              epmd_env,
              "RABBITMQ_CONF_ENV_FILE=" + (_dir / "rabbitmq-env.conf"),
              "RABBITMQ_CONFIG_FILE=" + (_dir / "rabbitmq"),  // .conf appended by the broker.
              "RABBITMQ_ADVANCED_CONFIG_FILE=" + (_dir / "advanced.config"),  // None: not /etc's.
              "RABBITMQ_ENABLED_PLUGINS_FILE=" + (_dir / "enabled_plugins"),
              "RABBITMQ_MNESIA_BASE=" + (_dir / "mnesia"),
              "RABBITMQ_LOG_BASE=" + (_dir / "log"),
              "RABBITMQ_LOGS=-",  // The console: rabbitmq.log below.
              "RABBITMQ_NODENAME=" + _node,
              "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
              "RABBITMQ_NODE_PORT=" + std::to_string(_port),
              "RABBITMQ_DIST_PORT=" + std::to_string(_dist_port),
              "RABBITMQ_PID_FILE=" + (_dir / "rabbitmq.pid"),
              // The start script then execs erl instead of forking it: the VM is our child.
              "RABBITMQ_ALLOW_INPUT=1",
              "RABBITMQ_SERVER_START_ARGS=-noinput",
              "/usr/bin/setpriv", "--pdeathsig", "KILL", "/usr/lib/rabbitmq/bin/rabbitmq-server"};
    o.stdout_path = o.stderr_path = _dir / "rabbitmq.log";
    o.stdin_path = "/dev/null";
    auto child = child_process::spawn(o);
    if (!child.ok()) throw std::runtime_error("rabbitmq-server: " + child.get_status().message());
    _broker.emplace(std::move(child.value()));
    std::string why;
    const bool up = eventually([&] {
        if (!_broker->running()) return true;
        amqp_connection_state_t c = connect(_port, why);
        if (c == nullptr) return false;
        amqp_destroy_connection(c);
        return true;
    }, std::chrono::seconds(90));
    if (!up || !_broker->running()) {
        _broker.reset();
        throw std::runtime_error("rabbitmq-server on port " + std::to_string(_port) + " did not come up (" + why +
                                 "): " + read_file(_dir / "rabbitmq.log"));
    }
    _last_start = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - began);
}

void rabbitmq_server::stop() {
    if (!_broker) return;
    _broker->signal(SIGTERM);
    _broker->wait_or_kill(std::chrono::seconds(30));
    _broker.reset();
}

struct amqp_consumer::impl {
    amqp_connection_state_t c = nullptr;

    void check(const std::string& what) {
        const auto r = amqp_get_rpc_reply(c);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error("amqp_consumer: " + what + ": " + reply_error(r));
    }
};

amqp_consumer::amqp_consumer(const rabbitmq_server& server) : _impl(std::make_unique<impl>()) {
    std::string why;
    _impl->c = connect(server.port(), why);
    if (_impl->c == nullptr) throw std::runtime_error("amqp_consumer: cannot connect: " + why);
}

amqp_consumer::~amqp_consumer() {
    if (_impl->c != nullptr) amqp_destroy_connection(_impl->c);
}

void amqp_consumer::declare_exchange(const std::string& name, const std::string& type) {
    amqp_exchange_declare(_impl->c, 1, bytes_of(name), bytes_of(type), 0, 1, 0, 0, amqp_empty_table);
    _impl->check("exchange.declare " + name);
}

void amqp_consumer::delete_exchange(const std::string& name) {
    amqp_exchange_delete(_impl->c, 1, bytes_of(name), 0);
    _impl->check("exchange.delete " + name);
}

void amqp_consumer::declare_queue(const std::string& queue, const std::string& exchange, const std::string& binding_key) {
    amqp_queue_declare(_impl->c, 1, bytes_of(queue), 0, /*durable=*/1, 0, 0, amqp_empty_table);
    _impl->check("queue.declare " + queue);
    if (exchange.empty()) return;
    amqp_queue_bind(_impl->c, 1, bytes_of(queue), bytes_of(exchange), bytes_of(binding_key), amqp_empty_table);
    _impl->check("queue.bind " + queue);
}

std::vector<consumed_message> amqp_consumer::take(const std::string& queue, std::size_t count, milliseconds idle) {
    amqp_basic_qos(_impl->c, 1, 0, 1000, 0);
    _impl->check("basic.qos");
    const auto* ok = amqp_basic_consume(_impl->c, 1, bytes_of(queue), amqp_empty_bytes, 0, /*no_ack=*/0, 0, amqp_empty_table);
    _impl->check("basic.consume " + queue);
    const std::string tag = text_of(ok->consumer_tag);
    std::vector<consumed_message> out;
    while (out.size() < count) {
        amqp_envelope_t e;
        timeval tv{static_cast<time_t>(idle.count() / 1000), static_cast<suseconds_t>((idle.count() % 1000) * 1000)};
        amqp_maybe_release_buffers(_impl->c);
        const auto r = amqp_consume_message(_impl->c, &e, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) break;
        if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error("amqp_consumer: consume: " + reply_error(r));
        consumed_message m;
        m.exchange = text_of(e.exchange);
        m.routing_key = text_of(e.routing_key);
        m.body = text_of(e.message.body);
        const auto& p = e.message.properties;
        if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) m.message_id = text_of(p.message_id);
        if (p._flags & AMQP_BASIC_APP_ID_FLAG) m.app_id = text_of(p.app_id);
        if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) m.delivery_mode = p.delivery_mode;
        if (p._flags & AMQP_BASIC_HEADERS_FLAG)
            for (int i = 0; i < p.headers.num_entries; ++i)
                m.headers[text_of(p.headers.entries[i].key)] = field_text(p.headers.entries[i].value);
        if (amqp_basic_ack(_impl->c, 1, e.delivery_tag, 0) != AMQP_STATUS_OK)
            throw std::runtime_error("amqp_consumer: basic.ack failed");
        amqp_destroy_envelope(&e);
        out.push_back(std::move(m));
    }
    amqp_basic_cancel(_impl->c, 1, bytes_of(tag));
    _impl->check("basic.cancel");
    return out;
}

}  // namespace syncline::testing
