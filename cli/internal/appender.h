#pragma once
// cli/internal/appender.h: where `syncline append` and `generate` write: the change log directly
// (as its single writer), or through a running gateway with --via ENDPOINT (gateway/client.h:
// each call is one request, appended atomically, retried with the same sequence until the gateway
// acknowledges it durably). Errors are worded for the user, without the "syncline <cmd>: " prefix.
// Not thread-safe.
#include <memory>
#include <span>
#include <string>

#include "common/record.h"
#include "common/status.h"
#include "store/change_log.h"

namespace syncline::cli::internal {

class appender {
public:
    virtual ~appender() = default;
    // Appends `records` atomically; their offsets.
    virtual result<store::offset_range> append(std::span<record> records) = 0;
};

// `via` empty: the log at `log_path` (open_log_writer: a gateway holding it is named in the
// error). Otherwise the gateway at `via` (tcp:// or ipc://), as a producer with a fresh id.
result<std::unique_ptr<appender>> open_appender(const std::string& log_path, const std::string& via, bool sync);

}  // namespace syncline::cli::internal
