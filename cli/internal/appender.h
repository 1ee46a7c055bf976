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
    // Appends `records` atomically; their offsets. With records staged (below), they become
    // visible together with `records` (which may then be empty) in the same synced write, and the
    // range starts at the first staged offset.
    virtual result<store::offset_range> append(std::span<record> records) = 0;

    // Staging (change_log::stage): writes `records` unsynced and invisible, so a big atomic input
    // costs one synced write (the next append()) instead of one per batch, and needs no memory
    // for the records already written. false: this appender cannot stage (a gateway).
    virtual bool can_stage() const { return false; }
    virtual status stage(std::span<record> records) {
        (void)records;
        return status{errc::invalid_argument, "this appender cannot stage"};
    }
    // Forgets every staged record (they never become visible).
    virtual status discard_staged() { return {}; }
};

// `via` empty: the log at `log_path` (open_log_writer: a gateway holding it is named in the
// error). Otherwise the gateway at `via` (tcp:// or ipc://), as a producer with a fresh id.
result<std::unique_ptr<appender>> open_appender(const std::string& log_path, const std::string& via, bool sync);

}  // namespace syncline::cli::internal
