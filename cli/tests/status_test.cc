#include "cli/status.h"

#include <gtest/gtest.h>

namespace syncline::cli {
namespace {

using std::chrono::seconds;

pipeline_observation running_at(double t, std::uint64_t committed, std::uint64_t log_last) {
    pipeline_observation o;
    o.pipeline = "orders";
    o.running = true;
    o.ventilator_scraped = true;
    o.taken_at = t;
    o.committed = committed;
    o.log_last = log_last;
    return o;
}

TEST(status, rate_and_eta_account_for_appends) {
    const auto a = running_at(10, 1000, 5000), b = running_at(12, 3000, 6000);
    EXPECT_EQ(commit_rate(a, b), 1000.0);
    EXPECT_EQ(append_rate(a, b), 500.0);
    EXPECT_EQ(b.lag_records(), 3000u);
    // Net gain 500 records/s on a lag of 3000: 6 s.
    EXPECT_EQ(eta_seconds(b.lag_records(), 1000, 500), 6.0);
    EXPECT_EQ(eta_seconds(0, 0, 0), 0.0);
    EXPECT_EQ(eta_seconds(10, 100, 100), std::nullopt);  // Not gaining on the log.
    EXPECT_EQ(commit_rate(b, a), std::nullopt);           // No forward interval.
    // A rewind between two looks is no negative rate.
    EXPECT_EQ(commit_rate(running_at(1, 500, 900), running_at(2, 100, 900)), 0.0);
    pipeline_observation unknown_log = b;
    unknown_log.log_last.reset();
    EXPECT_EQ(unknown_log.lag_records(), 0u);
    EXPECT_EQ(append_rate(a, unknown_log), std::nullopt);
}

TEST(status, verdict_names_the_offset_and_the_worker_holding_it) {
    auto o = running_at(0, 812'000, 900'000);
    o.in_flight = 4;
    o.oldest_unacked = 812'001;
    o.oldest_attempt = 3;
    o.oldest_holder = "w3";
    o.stalled_seconds = 12;
    EXPECT_EQ(judge(o, seconds(30)).state, health_state::catching_up);
    o.stalled_seconds = 42;
    const verdict v = judge(o, seconds(30));
    EXPECT_TRUE(v.stalled());
    EXPECT_EQ(v.text, "in flight, no progress for 42 s: offset 812,001 held by worker w3 (attempt 3)");

    o.oldest_holder.clear();
    EXPECT_NE(judge(o, seconds(30)).text.find("offset 812,001 not confirmed by any worker (attempt 3)"),
              std::string::npos);
    o.oldest_attempt = 0;
    EXPECT_NE(judge(o, seconds(30)).text.find("not sent: no worker takes work"), std::string::npos);
    o.in_flight = 0;
    EXPECT_NE(judge(o, seconds(30)).text.find("the sink is not committing"), std::string::npos);
}

TEST(status, verdict_for_stopped_caught_up_and_unobservable_pipelines) {
    auto o = running_at(0, 100, 100);
    EXPECT_EQ(judge(o, seconds(30)).state, health_state::caught_up);
    o.ventilator_scraped = false;
    EXPECT_EQ(judge(o, seconds(30)).state, health_state::unknown);
    o.running = false;
    EXPECT_EQ(judge(o, seconds(30)).text, "stopped");
    o.log_last = 1'234'600;
    const verdict v = judge(o, seconds(30));
    EXPECT_EQ(v.state, health_state::stopped);
    EXPECT_FALSE(v.stalled());
    EXPECT_EQ(v.text, "stopped, 1,234,500 records behind the log");
}

TEST(status, formats_counts_and_durations) {
    EXPECT_EQ(with_thousands(0), "0");
    EXPECT_EQ(with_thousands(999), "999");
    EXPECT_EQ(with_thousands(812001), "812,001");
    EXPECT_EQ(with_thousands(1234567890), "1,234,567,890");
    EXPECT_EQ(human_duration(0.4), "0 s");
    EXPECT_EQ(human_duration(42), "42 s");
    EXPECT_EQ(human_duration(303), "5 min 3 s");
    EXPECT_EQ(human_duration(7800), "2 h 10 min");
    EXPECT_EQ(human_duration(3 * 86400 + 4 * 3600 + 5), "3 d 4 h");
}

}  // namespace
}  // namespace syncline::cli
