#pragma once
// targets/verify.h: compares what a target holds with the state the change log defines at a
// committed offset (`syncline verify`, integration tests).
//
// Expected state: per (collection, key), the last record with offset <= committed. The target
// is read once (target::read_state) and compared key by key:
//   - a live row must carry the expected record's offset and value;
//   - a row whose offset is above `committed` (applied past the watermark) is accepted only if
//     it equals the log's record at that offset (same collection, key, op and value);
//   - tombstones are fine for keys whose last change is a delete.
// Values compare byte for byte, or as JSON values when the target's value parses as JSON and the
// log's (parsed as JSON, or else taken as a JSON string) is the same value: targets that store
// JSON (jsonl:) may change whitespace or key order.
// If the log was trimmed, keys whose last change lies below its first offset cannot be checked:
// rows with such offsets and no newer log record are counted in `unverifiable`, not reported.
// Memory: the expected state (keys and values) is held in memory. Not thread-safe.
// Errors: invalid_argument for a target that cannot be read back (null:); the log's and the
// target's read errors with context; corruption for a log record that does not decode.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/change_log.h"
#include "targets/target.h"

namespace syncline::targets {

struct difference {
    enum class kind {
        missing,      // The log says live; the target has no row or a tombstone.
        stale,        // The target's row is live but holds another (usually older) offset or value.
        resurrected,  // The log says deleted; the target has a live row.
        unexpected,   // The target has a key the log never had (at or below `committed`).
    };
    kind what = kind::missing;
    std::string collection;
    std::string key;
    std::string detail;  // Expected vs actual offset and value, for people.
};

// "missing", "stale", "resurrected", "unexpected".
std::string_view kind_name(difference::kind k) noexcept;

struct verify_report {
    std::uint64_t committed = 0;       // The watermark verified against.
    std::uint64_t keys_expected = 0;   // Keys live in the log's state at `committed`.
    std::uint64_t keys_checked = 0;    // Distinct (collection, key) in the log's state or the target.
    std::uint64_t log_first_offset = 0;  // Lowest offset the log still holds (0: empty).
    std::uint64_t unverifiable = 0;    // Rows older than a trimmed log (see above).
    std::vector<difference> differences;  // Sorted by (collection, key).
    bool clean() const { return differences.empty(); }
};

// `target_name` (a URI) only labels error messages.
result<verify_report> verify_target(const store::change_log& log, std::uint64_t committed, target& t,
                                    std::string_view target_name = "target");

// A summary line, then one line per difference (at most `max_lines`, then "... and N more").
std::string format_report(const verify_report& report, std::size_t max_lines = 50);

}  // namespace syncline::targets
