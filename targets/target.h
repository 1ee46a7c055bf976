#pragma once
// targets/target.h: the one interface every target implements (docs/architecture.md "Delivery"):
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
#include <string_view>
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
};

struct target_options {
    std::string pipeline;  // Used in idempotency keys and to name per-pipeline tables where needed.
    // Set by a worker to its --pipeline: the group of worker processes delivering one pipeline.
    // A kind with capabilities.max_writers = 1 gives writing to one instance per group and fails
    // open_target with `unavailable` for the others, which wait (the worker retries with backoff)
    // and take over when the writer's process ends. Empty (verify, dlq retry, benches): no slot is
    // taken; the instance writes alongside the others as any connection would.
    std::string writer_group = {};
};

// sqlite:PATH, jsonl:PATH, null: ... invalid_argument naming the URI for unknown schemes or bad
// paths; unavailable when the target cannot be reached now.
result<std::unique_ptr<target>> open_target(const std::string& uri, const target_options& opts = {});

// Checks a target URI and its options without opening or connecting to anything.
status check_target_uri(const std::string& uri, const target_options& opts = {});

// The registry: one row per kind of target (target.cc). URI dispatch, every `--target` help text
// and the capability questions below are all read from it, so a new target is one new row.
struct target_capabilities {
    bool fenced_state = false;  // Applies a change only above the offset stored for its key.
    bool verifiable = false;    // read_state() returns what it holds (`syncline verify`).
    bool joins_batches = true;  // A worker may join queued batches into one deliver() call.
    unsigned max_writers = 0;   // Processes of one writer_group that write at once; 0 = any number.
};
struct target_kind {
    std::string_view name;                       // The kind, as docs and metrics call it ("sqlite").
    std::span<const std::string_view> schemes;   // URI schemes that select it ("postgresql", "postgres").
    std::string_view synopsis;                   // The URI form with its options, for help and errors.
    std::string_view summary;                    // One line: what a delivery means for this kind.
    target_capabilities capabilities;
};
// Every kind, in the order help texts list them. Static storage; thread-safe.
std::span<const target_kind> target_kinds();
// The kind a URI selects by its scheme; nullptr for an unknown or missing scheme.
const target_kind* find_target_kind(std::string_view uri);
// The help text of a `--target` option, generated from the registry: one line per kind
// (only the verifiable ones when verifiable_only), each `SYNOPSIS  SUMMARY`.
std::string target_uri_help(bool verifiable_only = false);
// The CMake switch (e.g. "SYNCLINE_WITH_MYSQL") that this build was configured without and that
// would bring in the kind the URI's scheme names; empty for kinds built in and unknown schemes.
// open_target/check_target_uri refuse such a URI with an error naming the switch.
std::string_view target_build_switch(std::string_view uri);


}  // namespace syncline::targets
