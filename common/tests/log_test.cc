#include "common/log.h"
#include "common/cli_options.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <regex>
#include <sstream>
#include <vector>
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

namespace syncline {
namespace {

// JSON lines: every line parses on its own and carries ts, level, process, pipeline, msg, fields.
class json_log_test : public ::testing::Test {
protected:
    void SetUp() override {
        set_log_format(log_format::json);
        set_log_process("syncline-test");
        set_log_pipeline("orders");
    }
    void TearDown() override {
        set_log_format(log_format::text);
        set_log_pipeline("");
        set_log_level(log_level::info);
    }
    static nlohmann::json line_of(log_level level, std::string_view msg, log_fields fields = {}) {
        const std::string line = format_log_line(level, "worker", msg, std::span<const log_field>(fields.begin(), fields.size()));
        EXPECT_TRUE(line.ends_with("\n"));
        EXPECT_EQ(line.find('\n'), line.size() - 1) << "one event, one line: " << line;
        return nlohmann::json::parse(line);
    }
};

TEST_F(json_log_test, carries_every_key_and_the_fields_given) {
    const auto j = line_of(log_level::warn, "target unavailable, retrying",
                           {{"attempt", 3}, {"delay_ms", 250}, {"uri", "sqlite:/x.db"}});
    EXPECT_TRUE(std::regex_match(j.at("ts").get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    EXPECT_EQ(j.at("level"), "warn");
    EXPECT_EQ(j.at("process"), "syncline-test");
    EXPECT_EQ(j.at("component"), "worker");
    EXPECT_EQ(j.at("pipeline"), "orders");
    EXPECT_EQ(j.at("msg"), "target unavailable, retrying");
    EXPECT_EQ(j.at("fields").at("attempt"), 3);  // Numbers stay numbers.
    EXPECT_EQ(j.at("fields").at("delay_ms"), 250);
    EXPECT_EQ(j.at("fields").at("uri"), "sqlite:/x.db");
    EXPECT_GT(j.at("pid").get<int>(), 0);
}

// Fields are never parsed back out of text: a reason with spaces (the sink's nack line) kept
// worker, attempt and reason only while they were words at the message's end; as fields they
// survive anything the value holds.
TEST_F(json_log_test, a_value_with_spaces_quotes_or_equals_keeps_every_field) {
    const std::string reason = "target unavailable: lock wait timeout exceeded; try restarting a=b \"x\"";
    const auto j = line_of(log_level::warn, "nack", {{"range", "1..10"}, {"worker", "w 1"}, {"attempt", 2}, {"reason", reason}});
    EXPECT_EQ(j.at("msg"), "nack");
    EXPECT_EQ(j.at("fields").at("range"), "1..10");
    EXPECT_EQ(j.at("fields").at("worker"), "w 1");
    EXPECT_EQ(j.at("fields").at("attempt"), 2);
    EXPECT_EQ(j.at("fields").at("reason"), reason);
    // Text that merely looks like fields stays text.
    const auto text_only = line_of(log_level::info, "committed=5 a=b");
    EXPECT_EQ(text_only.at("msg"), "committed=5 a=b");
    EXPECT_TRUE(text_only.at("fields").empty());
    EXPECT_EQ(line_of(log_level::info, "x", {{"code", "007"}}).at("fields").at("code"), "007");  // Not a plain number.
}

TEST(log, text_lines_write_fields_as_quoted_key_values) {
    const std::string line = format_log_line(log_level::warn, "sink", "nack",
                                             std::initializer_list<log_field>{{"worker", "w1"}, {"reason", "disk \"full\" now"}, {"n", 3}});
    EXPECT_TRUE(line.ends_with(" warn sink nack worker=w1 reason=\"disk \\\"full\\\" now\" n=3\n")) << line;
}

TEST_F(json_log_test, hostile_text_stays_one_parseable_line) {
    const std::string hostile = std::string("bad frame \x01\x7f quote\" back\\slash\nnext line \xff\xfe utf8 \xc3\xa9 ") +
                                "tab\there pipeline=\xc3";
    const auto j = line_of(log_level::warn, hostile);
    const std::string text = j.at("msg").get<std::string>() + j.at("fields").dump();
    EXPECT_NE(text.find("quote\" back\\slash\nnext line"), std::string::npos) << text;
    EXPECT_NE(text.find("\xc3\xa9"), std::string::npos);  // Valid UTF-8 passes through.
    EXPECT_NE(text.find("\xef\xbf\xbd"), std::string::npos);  // Invalid bytes become U+FFFD.
}

TEST_F(json_log_test, logger_writes_json_lines_to_stderr) {
    logger log("sink");
    ::testing::internal::CaptureStderr();
    log.info("started", {{"committed", 12}});
    log.debug("hidden at info");
    log.error("cannot commit: io error");
    const std::string out = ::testing::internal::GetCapturedStderr();
    std::istringstream lines(out);
    std::vector<nlohmann::json> parsed;
    for (std::string line; std::getline(lines, line);) parsed.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(parsed.size(), 2u) << out;
    EXPECT_EQ(parsed[0].at("fields").at("committed"), 12);
    EXPECT_EQ(parsed[1].at("level"), "error");
    EXPECT_EQ(parsed[1].at("msg"), "cannot commit: io error");
}

TEST(log, text_lines_name_the_pipeline_once) {
    set_log_pipeline("orders");
    const std::string tagged = format_log_line(log_level::info, "sink", "", std::initializer_list<log_field>{{"committed", 5}});
    const std::string already = format_log_line(log_level::info, "sink", "started", std::initializer_list<log_field>{{"pipeline", "orders"}});
    set_log_pipeline("");
    EXPECT_TRUE(tagged.ends_with(" info sink pipeline=orders committed=5\n")) << tagged;
    EXPECT_TRUE(already.ends_with(" info sink started pipeline=orders\n")) << already;
}

TEST(log, parse_log_format) {
    log_format f = log_format::text;
    EXPECT_TRUE(parse_log_format("json", f));
    EXPECT_EQ(f, log_format::json);
    EXPECT_TRUE(parse_log_format("text", f));
    EXPECT_EQ(f, log_format::text);
    EXPECT_FALSE(parse_log_format("JSON", f));
}

}  // namespace
}  // namespace syncline

namespace syncline {
namespace {

// Issue 13 item 11: one redaction for every surface.
TEST(log, remembered_secrets_are_scrubbed_from_every_line_and_text) {
    cli::remember_secrets("target", "postgresql://u:Pl%40nted9@db.example:5432/x?password=QueryS3cret");
    const std::string line = format_log_line(log_level::warn, "t", "cannot connect with Pl@nted9 or Pl%40nted9, QueryS3cret");
    EXPECT_EQ(line.find("nted9"), std::string::npos) << line;
    EXPECT_EQ(line.find("QueryS3cret"), std::string::npos) << line;
    EXPECT_NE(line.find("cannot connect with *** or ***, ***"), std::string::npos) << line;
    EXPECT_EQ(scrub_secrets("reason: u:Pl%40nted9@db"), "reason: u:***@db");
    const std::string with_fields = format_log_line(log_level::info, "t", "opening", {{"reason", "auth Pl@nted9 failed"}});
    EXPECT_EQ(with_fields.find("nted9"), std::string::npos) << with_fields;
    EXPECT_EQ(scrub_secrets("nothing secret"), "nothing secret");
}

}  // namespace
}  // namespace syncline
