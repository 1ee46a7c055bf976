#include "common/log.h"

#include <gtest/gtest.h>

#include <regex>
#include <thread>

namespace syncline {
namespace {

TEST(log, parse_log_level) {
    log_level l = log_level::info;
    EXPECT_TRUE(parse_log_level("debug", l));
    EXPECT_EQ(l, log_level::debug);
    EXPECT_TRUE(parse_log_level("warn", l));
    EXPECT_EQ(l, log_level::warn);
    EXPECT_TRUE(parse_log_level("error", l));
    EXPECT_EQ(l, log_level::error);
    EXPECT_TRUE(parse_log_level("info", l));
    EXPECT_EQ(l, log_level::info);
    EXPECT_FALSE(parse_log_level("INFO ", l));
    EXPECT_FALSE(parse_log_level("", l));
    EXPECT_EQ(l, log_level::info);  // untouched on failure
}

TEST(log, line_format) {
    set_log_level(log_level::debug);
    logger log("ventilator");
    ::testing::internal::CaptureStderr();
    log.info("started endpoint=tcp://127.0.0.1:5557");
    log.debug("two\nlines");
    const std::string out = ::testing::internal::GetCapturedStderr();
    set_log_level(log_level::info);
    const std::regex line(
        R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info ventilator started endpoint=tcp://127\.0\.0\.1:5557\n)"
        R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z debug ventilator two\\nlines\n)");
    EXPECT_TRUE(std::regex_match(out, line)) << out;
}

TEST(log, level_filters) {
    logger log("store");
    set_log_level(log_level::warn);
    EXPECT_FALSE(log.enabled(log_level::info));
    EXPECT_TRUE(log.enabled(log_level::warn));
    EXPECT_TRUE(log.enabled(log_level::error));
    ::testing::internal::CaptureStderr();
    log.info("hidden");
    log.warn("shown");
    const std::string out = ::testing::internal::GetCapturedStderr();
    set_log_level(log_level::info);
    EXPECT_EQ(out.find("hidden"), std::string::npos);
    EXPECT_NE(out.find("warn store shown"), std::string::npos);
}

TEST(rate_limiter, allows_one_per_interval_and_counts_the_rest) {
    rate_limiter limiter(std::chrono::milliseconds(100));
    EXPECT_TRUE(limiter.allow());
    EXPECT_EQ(limiter.suppressed(), 0u);
    EXPECT_FALSE(limiter.allow());
    EXPECT_FALSE(limiter.allow());
    EXPECT_FALSE(limiter.allow());
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    EXPECT_TRUE(limiter.allow());
    EXPECT_EQ(limiter.suppressed(), 3u);
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    EXPECT_TRUE(limiter.allow());
    EXPECT_EQ(limiter.suppressed(), 0u);
}

}  // namespace
}  // namespace syncline
