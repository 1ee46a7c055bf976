#include "common/zmq_util.h"

#include <array>
#include <cerrno>

#include "common/log.h"

namespace syncline::zmqx {
namespace {

const logger& log() {
    static const logger instance("zmq");
    return instance;
}

status from_error(const zmq::error_t& e, std::string_view what, const std::string& endpoint) {
    errc code = errc::unavailable;
    switch (e.num()) {
        case EINVAL:
        case EPROTONOSUPPORT:
        case ENOCOMPATPROTO:
        case ENAMETOOLONG:
            code = errc::invalid_argument;
            break;
        case ETERM:
        case ENOTSOCK:
            code = errc::cancelled;
            break;
        default:
            break;
    }
    return status{code, std::string(what) + " " + endpoint + ": " + e.what()};
}

// Waits until the socket has `events` ready or `timeout` passes. Throws zmq::error_t.
bool wait_for(zmq::socket_t& socket, short events, std::chrono::milliseconds timeout) {
    std::array<zmq::pollitem_t, 1> items{{{socket.handle(), 0, events, 0}}};
    zmq::poll(items.data(), items.size(), timeout);
    return (items[0].revents & events) != 0;
}

}  // namespace

void tune(zmq::socket_t& socket, const socket_tuning& tuning) {
    try {
        socket.set(zmq::sockopt::sndhwm, tuning.send_hwm);
        socket.set(zmq::sockopt::rcvhwm, tuning.recv_hwm);
        socket.set(zmq::sockopt::linger, static_cast<int>(tuning.linger.count()));
        // ZMQ_IMMEDIATE only matters on connecting sockets; setting it elsewhere is harmless.
        socket.set(zmq::sockopt::immediate, tuning.immediate);
        socket.set(zmq::sockopt::maxmsgsize, tuning.max_message_bytes);
    } catch (const zmq::error_t& e) {
        // Only a closed socket or terminated context gets here; the next call reports it.
        log().warn(std::string("tune failed: ") + e.what());
    }
}

result<std::string> bind(zmq::socket_t& socket, const std::string& endpoint) {
    try {
        socket.bind(endpoint);
        // The resolved form: tcp://127.0.0.1:* becomes the real port, which tests and scripts read.
        return socket.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
        return from_error(e, "bind", endpoint);
    }
}

std::vector<std::string> split_endpoints(std::string_view list) {
    std::vector<std::string> out;
    while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return out;
}

result<std::vector<std::string>> bind_all(zmq::socket_t& socket, std::string_view list) {
    std::vector<std::string> resolved;
    for (const auto& endpoint : split_endpoints(list)) {
        auto at = zmqx::bind(socket, endpoint);
        if (!at.ok()) return at.get_status();
        resolved.push_back(std::move(at.value()));
    }
    if (resolved.empty()) return status{errc::invalid_argument, "no endpoint to bind in \"" + std::string(list) + "\""};
    return resolved;
}

status connect(zmq::socket_t& socket, const std::string& endpoint) {
    try {
        socket.connect(endpoint);
        return {};
    } catch (const zmq::error_t& e) {
        return from_error(e, "connect", endpoint);
    }
}

status poll(std::span<zmq::pollitem_t> items, std::chrono::milliseconds timeout) {
    try {
        zmq::poll(items.data(), items.size(), timeout);
    } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) return status{errc::io_error, std::string("poll: ") + e.what()};
    }
    return {};
}

result<std::optional<received>> receive(zmq::socket_t& socket, std::chrono::milliseconds timeout,
                                        bool with_routing_id) {
    try {
        if (!wait_for(socket, ZMQ_POLLIN, timeout)) return std::optional<received>{};
        const std::size_t expected = with_routing_id ? 3 : 2;
        received out;
        zmq::message_t part;
        std::size_t frames = 0;
        // Multipart messages arrive whole, so after the first frame the rest are already queued;
        // every frame is read even when the count is wrong, so the next receive starts clean.
        if (!socket.recv(part, zmq::recv_flags::dontwait)) return std::optional<received>{};
        while (true) {
            ++frames;
            const bool more = part.more();
            const std::size_t index = frames - 1;
            if (with_routing_id && index == 0) {
                out.routing_id.assign(part.data<char>(), part.size());
            } else if (index == expected - 2) {
                out.header = std::move(part);
            } else if (index == expected - 1) {
                out.body = std::move(part);
            }
            if (!more) break;
            part.rebuild();
            if (!socket.recv(part, zmq::recv_flags::none)) break;
        }
        if (frames != expected)
            return status{errc::corruption,
                          "expected " + std::to_string(expected) + " frames, got " + std::to_string(frames)};
        return std::optional<received>{std::move(out)};
    } catch (const zmq::error_t& e) {
        // A signal (SIGTERM asking us to stop) interrupted the wait: nothing was received, and
        // nothing bad either (it is not a bad frame to count).
        if (e.num() == EINTR) return std::optional<received>{};
        return status{e.num() == ETERM ? errc::cancelled : errc::unavailable, std::string("receive: ") + e.what()};
    }
}

bool send(zmq::socket_t& socket, std::string_view header, std::string_view body, std::chrono::milliseconds wait,
          std::string_view routing_id) {
    try {
        if (wait.count() > 0 && !wait_for(socket, ZMQ_POLLOUT, wait)) return false;
        // Only the first frame can be refused (HWM is checked per message, not per frame): once it
        // is accepted the rest of the message is too, so no half message is ever left behind.
        const auto more = zmq::send_flags::dontwait | zmq::send_flags::sndmore;
        if (!routing_id.empty()) {
            if (!socket.send(zmq::buffer(routing_id), more)) return false;
            if (!socket.send(zmq::buffer(header), more)) return false;
        } else if (!socket.send(zmq::buffer(header), more)) {
            return false;
        }
        return socket.send(zmq::buffer(body), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t& e) {
        // EHOSTUNREACH (ROUTER_MANDATORY), ETERM and friends: the caller treats it as not sent.
        log().debug(std::string("send failed: ") + e.what());
        return false;
    }
}

bool send(zmq::socket_t& socket, const wire::frames& frames, std::chrono::milliseconds wait,
          std::string_view routing_id) {
    return send(socket, frames.header, frames.body, wait, routing_id);
}

}  // namespace syncline::zmqx
