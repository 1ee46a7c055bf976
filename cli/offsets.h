#pragma once
// cli/offsets.h: the plan behind `syncline offsets set`, as a pure function so it can be tested
// without stores. Semantics: a committed offset W means every offset <= W is done and the
// pipeline resumes at W + 1; so "--to-offset N" (resume at N) commits N - 1.
// Errors: invalid_argument with a message for the operator (e.g. "--to-offset 0: offsets start
// at 1", "--shift-by -50 would move the committed offset below 0").
#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace syncline::cli {

enum class reset_kind { to_offset, shift_by, to_earliest, to_latest, to_time };

struct reset_request {
    reset_kind kind = reset_kind::to_offset;
    std::uint64_t offset = 0;   // to_offset: the offset to resume at (>= 1).
    std::int64_t shift = 0;     // shift_by: added to the committed offset.
    std::int64_t time_ms = 0;   // to_time: resume at the first record appended at or after it.
};

// What the log looks like, when --log was given.
struct log_bounds {
    std::uint64_t first = 0;                        // Lowest stored offset; 0 when empty.
    std::uint64_t last = 0;                         // Highest offset; 0 when empty.
    std::optional<std::uint64_t> offset_at_time;    // to_time: change_log::offset_at_time(time_ms).
};

struct offsets_plan {
    std::optional<std::uint64_t> current;  // nullopt: never committed.
    std::uint64_t new_committed = 0;
    // With a log: records that will be delivered again (replayed) or never delivered (skipped);
    // at most one is non-zero.
    std::optional<std::uint64_t> replayed;
    std::optional<std::uint64_t> skipped;
    std::string note;  // Extra context for the operator, possibly empty.

    std::uint64_t resume_at() const { return new_committed + 1; }
};

// Computes the new committed offset. to_latest and to_time need `log`.
result<offsets_plan> plan_offsets(std::optional<std::uint64_t> current, const reset_request& request,
                                  const std::optional<log_bounds>& log);

// The plan as the lines `offsets set` prints (pipeline, current, new, effect), each ending in '\n'.
std::string describe_plan(const std::string& pipeline, const offsets_plan& plan, const std::optional<log_bounds>& log);

}  // namespace syncline::cli
