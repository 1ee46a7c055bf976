#pragma once
// capture/source_verify.h: `syncline verify --source URI --target URI`: compares the source's
// tables (read in one REPEATABLE READ transaction, encoded exactly as the capture encodes rows:
// capture/pg_values.h) with what a state target holds (targets::target::read_state).
//   missing   - a source row the target lacks (no row, or a tombstone);
//   different - the target's value is another JSON value than the source row's;
//   extra     - a live target row of a captured table (collection "schema.table") whose key the
//               source no longer has. Target rows of other collections are not looked at.
// Values compare as JSON values (targets may reformat JSON). Both sides are held in memory.
// Run it when the source is quiet or the capture has caught up: rows changed since the capture
// last appended show up as differences. Errors: the source's and the target's read errors.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "capture/source.h"
#include "common/status.h"
#include "targets/target.h"

namespace syncline::capture {

struct source_difference {
    enum class kind { missing, different, extra };
    kind what = kind::missing;
    std::string collection;
    std::string key;
    std::string detail;
};

struct source_verify_report {
    std::size_t tables = 0;
    std::uint64_t source_rows = 0;
    std::uint64_t target_rows = 0;  // Live rows of the captured collections.
    std::vector<source_difference> differences;  // By (collection, key).
    bool clean() const { return differences.empty(); }
};

result<source_verify_report> verify_source(const source_options& source, targets::target& target);

// "verify --source: OK|DIFFERENT tables=N source_rows=N target_rows=N differences=N ..." then one
// line per difference (at most `max_lines`).
std::string format_source_report(const source_verify_report& report, std::size_t max_lines = 50);

}  // namespace syncline::capture
