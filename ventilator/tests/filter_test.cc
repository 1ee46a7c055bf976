#include "ventilator/filter.h"

#include <gtest/gtest.h>

#include "ventilator/window.h"

namespace syncline::ventilator {
namespace {

TEST(record_filter, globs_and_operations) {
    record_filter f;
    EXPECT_TRUE(f.selects_all());
    ASSERT_TRUE(parse_collections("acc*, ev?nts,[xy]z", f).ok());
    ASSERT_TRUE(parse_ops("upsert", f).ok());
    EXPECT_FALSE(f.selects_all());
    EXPECT_TRUE(f.matches("accounts", op::upsert));
    EXPECT_TRUE(f.matches("events", op::upsert));
    EXPECT_TRUE(f.matches("yz", op::upsert));
    EXPECT_FALSE(f.matches("accounts", op::del));
    EXPECT_FALSE(f.matches("orders", op::upsert));
    EXPECT_FALSE(f.matches("eventss", op::upsert));
    ASSERT_TRUE(parse_ops("delete", f).ok());
    EXPECT_TRUE(f.matches("accounts", op::del));
    EXPECT_FALSE(f.matches("accounts", op::upsert));
    ASSERT_TRUE(parse_ops("upsert,delete", f).ok());
    ASSERT_TRUE(parse_collections("", f).ok());
    EXPECT_TRUE(f.selects_all());
}

TEST(record_filter, bad_input_names_what_is_wrong) {
    record_filter f;
    EXPECT_EQ(parse_collections("a,,b", f).message(), "--collections: glob 2 '' is empty");
    EXPECT_EQ(parse_collections(std::string("a\tb"), f).message(), "--collections: glob 1 'a\tb' holds a control character");
    EXPECT_EQ(parse_ops("upsert,insert", f).message(), "--ops: 'insert' is not an operation (upsert, delete)");
    EXPECT_FALSE(parse_ordering("fifo").ok());
    EXPECT_EQ(*parse_ordering("key"), ordering::key);
    EXPECT_EQ(*parse_ordering("none"), ordering::none);
}

TEST(key_lane, depends_on_collection_and_key) {
    EXPECT_EQ(key_lane("a", "k1"), key_lane("a", "k1"));
    EXPECT_NE(key_lane("a", "k1"), key_lane("b", "k1"));
    EXPECT_NE(key_lane("a", "k1"), key_lane("a", "k2"));
    EXPECT_NE(key_lane("ab", "c"), key_lane("a", "bc"));
}

// A batch that shares a lane with an older unacknowledged batch waits for its ack; batches on
// other lanes go on; a redelivery of the older one keeps the younger one waiting.
TEST(send_window, next_due_by_key_holds_a_lane_until_its_batch_is_acknowledged) {
    send_window w(window_options{});
    const auto now = clock::now();
    w.add(1, {1, 2}, 2, "b1", {10, 20});
    w.add(2, {3, 4}, 2, "b2", {20, 30});  // Shares lane 20 with batch 1.
    w.add(3, {5, 5}, 1, "b3", {40});
    auto* b = w.next_due_by_key(now);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->batch_id, 1u);
    w.mark_sent(*b, now);
    b = w.next_due_by_key(now);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->batch_id, 3u);
    w.mark_sent(*b, now);
    EXPECT_EQ(w.next_due_by_key(now), nullptr);
    w.on_redeliver({1, 2}, now);
    b = w.next_due_by_key(now);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->batch_id, 1u);
    w.mark_sent(*b, now);
    EXPECT_EQ(w.next_due_by_key(now), nullptr);
    w.on_acked({1, 2});
    b = w.next_due_by_key(now);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->batch_id, 2u);
}

}  // namespace
}  // namespace syncline::ventilator
