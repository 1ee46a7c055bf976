#pragma once
// targets/target.h: the one interface every target implements (DESIGN.md "Pipelines and targets"):
// deliver a batch, return a per-record outcome. Targets are chosen by URI (open_target).
// A target instance belongs to one worker thread. State targets fence by offset: a change is
// applied only if its offset is greater than the one stored for its (collection, key), deletes
// included (they leave tombstones), so redelivery, reordering and replay converge to the log's state.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "common/wire.h"

namespace syncline::targets {

struct delivery_outcome {
    // Not ok: the whole batch failed for a reason that may pass (target unreachable, locked):
    // the worker retries with backoff and finally nacks. Nothing of the batch may count as done.
    // errc::busy says the cause is the target's state and never a record (unreachable, a lock
    // wait timeout, a deadlock, a failing gateway: HTTP 502/503/504/429): poison isolation never
    // dead-letters a record on it (docs/recovery.md). Any other code: a record may be the cause.
    status transient;
    // Records the target refused for good (bad value, rejected by a constraint): dead-lettered.
    std::vector<wire::record_failure> failures;
    // With a transient failure: the least wait before the next try when the target named one
    // (an HTTP Retry-After). Zero: the worker's own backoff decides.
    std::chrono::milliseconds retry_after{0};
};

// What a state target holds for one (collection, key).
struct row_state {
    std::string value;
    std::uint64_t offset = 0;
    bool deleted = false;  // A tombstone.
    bool operator==(const row_state&) const = default;
};
using state_map = std::map<std::pair<std::string, std::string>, row_state>;  // (collection, key) -> row

class target {
public:
    virtual ~target() = default;
    // Delivers records (in offset order) in as few round trips as the target allows.
    virtual delivery_outcome deliver(std::span<const record_view> records) = 0;
    // Everything the target holds, for `syncline verify`; nullopt for targets that cannot be
    // read back (null:). Includes tombstones.
    virtual result<std::optional<state_map>> read_state() = 0;
    // Whether a worker may join batches queued to it into one deliver() call. Push targets whose
    // requests carry their batch's offset range (an idempotency key) say no, so that every
    // redelivery of a batch is the same request.
    virtual bool joins_batches() const { return true; }
};

struct target_options {
    std::string pipeline;  // Used in idempotency keys and to name per-pipeline tables where needed.
};

// sqlite:PATH, jsonl:PATH, null: ... invalid_argument naming the URI for unknown schemes or bad
// paths; unavailable when the target cannot be reached now.
result<std::unique_ptr<target>> open_target(const std::string& uri, const target_options& opts = {});

// Checks a target URI and its options without opening or connecting to anything.
status check_target_uri(const std::string& uri, const target_options& opts = {});


}  // namespace syncline::targets
