#include "cli/offsets.h"

#include <gtest/gtest.h>

namespace syncline::cli {
namespace {

reset_request to_offset(std::uint64_t n) { return {reset_kind::to_offset, n, 0, 0}; }
reset_request shift_by(std::int64_t k) { return {reset_kind::shift_by, 0, k, 0}; }
reset_request simple(reset_kind k) { return {k, 0, 0, 0}; }

const log_bounds log_1_to_5000{1, 5000, std::nullopt};

TEST(offsets_plan, to_offset_means_resume_at_that_offset) {
    auto p = plan_offsets(1000, to_offset(500), log_1_to_5000);
    ASSERT_TRUE(p.ok()) << p.get_status().message();
    EXPECT_EQ(p->new_committed, 499u);
    EXPECT_EQ(p->resume_at(), 500u);
    EXPECT_EQ(p->replayed, 501u);  // 500..1000 again.
    EXPECT_EQ(p->skipped, 0u);
    const std::string text = describe_plan("orders", *p, log_1_to_5000);
    EXPECT_NE(text.find("resume at offset 500"), std::string::npos) << text;
    EXPECT_NE(text.find("replays 501 records (offsets 500..1000"), std::string::npos) << text;
    EXPECT_NE(text.find("1000 (resumes at offset 1001)"), std::string::npos) << text;
}

TEST(offsets_plan, to_offset_forward_skips) {
    auto p = plan_offsets(1000, to_offset(1201), log_1_to_5000);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->new_committed, 1200u);
    EXPECT_EQ(p->skipped, 200u);
    EXPECT_EQ(p->replayed, 0u);
    EXPECT_NE(describe_plan("p", *p, log_1_to_5000).find("skips 200 records (offsets 1001..1200"), std::string::npos);
}

TEST(offsets_plan, to_offset_bounds) {
    EXPECT_FALSE(plan_offsets(1000, to_offset(0), log_1_to_5000).ok());
    EXPECT_TRUE(plan_offsets(1000, to_offset(5001), log_1_to_5000).ok());  // Resume after the last: fine.
    auto past = plan_offsets(1000, to_offset(5002), log_1_to_5000);
    ASSERT_FALSE(past.ok());
    EXPECT_NE(past.get_status().message().find("past the end of the log (last offset 5000)"), std::string::npos);
    // Without a log nothing can be checked.
    auto blind = plan_offsets(1000, to_offset(9999), std::nullopt);
    ASSERT_TRUE(blind.ok());
    EXPECT_EQ(blind->new_committed, 9998u);
    EXPECT_FALSE(blind->replayed.has_value());
}

TEST(offsets_plan, to_offset_below_retention_notes_it) {
    const log_bounds trimmed{101, 5000, std::nullopt};
    auto p = plan_offsets(1000, to_offset(1), trimmed);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->new_committed, 0u);
    EXPECT_EQ(p->replayed, 900u);  // Only 101..1000 still exist.
    EXPECT_NE(p->note.find("removed by retention"), std::string::npos);
}

TEST(offsets_plan, shift_by) {
    auto back = plan_offsets(1000, shift_by(-100), log_1_to_5000);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->new_committed, 900u);
    EXPECT_EQ(back->replayed, 100u);
    auto fwd = plan_offsets(1000, shift_by(+50), log_1_to_5000);
    ASSERT_TRUE(fwd.ok());
    EXPECT_EQ(fwd->new_committed, 1050u);
    EXPECT_EQ(fwd->skipped, 50u);
    auto to_zero = plan_offsets(1000, shift_by(-1000), log_1_to_5000);
    ASSERT_TRUE(to_zero.ok());
    EXPECT_EQ(to_zero->new_committed, 0u);

    auto below = plan_offsets(1000, shift_by(-1001), log_1_to_5000);
    ASSERT_FALSE(below.ok());
    EXPECT_NE(below.get_status().message().find("below 0"), std::string::npos);
    EXPECT_FALSE(plan_offsets(1000, shift_by(INT64_MIN), log_1_to_5000).ok());
    auto past = plan_offsets(1000, shift_by(4001), log_1_to_5000);
    ASSERT_FALSE(past.ok());
    EXPECT_NE(past.get_status().message().find("past the end of the log"), std::string::npos);
    auto never = plan_offsets(std::nullopt, shift_by(-5), log_1_to_5000);
    ASSERT_FALSE(never.ok());
    EXPECT_NE(never.get_status().message().find("never committed"), std::string::npos);
}

TEST(offsets_plan, earliest_and_latest) {
    auto e = plan_offsets(1000, simple(reset_kind::to_earliest), log_1_to_5000);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->new_committed, 0u);
    EXPECT_EQ(e->replayed, 1000u);
    auto e_trimmed = plan_offsets(1000, simple(reset_kind::to_earliest), log_bounds{301, 5000, std::nullopt});
    ASSERT_TRUE(e_trimmed.ok());
    EXPECT_EQ(e_trimmed->new_committed, 300u);
    auto e_nolog = plan_offsets(1000, simple(reset_kind::to_earliest), std::nullopt);
    ASSERT_TRUE(e_nolog.ok());
    EXPECT_EQ(e_nolog->new_committed, 0u);

    auto l = plan_offsets(1000, simple(reset_kind::to_latest), log_1_to_5000);
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(l->new_committed, 5000u);
    EXPECT_EQ(l->skipped, 4000u);
    EXPECT_FALSE(plan_offsets(1000, simple(reset_kind::to_latest), std::nullopt).ok());

    auto never = plan_offsets(std::nullopt, simple(reset_kind::to_latest), log_1_to_5000);
    ASSERT_TRUE(never.ok());
    EXPECT_EQ(never->skipped, 5000u);
    EXPECT_NE(describe_plan("p", *never, log_1_to_5000).find("never committed"), std::string::npos);
}

TEST(offsets_plan, to_time) {
    reset_request r{reset_kind::to_time, 0, 0, 1795428000000};
    auto p = plan_offsets(4000, r, log_bounds{1, 5000, 2500});
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->new_committed, 2499u);
    EXPECT_EQ(p->replayed, 1501u);
    auto after_all = plan_offsets(4000, r, log_bounds{1, 5000, std::nullopt});
    ASSERT_TRUE(after_all.ok());
    EXPECT_EQ(after_all->new_committed, 5000u);
    EXPECT_NE(after_all->note.find("no record was appended at or after 2026-11-23T10:00:00.000Z"), std::string::npos);
    EXPECT_FALSE(plan_offsets(4000, r, std::nullopt).ok());
}

TEST(offsets_plan, unchanged) {
    auto p = plan_offsets(1000, to_offset(1001), log_1_to_5000);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->new_committed, 1000u);
    EXPECT_NE(describe_plan("p", *p, log_1_to_5000).find("none (the committed offset does not change)"), std::string::npos);
}

}  // namespace
}  // namespace syncline::cli
