#pragma once
// ventilator/filter.h: which records a pipeline sends (docs/processing.md "Filters"): collection
// globs (fnmatch(3): *, ?, [..]) and operations. Records that do not match are never sent, yet
// their offsets stay inside the batch's range, so the sink acknowledges them with their batch and
// the watermark moves past them. Pure logic; const methods are thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace syncline::ventilator {

struct record_filter {
    std::vector<std::string> collections;  // Globs; empty = every collection.
    bool upserts = true;
    bool deletes = true;

    bool selects_all() const noexcept { return collections.empty() && upserts && deletes; }
    bool matches(std::string_view collection, op operation) const;
};

// Parses --collections "GLOB[,GLOB...]" into `f.collections` (empty text = every collection).
// invalid_argument names the option and the bad glob (empty, over 256 bytes, control characters).
status parse_collections(std::string_view text, record_filter& f);
// Parses --ops "upsert", "delete" or "upsert,delete" (empty text = both).
status parse_ops(std::string_view text, record_filter& f);

// --ordering: "none" (default: batches in parallel, any order across batches) or "key" (each
// key has at most one change in flight: docs/processing.md "Per-key ordering").
enum class ordering { none, key };
result<ordering> parse_ordering(std::string_view text);

// The lane of a record in --ordering key: a 64-bit hash of (collection, key).
std::uint64_t key_lane(std::string_view collection, std::string_view key) noexcept;

}  // namespace syncline::ventilator
