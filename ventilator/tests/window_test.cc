#include "ventilator/window.h"

#include <gtest/gtest.h>

namespace syncline::ventilator {
namespace {

using std::chrono::milliseconds;

send_window make_window(std::size_t max_batches = 3) {
    return send_window(
        {.max_batches = max_batches, .max_acked_ranges = 100, .ack_timeout = milliseconds(100), .max_backoff_factor = 4});
}

TEST(window, bounded_by_max_batches) {
    auto w = make_window(2);
    EXPECT_TRUE(w.has_room());
    w.add(1, {1, 10}, 10, "a");
    w.add(2, {11, 20}, 10, "b");
    EXPECT_FALSE(w.has_room());
    EXPECT_EQ(w.on_committed(10), 1u);
    EXPECT_TRUE(w.has_room());
}

TEST(window, acknowledged_batches_free_their_body_and_their_slot) {
    auto w = send_window({.max_batches = 2, .max_acked_ranges = 3, .ack_timeout = milliseconds(100), .max_backoff_factor = 4});
    const auto t0 = clock::now();
    w.add(1, {1, 10}, 10, "a");
    w.add(2, {11, 20}, 10, "b");
    EXPECT_FALSE(w.has_room());
    w.mark_sent(*w.next_due(t0), t0);
    w.on_acked({1, 10});
    EXPECT_TRUE(w.has_room());  // Only unacknowledged batches count against max_batches...
    w.add(3, {21, 30}, 10, "c");
    EXPECT_FALSE(w.has_room());  // ...and acknowledged ones against max_acked_ranges.
    w.on_sink_restart(t0);
    auto* again = w.next_due(t0);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->offsets.first, 1u);
    EXPECT_TRUE(again->body.empty());  // The ventilator cuts it again from the log.
    EXPECT_EQ(w.size(), 3u);
}

TEST(window, sends_in_offset_order_then_waits_for_timeout) {
    auto w = make_window();
    const auto t0 = clock::now();
    w.add(1, {1, 10}, 10, "a");
    w.add(2, {11, 20}, 10, "b");
    auto* b = w.next_due(t0);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->offsets.first, 1u);
    w.mark_sent(*b, t0);
    b = w.next_due(t0);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->offsets.first, 11u);
    w.mark_sent(*b, t0);
    EXPECT_EQ(w.next_due(t0 + milliseconds(99)), nullptr);
    auto* again = w.next_due(t0 + milliseconds(100));
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->offsets.first, 1u);
    EXPECT_EQ(again->attempt, 1u);
}

TEST(window, redelivery_backs_off_exponentially_up_to_the_cap) {
    auto w = make_window();
    auto t = clock::now();
    w.add(1, {1, 1}, 1, "a");
    const milliseconds expected[] = {milliseconds(100), milliseconds(200), milliseconds(400), milliseconds(400)};
    for (auto gap : expected) {
        auto* b = w.next_due(t);
        ASSERT_NE(b, nullptr);
        w.mark_sent(*b, t);
        EXPECT_EQ(w.next_due(t + gap - milliseconds(1)), nullptr);
        EXPECT_NE(w.next_due(t + gap), nullptr);
        t += gap;
    }
    EXPECT_EQ(w.redeliveries(), 3u);
}

TEST(window, acked_batches_are_not_redelivered_but_stay_until_committed) {
    auto w = make_window();
    const auto t0 = clock::now();
    w.add(1, {1, 10}, 10, "a");
    w.mark_sent(*w.next_due(t0), t0);
    w.on_acked({1, 10});
    EXPECT_EQ(w.next_due(t0 + milliseconds(1000)), nullptr);
    EXPECT_EQ(w.size(), 1u);
    EXPECT_EQ(w.oldest_unacked(), nullptr);
    EXPECT_FALSE(w.next_deadline().has_value());
    w.on_committed(10);
    EXPECT_TRUE(w.empty());
}

TEST(window, sink_restart_rearms_acknowledged_batches) {
    auto w = make_window();
    const auto t0 = clock::now();
    w.add(1, {1, 10}, 10, "a");
    w.add(2, {11, 20}, 10, "b");
    w.mark_sent(*w.next_due(t0), t0);
    w.on_acked({1, 10});
    w.on_sink_restart(t0);
    auto* b = w.next_due(t0);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->offsets.first, 1u);  // The acknowledged-but-uncommitted batch goes out again.
    EXPECT_EQ(b->attempt, 1u);
}

TEST(window, nack_makes_a_batch_due_at_once) {
    auto w = make_window();
    const auto t0 = clock::now();
    w.add(1, {1, 10}, 10, "a");
    w.add(2, {11, 20}, 10, "b");
    w.mark_sent(*w.next_due(t0), t0);
    w.mark_sent(*w.next_due(t0), t0);
    w.on_redeliver({11, 20}, t0);
    auto* b = w.next_due(t0);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->offsets.first, 11u);
}

TEST(window, partial_ack_range_does_not_ack_a_larger_batch) {
    auto w = make_window();
    const auto t0 = clock::now();
    w.add(1, {1, 10}, 10, "a");
    w.mark_sent(*w.next_due(t0), t0);
    w.on_acked({1, 5});
    ASSERT_NE(w.oldest_unacked(), nullptr);
}

TEST(window, receipts_name_the_holder_of_the_current_attempt_only) {
    auto w = make_window();
    const auto t0 = clock::now();
    w.add(1, {1, 10}, 10, "a");
    w.mark_sent(*w.next_due(t0), t0);
    EXPECT_EQ(w.oldest_unacked()->holder, "");
    w.on_received({{1, 10}, 1, "w1"});
    EXPECT_EQ(w.oldest_unacked()->holder, "w1");

    // Redelivered: the holder is unknown again, and a late receipt of attempt 1 does not count.
    const auto t1 = t0 + milliseconds(150);
    w.mark_sent(*w.next_due(t1), t1);
    EXPECT_EQ(w.oldest_unacked()->holder, "");
    w.on_received({{1, 10}, 1, "w1"});
    EXPECT_EQ(w.oldest_unacked()->holder, "");
    w.on_received({{1, 10}, 2, "w2"});
    EXPECT_EQ(w.oldest_unacked()->holder, "w2");
    w.on_received({{1, 9}, 2, "w3"});  // Not a batch of this window.
    EXPECT_EQ(w.oldest_unacked()->holder, "w2");
    EXPECT_EQ(w.unacked(), 1u);
    w.on_acked({1, 10});
    EXPECT_EQ(w.unacked(), 0u);
}

// Issue 13 item 5: time queued at a busy worker counted against the ack timeout.
TEST(window, a_receipt_restarts_the_timer) {
    auto w = make_window();
    const auto t0 = clock::now();
    w.add(1, {1, 10}, 10, "a");
    w.mark_sent(*w.next_due(t0), t0);
    // Queued at the worker for 90 ms, then taken: the 100 ms start again from there.
    w.on_received({{1, 10}, 1, "w1"}, t0 + milliseconds(90));
    EXPECT_EQ(w.next_due(t0 + milliseconds(150)), nullptr);
    EXPECT_NE(w.next_due(t0 + milliseconds(191)), nullptr);
}

TEST(window, the_timeout_adapts_to_slow_deliveries_and_never_below_the_configured_one) {
    auto w = make_window(8);
    const auto t0 = clock::now();
    EXPECT_EQ(w.effective_timeout(), milliseconds(100));
    for (std::uint64_t i = 0; i < 4; ++i) w.add(i + 1, {i * 10 + 1, i * 10 + 10}, 10, "a");
    for (int i = 0; i < 4; ++i) w.mark_sent(*w.next_due(t0), t0);
    // The first batch takes 80 ms from send to ack: 4 x 80 = 320 ms from now on.
    w.on_acked({1, 10}, t0 + milliseconds(80));
    EXPECT_EQ(w.effective_timeout(), milliseconds(320));
    // Batches already in flight get the longer timeout too (from their send).
    EXPECT_EQ(w.next_due(t0 + milliseconds(300)), nullptr);
    EXPECT_NE(w.next_due(t0 + milliseconds(321)), nullptr);
    // Fast acks bring it down again, but never below the configured 100 ms.
    for (int i = 0; i < 20; ++i) {
        const auto t = t0 + milliseconds(400 + i * 10);
        w.add(100 + i, {1000 + static_cast<std::uint64_t>(i), 1000 + static_cast<std::uint64_t>(i)}, 1, "b");
        in_flight_batch* b = nullptr;
        while ((b = w.next_due(t)) != nullptr && b->offsets.first != 1000u + i) w.mark_sent(*b, t);
        ASSERT_NE(b, nullptr);
        w.mark_sent(*b, t);
        w.on_acked({1000 + static_cast<std::uint64_t>(i), 1000 + static_cast<std::uint64_t>(i)}, t + milliseconds(1));
    }
    EXPECT_EQ(w.effective_timeout(), milliseconds(100));
}

}  // namespace
}  // namespace syncline::ventilator
