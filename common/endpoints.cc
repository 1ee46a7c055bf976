#include "common/endpoints.h"

#include "common/internal/option_text.h"
#include "common/zmq_util.h"

namespace syncline::cli {
using detail::flag;
using detail::invalid;
using detail::printable;

status validate_endpoint_list(std::string_view option, std::string_view list) {
    const auto endpoints = zmqx::split_endpoints(list);
    if (endpoints.empty()) return invalid(flag(option) + ": no endpoint given");
    for (const auto& endpoint : endpoints) SYNCLINE_RETURN_IF_ERROR(validate_endpoint(option, endpoint));
    return {};
}

status validate_endpoint(std::string_view option, std::string_view endpoint) {
    auto bad = [&](std::string_view why) {
        return invalid(flag(option) + ": invalid endpoint '" + std::string(endpoint) + "': " + std::string(why));
    };
    if (!printable(endpoint)) return bad("contains spaces or control characters");
    if (endpoint.starts_with("tcp://")) {
        const std::string_view rest = endpoint.substr(6);
        const std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) return bad("expected tcp://host:port");
        const std::string_view host = rest.substr(0, colon);
        const std::string_view port = rest.substr(colon + 1);
        if (host.empty()) return bad("missing host (use * or 127.0.0.1)");
        if (host.front() == '[' && host.back() != ']') return bad("unbalanced [ in IPv6 host");
        if (port == "*") return {};
        if (port.empty() || port.size() > 5) return bad("port must be 1-65535 or *");
        unsigned value = 0;
        for (char c : port) {
            if (c < '0' || c > '9') return bad("port must be 1-65535 or *");
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value == 0 || value > 65535) return bad("port must be 1-65535 or *");
        return {};
    }
    if (endpoint.starts_with("ipc://")) {
        const std::string_view path = endpoint.substr(6);
        if (path.empty()) return bad("missing path");
        if (path.size() > max_ipc_path_bytes)
            return bad("ipc path longer than " + std::to_string(max_ipc_path_bytes) + " bytes");
        return {};
    }
    if (endpoint.starts_with("inproc://")) {
        if (endpoint.size() == 9) return bad("missing name");
        return {};
    }
    return bad("expected tcp://host:port, ipc://path or inproc://name");
}

}  // namespace syncline::cli
