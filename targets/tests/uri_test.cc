#include "targets/internal/uri.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "common/log.h"
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

// A secret too short to scrub from logs without garbling them is refused at config time, with
// the option it came from; one of min_secret_bytes is taken (and scrubbed everywhere).
TEST(take_secret, shorter_than_min_secret_bytes_is_refused_naming_the_option) {
    testing::temp_dir dir;
    std::ofstream(dir.file("short")) << "abc\n";
    auto file = options_of("password_file=" + dir.file("short"));
    auto from_file = take_secret(file, "password");
    ASSERT_FALSE(from_file.ok());
    EXPECT_NE(from_file.get_status().message().find("password_file"), std::string::npos) << from_file.get_status().message();
    EXPECT_NE(from_file.get_status().message().find("at least 4 bytes"), std::string::npos) << from_file.get_status().message();
    EXPECT_EQ(from_file.get_status().message().find("abc"), std::string::npos) << from_file.get_status().message();
    ::setenv("SYNCLINE_URI_TEST_SHORT", "x", 1);
    auto env = options_of("password_env=SYNCLINE_URI_TEST_SHORT");
    auto from_env = take_secret(env, "password");
    ASSERT_FALSE(from_env.ok());
    EXPECT_NE(from_env.get_status().message().find("SYNCLINE_URI_TEST_SHORT"), std::string::npos);
    ::setenv("SYNCLINE_URI_TEST_FOUR", "Qz7w", 1);
    auto four = options_of("password_env=SYNCLINE_URI_TEST_FOUR");
    auto taken = take_secret(four, "password");
    ASSERT_TRUE(taken.ok()) << taken.get_status().to_string();
    EXPECT_EQ(scrub_secrets("auth failed for Qz7w"), "auth failed for ***");
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

TEST(parse_authority, ipv6_brackets_with_and_without_port) {
    const uri_options o("x://", "x://HOST");
    auto v6 = parse_authority("u@[2001:db8::7]:6380", 6379, o);
    ASSERT_TRUE(v6.ok()) << v6.get_status().to_string();
    EXPECT_EQ(v6.value().user, "u");
    EXPECT_EQ(v6.value().host, "2001:db8::7");
    EXPECT_EQ(v6.value().port, 6380);
    auto junk = parse_authority("[::1]x", 1, o);
    ASSERT_FALSE(junk.ok());
    EXPECT_NE(junk.get_status().message().find("expected ':PORT' after ']'"), std::string::npos);
    auto unclosed = parse_authority("[::1:80", 1, o);
    ASSERT_FALSE(unclosed.ok());
    EXPECT_NE(unclosed.get_status().message().find("unclosed '['"), std::string::npos);
}

TEST(parse_authority, missing_port_is_the_default_and_a_bad_port_is_named) {
    const uri_options o("x://", "x://HOST");
    auto plain = parse_authority("db.example", 5432, o);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain.value().port, 5432);
    EXPECT_TRUE(plain.value().user.empty());
    auto top = parse_authority("h:65535", 1, o);
    ASSERT_TRUE(top.ok());
    EXPECT_EQ(top.value().port, 65535);
    // Only digits: no sign, no space, no empty port after ':', nothing past 65535.
    for (const char* bad : {"h:", "h:0", "h:65536", "h:+1", "h: 1", "h:1x", "h:123456", "[::1]:", "h:-1"}) {
        auto r = parse_authority(bad, 1, o);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.get_status().message().find("port must be 1..65535"), std::string::npos) << bad;
    }
}

TEST(parse_authority, userinfo_by_the_rules) {
    const uri_options o("x://", "x://HOST");
    // A password is refused by every kind (postgresql:// included), and never shown.
    for (const authority_rules rules : {authority_rules{}, authority_rules{.host_required = false}}) {
        auto refused = parse_authority("u:p%40ss@h", 1, o, rules);
        ASSERT_FALSE(refused.ok());
        EXPECT_NE(refused.get_status().message().find("no password in the URI"), std::string::npos);
        EXPECT_NE(refused.get_status().message().find("password_file=PATH"), std::string::npos);
        EXPECT_EQ(refused.get_status().message().find("p%40ss"), std::string::npos);
    }
    // The userinfo ends at the last '@'.
    auto at_in_user = parse_authority("a@b@h:2", 1, o);
    ASSERT_TRUE(at_in_user.ok());
    EXPECT_EQ(at_in_user.value().user, "a@b");
    EXPECT_EQ(at_in_user.value().host, "h");
    auto no_user = parse_authority("h", 1, o, {.user_required = true});
    ASSERT_FALSE(no_user.ok());
    EXPECT_NE(no_user.get_status().message().find("no user"), std::string::npos);
    EXPECT_FALSE(parse_authority("%zz@h", 1, o).ok());
    // An empty host: an error unless the client has a default (libpq's PGHOST / socket).
    EXPECT_FALSE(parse_authority("u@:5", 1, o).ok());
    auto hostless = parse_authority("u@", 1, o, {.host_required = false});
    ASSERT_TRUE(hostless.ok());
    EXPECT_TRUE(hostless.value().host.empty());
    auto socket_dir = parse_authority("%2Frun%2Fpostgresql", 1, o, {.host_required = false});
    ASSERT_TRUE(socket_dir.ok());
    EXPECT_EQ(socket_dir.value().host, "/run/postgresql");
}

}  // namespace
}  // namespace syncline::targets::internal
