#pragma once
// cli/replay.h: `syncline replay`: a bounded pass over offsets [from, to] of the log into a
// target, run as a separate temporary pipeline (`<pipeline>.replay`, its own state and run
// directory) through cli/runner.h, so the pipeline itself and any others keep running on the
// same log. Targets are fenced by offset, so replaying into a target the pipeline also writes
// is harmless: a replayed change never overwrites a newer one.
// The range computation is a pure function (plan_replay) so it can be tested without stores.
#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace syncline::cli {

struct replay_request {
    std::optional<std::uint64_t> from;  // --from N.
    bool since = false;                 // --since TIME was given ...
    std::optional<std::uint64_t> since_offset;  // ... and this is change_log::offset_at_time(TIME).
    std::optional<std::uint64_t> to;    // --to M. Default: the log's last offset.
};

struct replay_range {
    std::uint64_t first = 0;  // Inclusive.
    std::uint64_t last = 0;   // Inclusive: the pass exits once it is committed.
    std::uint64_t records() const { return last - first + 1; }
};

// The offsets to replay given the log's bounds (first stored, last; both 0 when empty).
// invalid_argument for an impossible range (empty log, --from 0, --to past the end, from > to,
// no record at or after --since); not_found when the range starts below what retention kept.
result<replay_range> plan_replay(const replay_request& request, std::uint64_t log_first, std::uint64_t log_last);

// "<pipeline>.replay": the temporary pipeline a replay of `pipeline` runs as.
std::string replay_pipeline_name(const std::string& pipeline);

}  // namespace syncline::cli
