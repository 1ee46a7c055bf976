#pragma once
// common/runtime.h: the pieces every daemon (syncline-ventilator, -sink, -worker) runs the same
// way, in one home (docs/architecture.md "Process runtime"):
//   - `observability`: the metrics registry (with the process's constant labels), the health
//     the loop beats and /metrics, /live, /ready served from them;
//   - `open_channels`: one ZeroMQ context's sockets tuned, secured with CURVE (servers bind,
//     clients connect), bound and connected, and their resolved endpoints logged;
//   - `drain`: the receive -> decode -> check pipeline -> drop loop of a socket.
// zmqx::poll (zmq_util.h) is the one poll, treating a signal (EINTR) as an early return.
// Thread-safety: one process loop uses these objects; the endpoint reads registry and health on
// its own thread (see metrics_endpoint.h).
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "common/curve.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_endpoint.h"
#include "common/status.h"
#include "common/wire.h"
#include "common/zmq_util.h"

namespace syncline::runtime {

// A daemon's registry and health, and the endpoint serving them (when --metrics-listen is set).
// The endpoint is declared last, so it stops serving before the registry and health go away.
class observability {
public:
    explicit observability(metrics::const_labels labels) : registry(std::move(labels)) {}
    observability(const observability&) = delete;
    observability& operator=(const observability&) = delete;

    // Starts the endpoint (metrics::serve: logs its address as `component`, writes the address
    // file). io_error / invalid_argument as metrics::endpoint::start.
    status serve(const metrics::endpoint_options& options, const std::string& component);

    metrics::registry registry;
    metrics::health health;

private:
    std::unique_ptr<metrics::endpoint> _endpoint;
};

// One socket of a process: what it is called in logs, its comma-separated endpoints, its tuning.
struct channel {
    zmq::socket_t* socket;
    std::string name;       // "work", "acks", "control".
    std::string endpoints;  // As configured; bound sockets take a comma-separated list.
    zmqx::socket_tuning tuning;
};

// What open_channels made. Keep it declared after the sockets: the ZAP handler thread (CURVE
// servers) and the refusal watch must stop before the sockets close.
struct open_channels_result {
    std::unique_ptr<curve::zap_guard> zap;           // CURVE with bound sockets only.
    std::unique_ptr<curve::refusal_watch> refusals;  // CURVE with connected sockets and watch_refusals.
    std::vector<std::pair<std::string, std::vector<std::string>>> bound;  // name -> resolved endpoints.

    // `listening channel=NAME endpoint=RESOLVED` for every bound endpoint (scripts and tests read
    // these lines instead of hard-coding ports).
    void log_listening(const logger& log) const;
};

// Tunes every socket, applies CURVE (`binds` as servers, `connects` as clients, see
// curve::secure_sockets), binds `binds` (every endpoint of their lists) and connects `connects`,
// in that order. With `watch_refusals` and CURVE, connected sockets are watched for a server's
// refusal and reconnected (curve::refusal_watch; call refusals->poll() from the loop).
// Errors: CURVE setup, bind or connect failures (io_error / invalid_argument, naming the endpoint).
result<open_channels_result> open_channels(zmq::context_t& context, const std::optional<curve::keys>& keys,
                                           const logger& log, const std::vector<channel>& binds,
                                           const std::vector<channel>& connects, bool watch_refusals = false);

// The pipeline a message belongs to (every wire message names one).
std::string_view pipeline_of(const wire::message& m);

// Reads at most `max` messages already queued on `socket` (never waits), decodes each, and calls
// `handle(wire::message&, const std::string& routing_id)` for those of `pipeline`. What does not
// receive (wrong frame count), does not decode, or belongs to another pipeline is counted and
// logged through `dropped` ("<type> for pipeline <name>") and skipped. `routed` for ROUTER
// sockets (routing_id is empty otherwise). A decoded batch's body views the received frame,
// valid only during the call. Returns the number of messages taken off the socket (handled or
// dropped): 0 when none was queued.
template <class Handle>
std::size_t drain(zmq::socket_t& socket, std::size_t max, bool routed, std::string_view pipeline,
                  drop_counter& dropped, Handle&& handle) {
    std::size_t taken = 0;
    for (; taken < max; ++taken) {
        auto got = zmqx::receive(socket, std::chrono::milliseconds(0), routed);
        if (!got.ok()) { dropped.drop(got.get_status().message()); continue; }
        if (!got->has_value()) break;
        auto msg = wire::decode((*got)->header_view(), (*got)->body_view());
        if (!msg.ok()) { dropped.drop(msg.get_status().message()); continue; }
        if (const std::string_view p = pipeline_of(*msg); p != pipeline) {
            dropped.drop(std::string(wire::type_name(*msg)) + " for pipeline " + std::string(p));
            continue;
        }
        handle(*msg, std::as_const((*got)->routing_id));
    }
    return taken;
}

}  // namespace syncline::runtime
