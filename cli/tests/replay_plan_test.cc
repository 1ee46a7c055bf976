#include "cli/replay.h"

#include <gtest/gtest.h>

namespace syncline::cli {
namespace {

replay_request from(std::uint64_t n, std::optional<std::uint64_t> to = std::nullopt) {
    replay_request r;
    r.from = n;
    r.to = to;
    return r;
}

TEST(replay_plan, from_defaults_to_the_last_offset) {
    auto r = plan_replay(from(501), 1, 2'000);
    ASSERT_TRUE(r.ok()) << r.get_status().message();
    EXPECT_EQ(r->first, 501u);
    EXPECT_EQ(r->last, 2'000u);
    EXPECT_EQ(r->records(), 1'500u);
    r = plan_replay(from(501, 700), 1, 2'000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->last, 700u);
    r = plan_replay(from(700, 700), 1, 2'000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->records(), 1u);
}

TEST(replay_plan, since_uses_the_offset_found_for_the_time) {
    replay_request req;
    req.since = true;
    req.since_offset = 1'234;
    auto r = plan_replay(req, 1, 2'000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->first, 1'234u);
    req.since_offset.reset();
    r = plan_replay(req, 1, 2'000);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.get_status().message().find("no record was appended at or after"), std::string::npos);
}

TEST(replay_plan, impossible_ranges_are_refused_with_the_reason) {
    auto expect_invalid = [](const result<replay_range>& r, const std::string& text) {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.get_status().code(), errc::invalid_argument);
        EXPECT_NE(r.get_status().message().find(text), std::string::npos) << r.get_status().message();
    };
    expect_invalid(plan_replay(from(1), 0, 0), "the log is empty");
    expect_invalid(plan_replay(from(0), 1, 10), "--from 0");
    expect_invalid(plan_replay(from(5, 11), 1, 10), "--to 11 is past the end of the log (last offset 10)");
    expect_invalid(plan_replay(from(8, 7), 1, 10), "starts at offset 8, after its end 7");
    expect_invalid(plan_replay(replay_request{}, 1, 10), "--from N or --since");
}

TEST(replay_plan, trimmed_offsets_name_the_gap) {
    auto r = plan_replay(from(100), 501, 1'000);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.get_status().code(), errc::not_found);
    EXPECT_NE(r.get_status().message().find("offsets 100..500 were trimmed from the log (it now starts at offset 501)"),
              std::string::npos)
        << r.get_status().message();
    EXPECT_TRUE(plan_replay(from(501), 501, 1'000).ok());
}

TEST(replay_plan, temporary_pipeline_name) { EXPECT_EQ(replay_pipeline_name("orders"), "orders.replay"); }

}  // namespace
}  // namespace syncline::cli
