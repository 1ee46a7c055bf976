// nats:// URIs are checked without connecting, and the subject, message id and header mapping
// of the nats target (nats_format.h) hold without a server.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "targets/internal/uri.h"
#include "targets/target.h"
#include "targets/nats_format.h"

namespace syncline::targets {
namespace {

result<nats_target_options> parse(const std::string& uri) {
    internal::uri_options options(uri, "help");
    const internal::parsed_uri p = internal::split_uri(uri);
    SYNCLINE_RETURN_IF_ERROR(options.parse(p.query));
    auto o = parse_nats_target_options(p, options, "p1");
    if (o.ok()) SYNCLINE_RETURN_IF_ERROR(options.reject_unknown());
    return o;
}

TEST(nats_uri, accepts_the_documented_forms_without_connecting) {
    // Port 1 on 127.0.0.1 has no server: checking must not try to connect.
    EXPECT_TRUE(check_target_uri("nats://127.0.0.1:1/sync").ok());
    EXPECT_TRUE(check_target_uri("nats://localhost/sync.orders-v2").ok());
    ::setenv("SYNCLINE_TEST_NATS_TOKEN", "s3cr3t", 1);
    EXPECT_TRUE(check_target_uri("nats://h:4222/a.b?token_env=SYNCLINE_TEST_NATS_TOKEN&connect_timeout_ms=100"
                                 "&ack_timeout_ms=500&create_stream=SYNC&duplicate_window_s=600&missing_stream=dead_letter").ok());
}

TEST(nats_uri, reads_every_option) {
    const std::string token_file = ::testing::TempDir() + "nats_token";
    std::ofstream(token_file) << "tok-123\n";
    auto o = parse("nats://broker.internal:4333/app.sync?token_file=" + token_file +
                   "&connect_timeout_ms=250&ack_timeout_ms=1500&create_stream=SYNC&duplicate_window_s=30&missing_stream=dead_letter");
    ASSERT_TRUE(o.ok()) << o.get_status().message();
    EXPECT_EQ(o->host, "broker.internal");
    EXPECT_EQ(o->port, 4333);
    EXPECT_EQ(o->prefix, "app.sync");
    EXPECT_EQ(o->pipeline, "p1");
    EXPECT_EQ(o->token, "tok-123");  // Without the file's line break.
    EXPECT_EQ(o->connect_timeout.count(), 250);
    EXPECT_EQ(o->ack_timeout.count(), 1500);
    EXPECT_EQ(o->create_stream, "SYNC");
    EXPECT_EQ(o->duplicate_window.count(), 30);
    EXPECT_TRUE(o->missing_stream_is_permanent);

    auto defaults = parse("nats://h/p");
    ASSERT_TRUE(defaults.ok()) << defaults.get_status().message();
    EXPECT_EQ(defaults->port, 4222);
    EXPECT_TRUE(defaults->token.empty());
    EXPECT_TRUE(defaults->create_stream.empty());
    EXPECT_FALSE(defaults->missing_stream_is_permanent);
}

TEST(nats_uri, rejects_bad_parts_naming_the_uri) {
    const char* bad[] = {
        "nats:h/p",                         // no //
        "nats://h",                         // no prefix
        "nats://h/",
        "nats:///p",                        // no host
        "nats://h:0/p",                     // port range
        "nats://h:99999/p",
        "nats://h:42x/p",
        "nats://user:pw@h/p",               // credentials in the URI
        "nats://h/a..b",                    // empty token
        "nats://h/.a",
        "nats://h/a.",
        "nats://h/a.*",                     // wildcards
        "nats://h/a.>",
        "nats://h/a%20b",                   // space
        "nats://h/p?ack_timeout_ms=0",
        "nats://h/p?create_stream=a.b",
        "nats://h/p?missing_stream=maybe",
        "nats://h/p?colour=red",            // unknown option
        "nats://h/p?token_env=SYNCLINE_TEST_SURELY_UNSET_VARIABLE",
        "nats://h/p?token_file=/nonexistent/token",
        "nats://h/p?creds_file=/nonexistent/user.creds",
    };
    for (const char* uri : bad) {
        const status s = check_target_uri(uri);
        EXPECT_FALSE(s.ok()) << uri;
        EXPECT_NE(s.message().find("nats:"), std::string::npos) << s.message();
    }
}

TEST(nats_uri, never_shows_the_token) {
    ::setenv("SYNCLINE_TEST_NATS_TOKEN2", "very-secret-token", 1);
    const status s = check_target_uri("nats://h/p?token_env=SYNCLINE_TEST_NATS_TOKEN2&ack_timeout_ms=-1");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.message().find("very-secret-token"), std::string::npos) << s.message();
}

TEST(nats_subject, keeps_plain_names_and_escapes_the_rest_into_one_token) {
    EXPECT_EQ(nats_subject("sync", "orders"), "sync.orders");
    EXPECT_EQ(nats_subject("a.b", "Order_Items-2"), "a.b.Order_Items-2");
    EXPECT_EQ(subject_token("orders.eu"), "orders%2Eeu");
    EXPECT_EQ(subject_token("a*b>c d"), "a%2Ab%3Ec%20d");
    EXPECT_EQ(subject_token("100%"), "100%25");
    EXPECT_EQ(subject_token("caf\xc3\xa9"), "caf%C3%A9");
    // Distinct collections never share a subject: the escape character is escaped itself.
    EXPECT_NE(subject_token("a.b"), subject_token("a%2Eb"));
    for (unsigned c = 0; c < 256; ++c) {
        const std::string token = subject_token(std::string(1, static_cast<char>(c)));
        EXPECT_EQ(token.find_first_of(".*> \t\r\n"), std::string::npos) << c;
    }
}

TEST(nats_headers, ids_and_escaping) {
    EXPECT_EQ(nats_msg_id("p1", 42), "p1:42");
    EXPECT_EQ(nats_msg_id("orders-to-bus", 18446744073709551615ull), "orders-to-bus:18446744073709551615");
    EXPECT_EQ(header_escape("user:42"), "user:42");
    EXPECT_EQ(header_escape("a b\r\nc%"), "a%20b%0D%0Ac%25");
    EXPECT_EQ(header_escape(std::string("\x00\xff", 2)), "%00%FF");
}

}  // namespace
}  // namespace syncline::targets
