#include "targets/internal/uri.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "targets/tests/test_util.h"

namespace syncline::targets::internal {
namespace {

uri_options options_of(std::string_view query) {
    uri_options o("x://h", "x://HOST");
    EXPECT_TRUE(o.parse(query).ok());
    return o;
}

TEST(take_secret, from_environment_or_file_never_inline) {
    ::setenv("SYNCLINE_URI_TEST_SECRET", "s3cret", 1);
    auto env = options_of("password_env=SYNCLINE_URI_TEST_SECRET");
    auto from_env = take_secret(env, "password");
    ASSERT_TRUE(from_env.ok());
    EXPECT_EQ(from_env.value(), std::optional<std::string>("s3cret"));

    testing::temp_dir dir;
    std::ofstream(dir.file("pw")) << "from-file\n";
    auto file = options_of("password_file=" + dir.file("pw"));
    auto from_file = take_secret(file, "password");
    ASSERT_TRUE(from_file.ok());
    EXPECT_EQ(from_file.value(), std::optional<std::string>("from-file"));

    auto none = options_of("prefix=p");
    auto absent = take_secret(none, "password");
    ASSERT_TRUE(absent.ok());
    EXPECT_FALSE(absent.value().has_value());

    auto inline_secret = options_of("password=oops");
    auto refused = take_secret(inline_secret, "password");
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.get_status().message().find("never goes into the URI"), std::string::npos);
    EXPECT_EQ(refused.get_status().message().find("oops"), std::string::npos);

    auto both = options_of("password_env=A&password_file=B");
    EXPECT_FALSE(take_secret(both, "password").ok());
    ::unsetenv("SYNCLINE_URI_TEST_UNSET");
    auto unset = options_of("password_env=SYNCLINE_URI_TEST_UNSET");
    auto missing = take_secret(unset, "password");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.get_status().message().find("SYNCLINE_URI_TEST_UNSET"), std::string::npos);
    auto nofile = options_of("password_file=/nonexistent/pw");
    EXPECT_FALSE(take_secret(nofile, "password").ok());
}

TEST(parse_authority, user_host_port) {
    const uri_options o("x://", "x://HOST");
    auto full = parse_authority("bob%40corp@db.example:3307", 3306, o);
    ASSERT_TRUE(full.ok()) << full.get_status().to_string();
    EXPECT_EQ(full.value().user, "bob@corp");
    EXPECT_EQ(full.value().host, "db.example");
    EXPECT_EQ(full.value().port, 3307);
    auto v6 = parse_authority("[::1]", 4222, o);
    ASSERT_TRUE(v6.ok());
    EXPECT_EQ(v6.value().host, "::1");
    EXPECT_EQ(v6.value().port, 4222);
    for (const char* bad : {"u:pw@h", "", "h:0", "h:70000", "h:x", "[::1", "@h"})
        EXPECT_FALSE(parse_authority(bad, 1, o).ok()) << bad;
    auto with_password = parse_authority("u:hunter2@h", 1, o);
    EXPECT_EQ(with_password.get_status().message().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace syncline::targets::internal
