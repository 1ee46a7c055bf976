#pragma once
// common/zmq_util.h: moving wire frames over ZeroMQ sockets with the habits docs/architecture.md describes:
// small per-peer HWM, ZMQ_IMMEDIATE on sending sockets, bounded linger, ≤100 ms polls.
// Receive returns an empty optional on timeout, and errc::corruption for a message with the
// wrong number of frames (it is drained completely so the next message starts clean).
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "common/status.h"
#include "common/wire.h"

namespace syncline::zmqx {

// Inbound limit for every receiving socket (the sink's acks and control, the ventilator's work
// and control, the worker's work and acks): a peer announcing a larger frame is disconnected
// (ZMQ_MAXMSGSIZE) before libzmq allocates the size that arbitrary bytes claim (ASan aborted on an
// exabyte-sized malloc from the fault injector's raw junk). One limit, derived from wire.h's.
inline constexpr std::int64_t max_message_bytes = static_cast<std::int64_t>(wire::max_message_bytes);

struct socket_tuning {
    int send_hwm = 4;                                    // Messages per peer. Default: 4.
    int recv_hwm = 4;                                    // Default: 4.
    bool immediate = true;                               // Queue only to completed connections.
    std::chrono::milliseconds linger{200};               // Default: 200 ms.
    std::int64_t max_message_bytes = zmqx::max_message_bytes;  // Larger inbound messages drop the peer.
};

void tune(zmq::socket_t& socket, const socket_tuning& tuning = {});

// Binds and returns the resolved endpoint (tcp://127.0.0.1:* becomes the real port).
result<std::string> bind(zmq::socket_t& socket, const std::string& endpoint);
// A comma-separated endpoint list ("ipc:///run/work.sock,tcp://0.0.0.0:5557"), split and trimmed.
std::vector<std::string> split_endpoints(std::string_view list);
// Binds every endpoint of a comma-separated list: one socket serving local and remote peers.
// Returns the resolved endpoints.
result<std::vector<std::string>> bind_all(zmq::socket_t& socket, std::string_view list);
status connect(zmq::socket_t& socket, const std::string& endpoint);

// A received two-frame message; `routing_id` is set for ROUTER sockets.
struct received {
    std::string routing_id;
    zmq::message_t header;
    zmq::message_t body;
    std::string_view header_view() const { return {header.data<char>(), header.size()}; }
    std::string_view body_view() const { return {body.data<char>(), body.size()}; }
};

// Waits up to `timeout` for any of `items` to be ready (zmq_poll). A signal (EINTR) is not an
// error: it returns ok early so the caller sees its stop flag; other failures are io_error.
status poll(std::span<zmq::pollitem_t> items, std::chrono::milliseconds timeout);

// Waits up to `timeout` for one message. nullopt on timeout; corruption if the frame count is
// wrong. `with_routing_id` for ROUTER sockets (one extra leading frame).
result<std::optional<received>> receive(zmq::socket_t& socket, std::chrono::milliseconds timeout,
                                        bool with_routing_id = false);

// Sends header + body. False when it would block (no peer ready / HWM reached) and `wait` is 0;
// otherwise waits up to `wait`. `routing_id` prefixes a ROUTER destination.
bool send(zmq::socket_t& socket, std::string_view header, std::string_view body,
          std::chrono::milliseconds wait = std::chrono::milliseconds(0), std::string_view routing_id = {});
bool send(zmq::socket_t& socket, const wire::frames& frames,
          std::chrono::milliseconds wait = std::chrono::milliseconds(0), std::string_view routing_id = {});

}  // namespace syncline::zmqx
