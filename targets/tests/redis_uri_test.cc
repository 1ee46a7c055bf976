// redis:// URIs are checked without connecting: host, port, db, user, options, and no password
// in the URI (URIs are logged).
#include <gtest/gtest.h>
#include <stdlib.h>

#include "targets/target.h"

namespace syncline::targets {
namespace {

status check(const std::string& uri) { return check_target_uri(uri); }

TEST(redis_uri, accepts_the_documented_forms_without_connecting) {
    // Port 1 on 127.0.0.1 has no server: checking must not try to connect.
    EXPECT_TRUE(check("redis://127.0.0.1:1").ok());
    EXPECT_TRUE(check("redis://localhost").ok());
    EXPECT_TRUE(check("redis://localhost/").ok());
    EXPECT_TRUE(check("redis://app@cache.internal:6380/2").ok());
    EXPECT_TRUE(check("redis://[::1]:6379/0").ok());
    EXPECT_TRUE(check("redis://h/1?prefix=sync%3A&connect_timeout_ms=100&timeout_ms=500&chunk_records=100").ok());
    ::setenv("SYNCLINE_TEST_REDIS_URI_PASSWORD", "x-password", 1);
    EXPECT_TRUE(check("redis://h?password_env=SYNCLINE_TEST_REDIS_URI_PASSWORD").ok());
}

TEST(redis_uri, rejects_bad_parts_naming_the_uri) {
    const char* bad[] = {
        "redis:host",                  // no //
        "redis://",                    // no host
        "redis://:6379",               // no host
        "redis://h:0",                 // port range
        "redis://h:70000",
        "redis://h:12x",
        "redis://h/abc",               // db not a number
        "redis://h/123456",
        "redis://[::1",                // unclosed bracket
        "redis://h?timeout_ms=0",
        "redis://h?chunk_records=0",
        "redis://h?colour=red",        // unknown option
        "redis://h?password_env=SYNCLINE_TEST_SURELY_UNSET_VARIABLE",
    };
    for (const char* uri : bad) {
        status s = check(uri);
        EXPECT_EQ(s.code(), errc::invalid_argument) << uri;
        EXPECT_NE(s.message().find(uri), std::string::npos) << s.message();
    }
}

TEST(redis_uri, a_password_in_the_uri_is_refused_pointing_to_password_env) {
    status s = check("redis://user:hunter2@h:6379");
    EXPECT_EQ(s.code(), errc::invalid_argument);
    EXPECT_NE(s.message().find("password_env"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("redis://user:***@h:6379"), std::string::npos) << s.message();
    EXPECT_EQ(check("redis://:hunter2@h").code(), errc::invalid_argument);
}

}  // namespace
}  // namespace syncline::targets
