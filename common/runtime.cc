#include "common/runtime.h"

#include <variant>

namespace syncline::runtime {

status observability::serve(const metrics::endpoint_options& options, const std::string& component) {
    auto started = metrics::serve(options, registry, health, component);
    if (!started.ok()) return started.get_status();
    _endpoint = std::move(started.value());
    return {};
}

void open_channels_result::log_listening(const logger& log) const {
    for (const auto& [name, endpoints] : bound)
        for (const auto& endpoint : endpoints) log.info("listening", {{"channel", name}, {"endpoint", endpoint}});
}

result<open_channels_result> open_channels(zmq::context_t& context, const std::optional<curve::keys>& keys,
                                           const logger& log, const std::vector<channel>& binds,
                                           const std::vector<channel>& connects, bool watch_refusals) {
    std::vector<curve::channel_socket> servers, clients;
    for (const auto& c : binds) {
        zmqx::tune(*c.socket, c.tuning);
        servers.push_back({c.socket, c.name, c.endpoints});
    }
    for (const auto& c : connects) {
        zmqx::tune(*c.socket, c.tuning);
        clients.push_back({c.socket, c.name, c.endpoints});
    }
    open_channels_result out;
    auto secured = curve::secure_sockets(context, keys, log, servers, clients);
    if (!secured.ok()) return secured.get_status();
    out.zap = std::move(secured.value());
    if (keys && watch_refusals && !connects.empty()) {
        out.refusals = std::make_unique<curve::refusal_watch>(context, log);
        for (const auto& c : connects) out.refusals->watch(*c.socket, c.name, c.endpoints);
    }
    for (const auto& c : binds) {
        auto at = zmqx::bind_all(*c.socket, c.endpoints);
        if (!at.ok()) return at.get_status();
        out.bound.emplace_back(c.name, std::move(at.value()));
    }
    for (const auto& c : connects) SYNCLINE_RETURN_IF_ERROR(zmqx::connect(*c.socket, c.endpoints));
    return out;
}

std::string_view pipeline_of(const wire::message& m) {
    return std::visit([](const auto& v) -> std::string_view { return v.pipeline; }, m);
}

}  // namespace syncline::runtime
