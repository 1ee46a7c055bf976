// latest_change_per_key (targets/internal/rows.h), the reduction the SQL targets apply to what a
// worker delivers in one call: the joined batches of a group, which may overlap when a ventilator
// restart re-cut ranges while older batches still waited at the worker.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "targets/internal/rows.h"

namespace syncline::targets {
namespace {

using internal::latest_change_per_key;

// The log: offset o (1-based) changes key "k<o % keys>" of collection "c<o % 2>".
record_view log_record(std::uint64_t o, int keys, std::vector<std::string>& names) {
    record_view r;
    r.offset = o;
    r.collection = names[o % 2];
    r.key = names[2 + o % static_cast<std::uint64_t>(keys)];
    return r;
}

std::vector<std::size_t> all_rows(std::size_t n) {
    std::vector<std::size_t> rows(n);
    std::iota(rows.begin(), rows.end(), 0);
    return rows;
}

// The first counter-example of the by-position reduction: batch 3..8 (re-cut) joined in front of
// the older batch 5..6 it overlaps; key k0 changes at 6 and 8. Offset 8 must win.
TEST(LatestChangePerKey, KeepsTheHighestOffsetWhenBatchesOverlap) {
    std::vector<std::string> names{"c", "c", "k0", "k1"};
    std::vector<record_view> joined;
    for (std::uint64_t o : {3, 4, 5, 6, 7, 8, 5, 6}) joined.push_back(log_record(o, 2, names));
    const auto latest = latest_change_per_key(joined, all_rows(joined.size()));
    ASSERT_EQ(latest.size(), 2u);
    for (std::size_t i : latest) EXPECT_GE(joined[i].offset, 7u) << joined[i].key;
}

// Property: for random groups of overlapping batches joined in any order, the reduction holds
// exactly one row per (collection, key), the one with the highest offset, sorted by (collection, key).
TEST(LatestChangePerKey, MatchesTheModelForRandomOverlappingBatchGroups) {
    std::mt19937_64 rng(20261206);
    for (int round = 0; round < 2000; ++round) {
        const int keys = 1 + static_cast<int>(rng() % 6);
        std::vector<std::string> names{"a", "b"};
        for (int k = 0; k < keys; ++k) names.push_back("k" + std::to_string(k));
        const std::uint64_t log_last = 1 + rng() % 40;
        std::vector<record_view> joined;
        const int batches = 1 + static_cast<int>(rng() % 5);
        std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
        for (int b = 0; b < batches; ++b) {
            std::uint64_t first = 1 + rng() % log_last;
            std::uint64_t last = first + rng() % (log_last - first + 1);
            ranges.emplace_back(first, last);
        }
        // Any join order: the worker's, a stable one, or a shuffled one.
        std::shuffle(ranges.begin(), ranges.end(), rng);
        if (rng() % 2) std::stable_sort(ranges.begin(), ranges.end(), [](auto& x, auto& y) { return x.first < y.first; });
        std::map<std::pair<std::string, std::string>, std::uint64_t> model;
        for (auto [first, last] : ranges)
            for (std::uint64_t o = first; o <= last; ++o) {
                record_view r = log_record(o, keys, names);
                joined.push_back(r);
                auto& best = model[{std::string(r.collection), std::string(r.key)}];
                best = std::max(best, o);
            }
        const auto latest = latest_change_per_key(joined, all_rows(joined.size()));
        std::map<std::pair<std::string, std::string>, std::uint64_t> got;
        std::pair<std::string, std::string> previous;
        for (std::size_t i : latest) {
            std::pair<std::string, std::string> k{std::string(joined[i].collection), std::string(joined[i].key)};
            ASSERT_TRUE(got.empty() || previous < k) << "not sorted by (collection, key), or a key twice";
            got[k] = joined[i].offset;
            previous = k;
        }
        ASSERT_EQ(got, model) << "round " << round;
    }
}

}  // namespace
}  // namespace syncline::targets
