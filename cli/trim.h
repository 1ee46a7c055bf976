#pragma once
// cli/trim.h: the plan behind `syncline log trim` (log retention, docs/architecture.md "Store
// layout"), as a pure function so it can be tested without stores. The log may lose only what
// every pipeline has committed: the trim point is the lowest committed offset + 1 over all
// pipelines under the state root, and records with offset < trim point are deleted.
// A pipeline that never committed would start at the log's first offset, so it blocks trimming
// unless the operator names a bound (--force-below N); even then nothing at or above any
// committed pipeline's resume point is deleted.
// Dead letters that hold no copy of their record (a sink run without --log) need the log's copy:
// the trim point never passes the lowest of them (docs/recovery.md, "Log retention").
// Errors: invalid_argument with a message for the operator.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace syncline::cli {

struct trim_pipeline {
    std::string name;
    std::optional<std::uint64_t> committed;  // nullopt: never committed.
    std::optional<std::uint64_t> first_bare_dead_letter = std::nullopt;  // Lowest dead letter holding no copy of its record.
};

struct trim_request {
    std::uint64_t log_first = 0;              // Lowest stored offset; 0 when the log is empty.
    std::uint64_t log_last = 0;               // Highest offset; 0 when empty.
    std::vector<trim_pipeline> pipelines;
    std::optional<std::uint64_t> force_below;  // --force-below N: an upper bound the operator accepts.
};

struct trim_plan {
    std::uint64_t below = 0;     // Delete every offset < below (0 or <= log_first: nothing).
    std::uint64_t records = 0;   // Stored records that will be deleted.
    std::string limited_by;      // What set the trim point: a pipeline name or "--force-below".
    std::vector<std::string> never_committed;  // Pipelines ignored because of --force-below.

    bool deletes_nothing() const { return records == 0; }
};

// The trim point for `request`. invalid_argument when no pipeline protects the log or some
// pipeline never committed, and no --force-below was given (the message names them).
result<trim_plan> plan_trim(const trim_request& request);

// The plan as the lines `log trim` prints (pipelines, log, trim point, effect), each ending in '\n'.
std::string describe_trim_plan(const trim_request& request, const trim_plan& plan);

}  // namespace syncline::cli
