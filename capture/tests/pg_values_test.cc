// capture/pg_values.h: the row encoding every capture record, snapshot row and verify --source uses.
#include "capture/pg_values.h"

#include <gtest/gtest.h>

namespace syncline::capture {
namespace {

std::string json(std::uint32_t oid, std::optional<std::string_view> text) {
    std::string out;
    append_value_json(out, {oid, text});
    return out;
}

TEST(PgValues, TypedJson) {
    EXPECT_EQ(json(23, "42"), "42");
    EXPECT_EQ(json(20, "-9223372036854775808"), "-9223372036854775808");
    EXPECT_EQ(json(1700, "12345678901234567890.000000000001"), "12345678901234567890.000000000001");
    EXPECT_EQ(json(1700, "NaN"), "\"NaN\"");
    EXPECT_EQ(json(701, "-Infinity"), "\"-Infinity\"");
    EXPECT_EQ(json(701, "1.5e-07"), "1.5e-07");
    EXPECT_EQ(json(16, "t"), "true");
    EXPECT_EQ(json(16, "f"), "false");
    EXPECT_EQ(json(25, std::nullopt), "null");
    EXPECT_EQ(json(25, "say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
    EXPECT_EQ(json(3802, "{\"a\": [1, 2]}"), "{\"a\": [1, 2]}");
    EXPECT_EQ(json(17, "\\x00ff41"), "\"AP9B\"");
    EXPECT_EQ(json(17, "\\x"), "\"\"");
    EXPECT_EQ(json(1114, "2024-05-01 12:00:00.5"), "\"2024-05-01T12:00:00.5\"");
    EXPECT_EQ(json(1184, "2024-05-01 12:00:00+00"), "\"2024-05-01T12:00:00Z\"");
    EXPECT_EQ(json(1184, "infinity"), "\"infinity\"");
    EXPECT_EQ(json(1082, "2024-05-01"), "\"2024-05-01\"");
}

TEST(PgValues, KeysAreUnambiguous) {
    column_text one[] = {{23, "7"}};
    EXPECT_EQ(encode_key(one), "7");
    column_text two[] = {{23, "7"}, {25, "a,\"b"}};
    EXPECT_EQ(encode_key(two), "[7,\"a,\\\"b\"]");
    column_text null_key[] = {{23, std::nullopt}};
    EXPECT_FALSE(encode_key(null_key));
    column_text full_identity[] = {{23, "7"}, {25, std::nullopt}};  // REPLICA IDENTITY FULL: any column may be NULL
    EXPECT_EQ(encode_key(full_identity), "[7,null]");
    column_text empty_key[] = {{25, ""}};
    EXPECT_FALSE(encode_key(empty_key));
}

TEST(PgValues, LsnAndTime) {
    EXPECT_EQ(format_lsn(0x16B374D848ull), "16/B374D848");
    EXPECT_EQ(parse_lsn("16/B374D848"), 0x16B374D848ull);
    EXPECT_EQ(parse_lsn("0/0"), 0u);
    EXPECT_FALSE(parse_lsn("16B374D848"));
    EXPECT_FALSE(parse_lsn("1/G"));
    EXPECT_EQ(format_pg_timestamp(0), "2000-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_pg_timestamp(1'500'000), "2000-01-01T00:00:01.500000Z");
    EXPECT_EQ(pg_micros_to_unix_ms(0), 946'684'800'000);
}

}  // namespace
}  // namespace syncline::capture
