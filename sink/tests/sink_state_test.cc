// sink_state: what the sink does with each message, against a real state store (and a real
// change log for dead letters), without sockets.
#include "sink/sink_state.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <memory>
#include <vector>

#include "tests/support/harness.h"

namespace syncline::sink {
namespace {

namespace support = syncline::testing;
using support::temp_dir;

wire::range r(std::uint64_t first, std::uint64_t last) { return {first, last}; }

wire::ack ack(wire::range offsets, std::vector<wire::record_failure> failures = {}) {
    wire::ack a;
    a.pipeline = "p1";
    a.batch_id = offsets.first;
    a.offsets = offsets;
    a.attempt = 1;
    a.worker = "w1";
    a.failures = std::move(failures);
    return a;
}

class sink_state_test : public ::testing::Test {
protected:
    sink_state_test() {
        options.state = dir / "state";
        options.pipeline = "p1";
        options.sync = false;
    }

    // A state over a fresh (or the existing) state store of pipeline p1.
    std::unique_ptr<sink_state> open_state() {
        auto opened = store::state_store::open({options.state, options.pipeline, options.sync});
        EXPECT_TRUE(opened.ok()) << opened.get_status().to_string();
        auto committed = opened.value()->committed();
        EXPECT_TRUE(committed.ok());
        return std::make_unique<sink_state>(options, std::move(opened.value()), committed->value_or(0), m);
    }

    std::vector<store::dead_letter> dead_letters() {
        auto reader = store::state_store::open_reader(options.state, options.pipeline);
        EXPECT_TRUE(reader.ok()) << reader.get_status().to_string();
        auto all = reader.value()->dead_letters();
        EXPECT_TRUE(all.ok());
        return *all;
    }

    // A change log holding `count` records at offsets 1..count.
    void make_log(std::uint64_t count) {
        options.log = dir / "log";
        auto log = store::change_log::open_writer({options.log});
        ASSERT_TRUE(log.ok()) << log.get_status().to_string();
        support::append_sample(**log, count, 10, 7);
    }

    temp_dir dir;
    sink_options options;
    metrics::registry registry;
    sink_metrics m{registry};
};

TEST_F(sink_state_test, an_announced_ack_commits_the_watermark_and_tells_the_ventilator) {
    auto state = open_state();
    ASSERT_TRUE(state->on_sent({"p1", {r(1, 10)}}).ok());
    ASSERT_TRUE(state->on_ack(ack(r(1, 10))).ok());
    ASSERT_TRUE(state->commit().ok());
    EXPECT_EQ(state->committed(), 10u);
    EXPECT_EQ(support::committed(options.state, "p1"), 10u);
    auto news = state->take_news(false);
    ASSERT_TRUE(news.has_value());
    EXPECT_EQ(news->committed, 10u);
    EXPECT_EQ(news->pipeline, "p1");
    ASSERT_EQ(news->acked.size(), 1u);
    EXPECT_EQ(news->acked[0], r(1, 10));
    EXPECT_FALSE(state->take_news(false).has_value());     // Nothing new since.
    EXPECT_TRUE(state->take_news(true).has_value());       // A hello forces an answer.
    EXPECT_EQ(m.commits.value(), 1u);
    EXPECT_EQ(m.batches_acked.value(), 1u);
    EXPECT_EQ(m.records_acked.value(), 10u);
}

TEST_F(sink_state_test, an_ack_never_announced_commits_nothing) {
    auto state = open_state();
    ASSERT_TRUE(state->on_ack(ack(r(1, 10))).ok());
    ASSERT_TRUE(state->commit().ok());
    EXPECT_EQ(state->committed(), 0u);
    EXPECT_EQ(m.batches_acked.value(), 0u);
    // An announcement for another range does not release it either.
    ASSERT_TRUE(state->on_sent({"p1", {r(1, 9)}}).ok());
    ASSERT_TRUE(state->commit().ok());
    EXPECT_EQ(state->committed(), 0u);
}

TEST_F(sink_state_test, an_ack_before_its_announcement_is_held_and_counted_once_announced) {
    auto state = open_state();
    ASSERT_TRUE(state->on_ack(ack(r(1, 5))).ok());
    ASSERT_TRUE(state->on_sent({"p1", {r(1, 5)}}).ok());
    ASSERT_TRUE(state->commit().ok());
    EXPECT_EQ(state->committed(), 5u);
    EXPECT_EQ(m.batches_acked.value(), 1u);
}

TEST_F(sink_state_test, the_watermark_waits_for_a_gap_to_fill) {
    auto state = open_state();
    ASSERT_TRUE(state->on_sent({"p1", {r(1, 5), r(6, 10)}}).ok());
    ASSERT_TRUE(state->on_ack(ack(r(6, 10))).ok());
    ASSERT_TRUE(state->commit().ok());
    EXPECT_EQ(state->committed(), 0u);
    EXPECT_EQ(m.pending_ranges.value(), 0.0);  // Nothing committed: the gauge is set on commits only.
    ASSERT_TRUE(state->on_ack(ack(r(1, 5))).ok());
    ASSERT_TRUE(state->commit().ok());
    EXPECT_EQ(state->committed(), 10u);
}

TEST_F(sink_state_test, nacks_and_receipts_become_news_for_the_ventilator) {
    auto state = open_state();
    wire::nack n{"p1", 1, r(1, 5), 2, "w1", "target down"};
    state->on_nack(n);
    state->on_receipt(wire::receipt{"p1", 2, r(6, 10), 1, "w2"});
    auto news = state->take_news(false);
    ASSERT_TRUE(news.has_value());
    ASSERT_EQ(news->redeliver.size(), 1u);
    EXPECT_EQ(news->redeliver[0], r(1, 5));
    ASSERT_EQ(news->received.size(), 1u);
    EXPECT_EQ(news->received[0].worker, "w2");
    EXPECT_EQ(m.batches_nacked.value(), 1u);
    EXPECT_EQ(m.receipts.value(), 1u);
}

TEST_F(sink_state_test, the_committed_watermark_survives_a_restart) {
    {
        auto state = open_state();
        ASSERT_TRUE(state->on_sent({"p1", {r(1, 7)}}).ok());
        ASSERT_TRUE(state->on_ack(ack(r(1, 7))).ok());
        ASSERT_TRUE(state->commit().ok());
    }
    auto again = open_state();
    EXPECT_EQ(again->committed(), 7u);
    // Ranges at or below the watermark are old news: no announcement needed, nothing reported.
    ASSERT_TRUE(again->on_ack(ack(r(1, 7))).ok());
    auto news = again->take_news(false);
    EXPECT_FALSE(news.has_value());
}

TEST_F(sink_state_test, policy_stop_keeps_the_watermark_below_the_refused_record) {
    options.on_failure = failure_policy::stop;
    auto state = open_state();
    ASSERT_TRUE(state->on_sent({"p1", {r(1, 10)}}).ok());
    ASSERT_TRUE(state->on_ack(ack(r(1, 10), {{4, "refused"}})).ok());
    ASSERT_TRUE(state->commit().ok());
    EXPECT_EQ(state->committed(), 3u);
    EXPECT_TRUE(dead_letters().empty());
}

TEST_F(sink_state_test, a_dead_letter_keeps_the_record_as_the_log_stores_it) {
    make_log(10);
    auto state = open_state();
    ASSERT_TRUE(state->on_sent({"p1", {r(1, 10)}}).ok());
    ASSERT_TRUE(state->on_ack(ack(r(1, 10), {{4, "refused"}})).ok());
    ASSERT_TRUE(state->commit().ok());
    EXPECT_EQ(state->committed(), 10u);
    auto dead = dead_letters();
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].offset, 4u);
    EXPECT_EQ(dead[0].error, "refused");
    std::string stored;
    auto log = store::change_log::open_reader(options.log);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->scan(4, 1, 1, [&](std::uint64_t, std::string_view bytes) {
        stored.assign(bytes);
        return false;
    }).ok());
    EXPECT_FALSE(stored.empty());
    EXPECT_EQ(dead[0].record, stored);
    EXPECT_EQ(m.records_dead_lettered.value(), 1u);
}

// A log that fails to read the refused record must not yield a dead letter without its record
// (once the log is trimmed, the record would be gone): the error comes back, nothing commits.
TEST_F(sink_state_test, a_log_read_failure_for_a_dead_letter_is_an_error_not_an_empty_record) {
    make_log(10);
    {
        // Damage the log: offset 4's key replaced by a 9-byte key (scan reports corruption).
        std::vector<std::string> names;
        ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), options.log, &names).ok());
        std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
        for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
        std::vector<rocksdb::ColumnFamilyHandle*> handles;
        rocksdb::DB* raw = nullptr;
        ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), options.log, cfs, &handles, &raw).ok());
        std::unique_ptr<rocksdb::DB> db(raw);
        rocksdb::ColumnFamilyHandle* log_cf = nullptr;
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i] == "log") log_cf = handles[i];
        ASSERT_NE(log_cf, nullptr);
        const std::string key4("\0\0\0\0\0\0\0\4", 8);
        ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), log_cf, key4).ok());
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), log_cf, key4 + "x", "junk").ok());
        for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    }
    auto state = open_state();
    ASSERT_TRUE(state->on_sent({"p1", {r(1, 10)}}).ok());
    const status acked = state->on_ack(ack(r(1, 10), {{4, "refused"}}));
    EXPECT_FALSE(acked.ok());
    EXPECT_NE(acked.message().find("offset 4"), std::string::npos) << acked.to_string();
    ASSERT_TRUE(state->commit().ok());
    EXPECT_EQ(state->committed(), 0u);
    EXPECT_TRUE(dead_letters().empty());
}

}  // namespace
}  // namespace syncline::sink
