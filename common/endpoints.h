#pragma once
// common/endpoints.h: the ZeroMQ endpoint syntax every option taking one accepts:
// tcp://host:port|*, ipc://path (at most max_ipc_path_bytes) or inproc://name.
#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace syncline {

// sockaddr_un holds 107 path bytes plus the terminator: a longer ipc:// path cannot bind (libzmq
// would fail later, vaguely). The one limit for validation and for `syncline run`'s run directory.
inline constexpr std::size_t max_ipc_path_bytes = 107;

namespace cli {

// errc::invalid_argument unless `endpoint` looks like tcp://host:port|*, ipc://path or inproc://name.
status validate_endpoint(std::string_view option, std::string_view endpoint);

// validate_endpoint for each endpoint of a comma-separated list (sockets that bind several).
status validate_endpoint_list(std::string_view option, std::string_view list);

}  // namespace cli
}  // namespace syncline
