#include "cli/display.h"

#include <gtest/gtest.h>

namespace syncline::cli {
namespace {

TEST(display, escape_keeps_utf8_and_escapes_controls) {
    EXPECT_EQ(escape_for_display("plain"), "plain");
    EXPECT_EQ(escape_for_display("a\nb\tc\\"), "a\\nb\\tc\\\\");
    EXPECT_EQ(escape_for_display(std::string("\x00\x1b[31m", 6)), "\\x00\\x1b[31m");
    EXPECT_EQ(escape_for_display("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
    EXPECT_EQ(escape_for_display("\xff\xc3"), "\\xff\\xc3");       // Invalid and truncated UTF-8.
    EXPECT_EQ(escape_for_display("\xc2\x85"), "\\xc2\\x85");       // C1 control (NEL).
    EXPECT_EQ(escape_for_display("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // Surrogate.
}

TEST(display, escape_truncates_by_characters) {
    EXPECT_EQ(escape_for_display("abcdef", 4), "abcd...");
    EXPECT_EQ(escape_for_display("abcd", 4), "abcd");
    EXPECT_EQ(escape_for_display("\xc3\xa9\xc3\xa9\xc3\xa9", 2), "\xc3\xa9\xc3\xa9...");  // Never splits a character.
    EXPECT_EQ(escape_for_display("ab\n", 3), "ab...");  // An escape that does not fit is cut whole.
}

TEST(display, human_bytes) {
    EXPECT_EQ(human_bytes(0), "0 B");
    EXPECT_EQ(human_bytes(1023), "1023 B");
    EXPECT_EQ(human_bytes(1536), "1.5 KiB");
    EXPECT_EQ(human_bytes(5ull << 20), "5.0 MiB");
    EXPECT_EQ(human_bytes(3ull << 30), "3.0 GiB");
}

TEST(display, iso_time_round_trips) {
    EXPECT_EQ(format_iso_time(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_iso_time(1795428000123), "2026-11-23T10:00:00.123Z");
    EXPECT_EQ(format_iso_time(-1), "1969-12-31T23:59:59.999Z");
    auto t = parse_time("2026-11-23T10:00:00.123Z");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, 1795428000123);
}

TEST(display, parse_time_forms) {
    auto ms = [](std::string_view s) {
        auto r = parse_time(s);
        EXPECT_TRUE(r.ok()) << s << ": " << r.get_status().message();
        return r.ok() ? *r : -1;
    };
    EXPECT_EQ(ms("2026-11-23T10:00:00Z"), 1795428000000);
    EXPECT_EQ(ms("2026-11-23t10:00:00z"), 1795428000000);
    EXPECT_EQ(ms("2026-11-23 10:00:00Z"), 1795428000000);
    EXPECT_EQ(ms("2026-11-23T10:00Z"), 1795428000000);
    EXPECT_EQ(ms("2026-11-23T12:00:00+02:00"), 1795428000000);
    EXPECT_EQ(ms("2026-11-23T05:30:00-0430"), 1795428000000);
    EXPECT_EQ(ms("2026-11-23T10:00:00.5Z"), 1795428000500);
    EXPECT_EQ(ms("2026-11-23T10:00:00.123456Z"), 1795428000123);
    EXPECT_EQ(ms("2026-11-23"), 1795392000000);
    EXPECT_EQ(ms("1795428000000"), 1795428000000);
    EXPECT_EQ(ms("2024-02-29T00:00:00Z"), 1709164800000);
}

TEST(display, parse_time_errors) {
    auto err = [](std::string_view s) {
        auto r = parse_time(s);
        EXPECT_FALSE(r.ok()) << s;
        return r.ok() ? std::string() : r.get_status().message();
    };
    EXPECT_NE(err("2026-11-23T10:00:00").find("missing time zone"), std::string::npos);
    EXPECT_NE(err("2026-13-01").find("month out of range"), std::string::npos);
    EXPECT_NE(err("2025-02-29").find("day out of range"), std::string::npos);
    EXPECT_NE(err("2026-11-23T25:00:00Z").find("time out of range"), std::string::npos);
    EXPECT_NE(err("yesterday").find("expected a date"), std::string::npos);
    EXPECT_NE(err("2026-11-23T10:00:00Zjunk").find("unexpected characters"), std::string::npos);
    EXPECT_NE(err("").find("2026-11-23T10:00:00Z"), std::string::npos);  // The message shows the format.
}

TEST(display, integers) {
    std::uint64_t u;
    std::int64_t i;
    EXPECT_TRUE(parse_u64("18446744073709551615", u));
    EXPECT_FALSE(parse_u64("18446744073709551616", u));
    EXPECT_FALSE(parse_u64("-1", u));
    EXPECT_FALSE(parse_u64("1x", u));
    EXPECT_FALSE(parse_u64("", u));
    EXPECT_TRUE(parse_i64("-5", i));
    EXPECT_EQ(i, -5);
    EXPECT_TRUE(parse_i64("+5", i));
    EXPECT_EQ(i, 5);
    EXPECT_FALSE(parse_i64("++5", i));
}

}  // namespace
}  // namespace syncline::cli
