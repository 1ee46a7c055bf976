#include "sink/watermark.h"

#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace syncline::sink {
namespace {

struct span_t {
    std::uint64_t first, last;
};

// The watermark a naive model gives: scan a done-bitmap from the start.
std::uint64_t model_watermark(const std::vector<bool>& done, std::uint64_t start) {
    std::uint64_t w = start;
    while (w + 1 < done.size() && done[w + 1]) ++w;
    return w;
}

TEST(watermark, in_order_ranges_advance_contiguously) {
    watermark_tracker t;
    EXPECT_TRUE(t.acknowledge(1, 10));
    EXPECT_EQ(t.watermark(), 10u);
    EXPECT_TRUE(t.acknowledge(11, 20));
    EXPECT_EQ(t.watermark(), 20u);
    EXPECT_EQ(t.pending_ranges(), 0u);
}

TEST(watermark, gap_holds_the_watermark_until_filled) {
    watermark_tracker t;
    EXPECT_FALSE(t.acknowledge(11, 20));
    EXPECT_FALSE(t.acknowledge(31, 40));
    EXPECT_EQ(t.watermark(), 0u);
    EXPECT_EQ(t.pending_ranges(), 2u);
    EXPECT_TRUE(t.acknowledge(1, 10));
    EXPECT_EQ(t.watermark(), 20u);
    EXPECT_EQ(t.pending_ranges(), 1u);
    EXPECT_TRUE(t.acknowledge(21, 30));
    EXPECT_EQ(t.watermark(), 40u);
    EXPECT_EQ(t.pending_ranges(), 0u);
}

TEST(watermark, duplicates_and_ranges_below_are_ignored) {
    watermark_tracker t(100);
    EXPECT_FALSE(t.acknowledge(1, 50));
    EXPECT_FALSE(t.acknowledge(90, 100));
    EXPECT_EQ(t.watermark(), 100u);
    EXPECT_TRUE(t.acknowledge(95, 110));  // Straddles the watermark.
    EXPECT_EQ(t.watermark(), 110u);
    EXPECT_FALSE(t.acknowledge(120, 130));
    EXPECT_FALSE(t.acknowledge(120, 130));
    EXPECT_FALSE(t.acknowledge(125, 126));
    EXPECT_EQ(t.pending_ranges(), 1u);
}

TEST(watermark, adjacent_ranges_merge) {
    watermark_tracker t;
    EXPECT_FALSE(t.acknowledge(5, 6));
    EXPECT_FALSE(t.acknowledge(3, 4));
    EXPECT_FALSE(t.acknowledge(7, 9));
    EXPECT_EQ(t.pending_ranges(), 1u);
    EXPECT_TRUE(t.acknowledge(1, 2));
    EXPECT_EQ(t.watermark(), 9u);
}

// Property: for random batchings of 1..N delivered in random order with duplicates, re-cut
// redeliveries (a restarted ventilator batches differently) and single-record dead letters
// (acknowledged like any range), the tracker equals the naive model after every step and ends at N.
TEST(watermark, random_permutations_match_the_model) {
    std::mt19937_64 rng(20261123);
    for (int round = 0; round < 500; ++round) {
        const std::uint64_t start = rng() % 5;
        const std::uint64_t n = start + 1 + rng() % 300;
        std::vector<span_t> acks;
        for (std::uint64_t at = start + 1; at <= n;) {
            const std::uint64_t len = 1 + rng() % 17;
            const std::uint64_t last = std::min(n, at + len - 1);
            acks.push_back({at, last});
            at = last + 1;
        }
        // Duplicates of whole batches, overlapping re-cut ranges, and single dead-lettered offsets.
        const std::size_t extra = rng() % 20;
        for (std::size_t i = 0; i < extra; ++i) {
            const std::uint64_t a = 1 + rng() % n;
            const std::uint64_t b = std::min(n, a + rng() % 30);
            switch (rng() % 3) {
                case 0: acks.push_back(acks[rng() % acks.size()]); break;
                case 1: acks.push_back({a, b}); break;
                default: acks.push_back({a, a}); break;
            }
        }
        std::shuffle(acks.begin(), acks.end(), rng);

        watermark_tracker t(start);
        std::vector<bool> done(n + 1, false);
        for (std::uint64_t i = 0; i <= start; ++i) done[i] = true;
        for (const auto& a : acks) {
            const std::uint64_t before = t.watermark();
            const bool moved = t.acknowledge(a.first, a.last);
            for (std::uint64_t i = a.first; i <= a.last; ++i) done[i] = true;
            ASSERT_EQ(t.watermark(), model_watermark(done, start)) << "round " << round;
            ASSERT_EQ(moved, t.watermark() != before);
        }
        ASSERT_EQ(t.watermark(), n) << "round " << round;
        ASSERT_EQ(t.pending_ranges(), 0u);
    }
}

}  // namespace
}  // namespace syncline::sink
