#include "cli/trim.h"

#include <gtest/gtest.h>

namespace syncline::cli {
namespace {

trim_request log_1_to_10000(std::vector<trim_pipeline> pipelines, std::optional<std::uint64_t> force = std::nullopt) {
    return {1, 10'000, std::move(pipelines), force};
}

TEST(trim_plan, trims_below_the_lowest_committed_offset_plus_one) {
    const auto request = log_1_to_10000({{"fast", 9'000}, {"slow", 4'000}, {"mid", 6'000}});
    auto p = plan_trim(request);
    ASSERT_TRUE(p.ok()) << p.get_status().message();
    EXPECT_EQ(p->below, 4'001u);  // slow resumes at 4001: it must stay.
    EXPECT_EQ(p->records, 4'000u);
    EXPECT_EQ(p->limited_by, "pipeline slow");
    const std::string text = describe_trim_plan(request, *p);
    EXPECT_NE(text.find("delete offsets below 4001 (set by pipeline slow)"), std::string::npos) << text;
    EXPECT_NE(text.find("deletes 4000 records (offsets 1..4000); 6000 remain"), std::string::npos) << text;
    EXPECT_NE(text.find("committed 9000"), std::string::npos) << text;
}

TEST(trim_plan, already_trimmed_log_counts_only_what_is_stored) {
    trim_request request{3'001, 10'000, {{"a", 5'000}}, std::nullopt};
    auto p = plan_trim(request);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->below, 5'001u);
    EXPECT_EQ(p->records, 2'000u);  // 3001..5000.
    request.pipelines = {{"a", 2'000}};
    p = plan_trim(request);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(p->deletes_nothing());
    EXPECT_NE(describe_trim_plan(request, *p).find("nothing to delete"), std::string::npos);
}

TEST(trim_plan, everything_committed_trims_the_whole_log_but_never_past_its_end) {
    auto p = plan_trim(log_1_to_10000({{"a", 10'000}}));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->below, 10'001u);
    EXPECT_EQ(p->records, 10'000u);
    // A committed offset past the log's end (offsets set --to-offset past it) trims no further.
    p = plan_trim(log_1_to_10000({{"a", 50'000}}));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->below, 10'001u);
}

TEST(trim_plan, a_pipeline_that_never_committed_is_named_and_blocks) {
    auto p = plan_trim(log_1_to_10000({{"a", 5'000}, {"fresh", std::nullopt}, {"new2", std::nullopt}}));
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.get_status().code(), errc::invalid_argument);
    EXPECT_NE(p.get_status().message().find("pipelines fresh, new2 have never committed"), std::string::npos)
        << p.get_status().message();
    EXPECT_NE(p.get_status().message().find("--force-below"), std::string::npos);
}

TEST(trim_plan, no_pipelines_blocks_without_force) {
    auto p = plan_trim(log_1_to_10000({}));
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.get_status().message().find("no pipeline has state"), std::string::npos);
    p = plan_trim(log_1_to_10000({}, 2'501));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->below, 2'501u);
    EXPECT_EQ(p->records, 2'500u);
    EXPECT_EQ(p->limited_by, "--force-below");
}

TEST(trim_plan, force_below_never_passes_a_committed_pipeline) {
    const auto request = log_1_to_10000({{"a", 3'000}, {"fresh", std::nullopt}}, 8'000);
    auto p = plan_trim(request);
    ASSERT_TRUE(p.ok()) << p.get_status().message();
    EXPECT_EQ(p->below, 3'001u);
    EXPECT_EQ(p->limited_by, "pipeline a");
    EXPECT_EQ(p->never_committed, std::vector<std::string>{"fresh"});
    EXPECT_NE(describe_trim_plan(request, *p).find("never committed (ignored: --force-below)"), std::string::npos);
    p = plan_trim(log_1_to_10000({{"a", 3'000}}, 1'001));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->below, 1'001u);
    EXPECT_EQ(p->records, 1'000u);
}

TEST(trim_plan, empty_log_deletes_nothing) {
    trim_request request{0, 0, {{"a", std::nullopt}}, 100};
    auto p = plan_trim(request);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(p->deletes_nothing());
    EXPECT_EQ(p->below, 1u);
}

}  // namespace
}  // namespace syncline::cli

namespace syncline::cli {
namespace {

TEST(trim_plan, never_passes_a_dead_letter_that_holds_no_copy_even_with_force_below) {
    trim_request request;
    request.log_first = 1;
    request.log_last = 10'000;
    request.pipelines = {{"a", 9'000, 4'000}, {"b", 8'000, std::nullopt}};
    auto p = plan_trim(request);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->below, 4'000u);
    EXPECT_NE(p->limited_by.find("dead letter 4000 of pipeline a"), std::string::npos) << p->limited_by;
    request.force_below = 9'000;
    p = plan_trim(request);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->below, 4'000u);
}

}  // namespace
}  // namespace syncline::cli
