// open_target: URI dispatch and its errors; the null target.
#include <gtest/gtest.h>

#include "workers/target.h"
#include "workers/tests/test_util.h"

namespace syncline::workers {
namespace {

using testing::temp_dir;

void expect_invalid(const std::string& uri) {
    auto t = open_target(uri);
    ASSERT_FALSE(t.ok()) << uri;
    EXPECT_EQ(t.get_status().code(), errc::invalid_argument) << uri;
    // The message names the URI and lists what is supported.
    EXPECT_NE(t.get_status().message().find(uri), std::string::npos) << t.get_status().message();
    EXPECT_NE(t.get_status().message().find("sqlite:PATH"), std::string::npos) << t.get_status().message();
    EXPECT_NE(t.get_status().message().find("jsonl:PATH"), std::string::npos) << t.get_status().message();
    EXPECT_NE(t.get_status().message().find("null:"), std::string::npos) << t.get_status().message();
}

TEST(open_target, rejects_unknown_and_malformed_uris) {
    expect_invalid("");
    expect_invalid("no-scheme-here");
    expect_invalid("postgresql://localhost/db");
    expect_invalid("sqlite:");
    expect_invalid("jsonl:");
    expect_invalid("null:something");
    expect_invalid("sqlite:/tmp/x.db?synchronous=sometimes");
    expect_invalid("sqlite:/tmp/x.db?busy_timeout_ms=abc");
    expect_invalid("sqlite:/tmp/x.db?journal=delete");
    expect_invalid("sqlite:/tmp/x.db?synchronous");
    expect_invalid("jsonl:/tmp/x.jsonl?fsync=0");
}

TEST(open_target, missing_directory_is_invalid_argument_naming_the_path) {
    temp_dir dir;
    for (std::string scheme : {"sqlite:", "jsonl:"}) {
        std::string path = dir.file("no/such/dir/file");
        auto t = open_target(scheme + path);
        ASSERT_FALSE(t.ok());
        EXPECT_EQ(t.get_status().code(), errc::invalid_argument);
        EXPECT_NE(t.get_status().message().find(path), std::string::npos) << t.get_status().message();
    }
}

TEST(open_target, opens_each_scheme) {
    temp_dir dir;
    EXPECT_TRUE(open_target("sqlite:" + dir.file("a.db")).ok());
    EXPECT_TRUE(open_target("sqlite://" + dir.file("b.db") + "?synchronous=normal&busy_timeout_ms=100").ok());
    EXPECT_TRUE(open_target("jsonl:" + dir.file("a.jsonl")).ok());
    EXPECT_TRUE(open_target("null:").ok());
}

TEST(null_target, discards_and_cannot_be_read_back) {
    auto t = open_target("null:");
    ASSERT_TRUE(t.ok());
    std::vector<record> rs{testing::upsert(1, "c", "k", "{}")};
    auto v = testing::views(rs);
    auto out = (*t)->deliver(v);
    EXPECT_TRUE(out.transient.ok());
    EXPECT_TRUE(out.failures.empty());
    auto st = (*t)->read_state();
    ASSERT_TRUE(st.ok());
    EXPECT_FALSE(st->has_value());
}

}  // namespace
}  // namespace syncline::workers
