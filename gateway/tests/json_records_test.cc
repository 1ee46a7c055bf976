// The HTTP body forms of gateway/json_records.h (one line's rules are tested in cli/tests/jsonl_test.cc).
#include "gateway/json_records.h"

#include <gtest/gtest.h>

namespace syncline::gateway {
namespace {

TEST(json_body, json_lines_and_arrays_give_the_same_records) {
    std::vector<record> a, b;
    EXPECT_FALSE(parse_json_body("{\"collection\":\"c\",\"key\":\"1\",\"value\":{\"x\":1}}\n\n"
                                 "{\"collection\":\"c\",\"key\":2,\"op\":\"delete\"}\r\n",
                                 a, {}, 10));
    EXPECT_FALSE(parse_json_body(" [{\"collection\":\"c\",\"key\":\"1\",\"value\":{\"x\":1}},"
                                 "{\"collection\":\"c\",\"key\":2,\"op\":\"delete\"}]",
                                 b, {}, 10));
    ASSERT_EQ(a.size(), 2u);
    ASSERT_EQ(b.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(a[i].key, b[i].key);
        EXPECT_EQ(a[i].value, b[i].value);
        EXPECT_EQ(a[i].operation, b[i].operation);
    }
    EXPECT_EQ(a[0].value, "{\"x\":1}");
    EXPECT_EQ(a[1].key, "2");
}

TEST(json_body, a_bad_record_is_named_by_index_and_line) {
    std::vector<record> out;
    auto p = parse_json_body("{\"collection\":\"c\",\"key\":\"1\",\"value\":1}\n\n{\"collection\":\"c\",\"value\":1}\n", out, {}, 10);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->index, 1u);
    EXPECT_EQ(p->line, 3u);
    EXPECT_EQ(p->message, "missing \"key\"");

    out.clear();
    p = parse_json_body("[{\"collection\":\"c\",\"key\":\"1\",\"value\":1}, {\"collection\":\"c\",\"key\":\"1\",\"value\":1,\"op\":\"x\"}]",
                        out, {}, 10);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->index, 1u);
    EXPECT_EQ(p->message, "unknown op \"x\" (expected \"upsert\" or \"delete\")");

    out.clear();
    p = parse_json_body("[{\"collection\":\"c\",\"key\":\"1\",\"value\":1}, {\"collection\":\"c\",\"key\":\"1\",\"value\":99999999999999999999999}]",
                        out, {}, 10);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->index, 1u);
    EXPECT_NE(p->message.find("does not fit in 64 bits"), std::string::npos) << p->message;

    out.clear();
    p = parse_json_body("[{\"collection\":", out, {}, 10);
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->index);
    EXPECT_TRUE(p->message.starts_with("not JSON: ")) << p->message;
}

TEST(json_body, empty_and_oversized_bodies_are_refused) {
    std::vector<record> out;
    EXPECT_EQ(parse_json_body(" \n", out, {}, 10)->message, "the body holds no records");
    EXPECT_EQ(parse_json_body("[]", out, {}, 10)->message, "the body holds no records");
    std::string three;
    for (int i = 0; i < 3; ++i) three += "{\"collection\":\"c\",\"key\":\"1\",\"value\":1}\n";
    out.clear();
    auto p = parse_json_body(three, out, {}, 2);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->message, "more than 2 records in one request");
}

}  // namespace
}  // namespace syncline::gateway
