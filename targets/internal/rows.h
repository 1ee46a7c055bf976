#pragma once
// targets/internal/rows.h: batch shaping shared by the SQL state targets (postgresql://, mysql://).
#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "common/record.h"

namespace syncline::targets::internal {

// `rows` (indexes into `records`, in any order) reduced to the change of each (collection, key)
// with the highest offset: the only one fencing by offset keeps, and an upsert statement may then
// touch each row once. Never the last by position: a worker joins batches that may overlap (a
// restarted ventilator re-cuts ranges while older batches still wait at the worker), so a later
// position can hold an older change. Sorted by (collection, key), so every worker takes row locks
// in the same order and concurrent batches over the same keys wait for each other instead of
// deadlocking.
inline std::vector<std::size_t> latest_change_per_key(std::span<const record_view> records,
                                                      std::span<const std::size_t> rows) {
    std::vector<std::size_t> latest(rows.begin(), rows.end());
    std::sort(latest.begin(), latest.end(), [&](std::size_t a, std::size_t b) {
        if (records[a].collection != records[b].collection) return records[a].collection < records[b].collection;
        if (records[a].key != records[b].key) return records[a].key < records[b].key;
        return records[a].offset < records[b].offset;
    });
    std::size_t kept = 0;
    for (std::size_t i = 0; i < latest.size(); ++i) {
        const bool same_as_next = i + 1 < latest.size() &&
                                  records[latest[i]].collection == records[latest[i + 1]].collection &&
                                  records[latest[i]].key == records[latest[i + 1]].key;
        if (!same_as_next) latest[kept++] = latest[i];
    }
    latest.resize(kept);
    return latest;
}

}  // namespace syncline::targets::internal
