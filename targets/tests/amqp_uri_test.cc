// amqp:// URIs are checked without connecting: host, port, exchange, user, vhost, the password
// options (never the URI itself: URIs are logged), declare_exchange, timeouts; and message ids.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "targets/internal/uri.h"
#include "targets/target.h"
#include "targets/amqp_target.h"
#include "targets/tests/test_util.h"

namespace syncline::targets {
namespace {

status check(const std::string& uri) { return check_target_uri(uri, {"p1"}); }

result<amqp_target_options> options_of(const std::string& uri) {
    internal::uri_options options(uri, "help");
    const internal::parsed_uri p = internal::split_uri(uri);
    SYNCLINE_RETURN_IF_ERROR(options.parse(p.query));
    auto o = amqp_target::options_from_uri(p, options, "p1");
    if (o.ok()) SYNCLINE_RETURN_IF_ERROR(options.reject_unknown());
    return o;
}

TEST(amqp_uri, accepts_the_documented_forms_without_connecting) {
    // Port 1 on 127.0.0.1 has no broker: checking must not try to connect.
    EXPECT_TRUE(check("amqp://127.0.0.1:1/events").ok());
    EXPECT_TRUE(check("amqp://localhost/").ok());  // The default exchange.
    EXPECT_TRUE(check("amqp://[::1]:5672/events").ok());
    EXPECT_TRUE(check("amqp://h/events?declare_exchange=topic&mandatory=false&heartbeat_s=0&connect_timeout_ms=100&timeout_ms=500").ok());
    ::setenv("SYNCLINE_TEST_AMQP_URI_PASSWORD", "x-password", 1);
    EXPECT_TRUE(check("amqp://app@h/events?vhost=%2Fprod&password_env=SYNCLINE_TEST_AMQP_URI_PASSWORD").ok());
    EXPECT_TRUE(check("amqp://h/events?user=app&password_env=SYNCLINE_TEST_AMQP_URI_PASSWORD").ok());
}

TEST(amqp_uri, fills_the_options_with_their_documented_defaults) {
    auto o = options_of("amqp://broker.internal/ev%2Fents");
    ASSERT_TRUE(o.ok()) << o.get_status().to_string();
    EXPECT_EQ(o->host, "broker.internal");
    EXPECT_EQ(o->port, 5672);
    EXPECT_EQ(o->exchange, "ev/ents");
    EXPECT_EQ(o->vhost, "/");
    EXPECT_EQ(o->user, "guest");
    EXPECT_EQ(o->password, "guest");
    EXPECT_TRUE(o->mandatory);
    EXPECT_TRUE(o->declare_type.empty());
    EXPECT_EQ(o->heartbeat, std::chrono::seconds(30));
    EXPECT_EQ(o->pipeline, "p1");

    testing::temp_dir dir;
    {
        std::ofstream(dir.file("pw")) << "s3cret\n";
    }
    o = options_of("amqp://app@[::1]:5673/x?vhost=%2Fprod&password_file=" + dir.file("pw") + "&timeout_ms=250");
    ASSERT_TRUE(o.ok()) << o.get_status().to_string();
    EXPECT_EQ(o->host, "::1");
    EXPECT_EQ(o->port, 5673);
    EXPECT_EQ(o->user, "app");
    EXPECT_EQ(o->password, "s3cret");  // Without the line break.
    EXPECT_EQ(o->vhost, "/prod");
    EXPECT_EQ(o->timeout, std::chrono::milliseconds(250));
}

TEST(amqp_uri, rejects_bad_parts_naming_the_uri) {
    const char* bad[] = {
        "amqp:h/x",                          // no //
        "amqp://h",                          // no exchange part
        "amqp:///x",                         // no host
        "amqp://:5672/x",
        "amqp://h:0/x",                      // port range
        "amqp://h:70000/x",
        "amqp://[::1/x",                     // unclosed bracket
        "amqp://h/x?declare_exchange=queue", // not an exchange type
        "amqp://h/?declare_exchange=topic",  // the default exchange cannot be declared
        "amqp://h/x?vhost=",
        "amqp://h/x?timeout_ms=0",
        "amqp://h/x?heartbeat_s=99999",
        "amqp://h/x?mandatory=maybe",
        "amqp://h/x?colour=red",             // unknown option
        "amqp://app@h/x",                    // a user without a password option
        "amqp://app@h/x?user=other",         // the user twice
        "amqp://h/x?password_env=SYNCLINE_TEST_SURELY_UNSET_VARIABLE",
        "amqp://h/x?password_file=/nonexistent/password",
    };
    for (const char* uri : bad) {
        status s = check(uri);
        EXPECT_EQ(s.code(), errc::invalid_argument) << uri;
        // Named as given, except the values of password_* options, which are redacted.
        EXPECT_NE(s.message().find(std::string(uri).substr(0, std::string(uri).find("password_"))), std::string::npos) << s.message();
    }
}

TEST(amqp_uri, a_password_in_the_uri_is_refused_pointing_to_the_password_options) {
    status s = check("amqp://user:hunter2@h:5672/x");
    EXPECT_EQ(s.code(), errc::invalid_argument);
    EXPECT_NE(s.message().find("password_env"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s.message();
}

TEST(amqp_message_id, is_the_pipeline_and_the_offset) {
    EXPECT_EQ(amqp_target::message_id("orders-to-bus", 42), "orders-to-bus:42");
    EXPECT_EQ(amqp_target::message_id("p", 18446744073709551615ull), "p:18446744073709551615");
}

}  // namespace
}  // namespace syncline::targets
