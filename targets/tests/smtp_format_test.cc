// The smtp(s): target without a server: the message bytes (headers, RFC 2047 subjects, body
// encodings, Message-IDs, dates) and the URI options checked by `syncline config check`.
// Encoded subjects are checked by decoding them with Python-independent known answers.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "targets/target.h"
#include "targets/smtp_format.h"
#include "targets/tests/test_util.h"

namespace syncline::targets {
namespace {

smtp::message sample() {
    smtp::message m;
    m.from = "alerts@example.com";
    m.to = "ada@example.org";
    m.subject = "Order 42 shipped";
    m.date = smtp::date_header(1'700'000'000'123);
    m.message_id = smtp::message_id("p1", 42, 42);
    m.offsets = "42";
    m.body = "Hello Ada,\nyour order shipped.\n";
    return m;
}

TEST(smtp_message, has_every_header_crlf_lines_and_the_body) {
    EXPECT_EQ(smtp::format_message(sample()),
              "From: alerts@example.com\r\n"
              "To: ada@example.org\r\n"
              "Subject: Order 42 shipped\r\n"
              "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
              "Message-ID: <p1.42@syncline>\r\n"
              "X-Syncline-Offsets: 42\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: 7bit\r\n"
              "\r\n"
              "Hello Ada,\r\nyour order shipped.\r\n");
}

TEST(smtp_message, line_breaks_of_any_kind_become_crlf_and_the_body_ends_with_one) {
    auto m = sample();
    m.body = "a\rb\nc\r\nd";
    const std::string text = smtp::format_message(m);
    EXPECT_TRUE(text.ends_with("\r\n\r\na\r\nb\r\nc\r\nd\r\n")) << text;
}

TEST(smtp_message, utf8_bodies_are_8bit_and_long_lines_or_other_bytes_base64) {
    auto m = sample();
    m.body = "Grüße\n";
    EXPECT_NE(smtp::format_message(m).find("Content-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n"), std::string::npos);

    m.body = std::string(999, 'x');
    std::string text = smtp::format_message(m);
    EXPECT_NE(text.find("Content-Transfer-Encoding: base64\r\n\r\n"), std::string::npos);
    const std::string body = text.substr(text.find("\r\n\r\n") + 4);
    EXPECT_TRUE(body.starts_with("eHh4") && body.find("\r\n") == 76) << body.substr(0, 100);

    m.body = "\xff\xfe binary";
    text = smtp::format_message(m);
    EXPECT_NE(text.find("Content-Transfer-Encoding: base64\r\n\r\n//4gYmluYXJ5\r\n"), std::string::npos) << text;
}

TEST(smtp_subject, plain_ascii_stays_and_anything_else_becomes_rfc2047_words) {
    EXPECT_EQ(smtp::encode_header_text("Order 42 shipped"), "Order 42 shipped");
    // base64("Grüße") = R3LDvMOfZQ==
    EXPECT_EQ(smtp::encode_header_text("Grüße"), "=?UTF-8?B?R3LDvMOfZQ==?=");
    // "=?" would read as an encoded word; a tab is not printable.
    EXPECT_EQ(smtp::encode_header_text("a=?b"), "=?UTF-8?B?YT0/Yg==?=");
    EXPECT_EQ(smtp::encode_header_text("a\tb"), "=?UTF-8?B?YQli?=");
}

TEST(smtp_subject, long_text_is_folded_into_words_that_never_split_a_character) {
    std::string text;
    for (int i = 0; i < 40; ++i) text += "€";  // 3 bytes each: 45-byte words hold 15.
    const std::string encoded = smtp::encode_header_text(text);
    std::size_t words = 0, at = 0;
    for (std::size_t next; (next = encoded.find("=?UTF-8?B?", at)) != std::string::npos; at = next + 1) ++words;
    EXPECT_EQ(words, 3u) << encoded;
    EXPECT_EQ(encoded.find("=?UTF-8?B?"), 0u);
    EXPECT_NE(encoded.find("?=\r\n =?UTF-8?B?"), std::string::npos);
    // 15 euro signs: 45 bytes, 60 base64 characters, no padding.
    EXPECT_EQ(encoded.substr(10, encoded.find("?=") - 10).size(), 60u);
    for (std::size_t line = 0, pos = 0; pos < encoded.size(); ++line) {
        const auto end = std::min(encoded.find("\r\n", pos), encoded.size());
        EXPECT_LE(end - pos, 76u) << "line " << line;
        pos = end + 2;
    }
    EXPECT_EQ(smtp::encode_header_text(std::string(950, 'a')).substr(0, 10), "=?UTF-8?B?");
}

TEST(smtp_ids, message_ids_from_pipeline_and_offsets_with_odd_bytes_escaped) {
    EXPECT_EQ(smtp::message_id("orders-mail", 7, 7), "<orders-mail.7@syncline>");
    EXPECT_EQ(smtp::message_id("orders-mail", 7, 19), "<orders-mail.7-19@syncline>");
    EXPECT_EQ(smtp::message_id("a b@c%", 1, 1), "<a%20b%40c%25.1@syncline>");
    EXPECT_EQ(smtp::message_id("", 1, 1), "<syncline.1@syncline>");
}

TEST(smtp_date, is_rfc5322_in_utc_with_english_names) {
    EXPECT_EQ(smtp::date_header(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    EXPECT_EQ(smtp::date_header(1'709'251'199'999), "Thu, 29 Feb 2024 23:59:59 +0000");
}

TEST(smtp_address, only_bare_addr_specs) {
    EXPECT_TRUE(smtp::plain_address("ada@example.org"));
    EXPECT_TRUE(smtp::plain_address("first.last+tag@sub.example.org"));
    for (const char* bad : {"", "ada", "@example.org", "ada@", "Ada <ada@example.org>", "a@b,c@d", "a b@c",
                            "a@b@c", "ü@example.org", "a@b\r\nBcc: x@y"})
        EXPECT_FALSE(smtp::plain_address(bad)) << bad;
}

TEST(smtp_digest, joins_texts_with_a_separator_line) {
    EXPECT_EQ(smtp::digest_body({"one", "two\n"}), "one\n----------------------------------------\ntwo\n");
    EXPECT_EQ(smtp::digest_body({"only"}), "only");
}

TEST(smtp_uri, accepts_the_documented_forms) {
    testing::temp_dir dir;
    std::ofstream(dir.file("password")) << "s3cret\n";
    std::ofstream(dir.file("body.txt")) << "Hello {value.name},\n{value}\n";
    const std::string base = "smtp://127.0.0.1:2525?from=alerts@example.com&to={value.email}";
    for (const std::string& uri : std::vector<std::string>{
             base, "smtps://mail.example.com?from=a@b.c&to=ops@example.com", "smtp://[::1]:25/?from=a@b.c&to={key}",
             base + "&subject=Order%20{value.id}%20{op}&body=Hi%20{value.name}&mode=digest&deletes=send",
             base + "&body_file=" + dir.file("body.txt") + "&starttls=required&user=mailer&password_file=" + dir.file("password"),
             base + "&timeout_ms=5000&connect_timeout_ms=1000&verify_tls=false&starttls=never"})
        EXPECT_TRUE(check_target_uri(uri, {"p1"}).ok()) << uri << ": " << check_target_uri(uri, {"p1"}).message();
}

TEST(smtp_uri, refuses_bad_input_naming_the_problem_never_the_password) {
    testing::temp_dir dir;
    std::ofstream(dir.file("password")) << "s3cret\n";
    const std::string base = "smtp://127.0.0.1:2525?from=a@b.c&to={value.email}";
    const std::pair<std::string, std::string> cases[] = {
        {"smtp:127.0.0.1?from=a@b.c&to=x@y.z", "smtp://HOST"},
        {"smtp://?from=a@b.c&to=x@y.z", "no host"},
        {"smtp://h:99999?from=a@b.c&to=x@y.z", "HOST[:PORT]"},
        {"smtp://u:s3cret@h?from=a@b.c&to=x@y.z", "no user or password in the URI"},
        {"smtp://h/path?from=a@b.c&to=x@y.z", "no path"},
        {"smtp://h?to=x@y.z", "needs from="},
        {"smtp://h?from=Ada%20<a@b.c>&to=x@y.z", "from must be a plain address"},
        {"smtp://h?from=a@b.c", "needs to="},
        {base + "&subject={nope}", "subject:"},
        {base + "&body={value..x}", "body:"},
        {base + "&body=x&body_file=" + dir.file("password"), "body or body_file"},
        {base + "&body_file=" + dir.file("missing"), "cannot read body_file"},
        {base + "&mode=batch", "mode must be record or digest"},
        {base + "&deletes=keep", "deletes must be skip or send"},
        {base + "&starttls=maybe", "starttls must be"},
        {"smtps://h?from=a@b.c&to=x@y.z&starttls=required", "starttls is for smtp://"},
        {base + "&password=s3cret&user=u", "never goes into the URI"},
        {base + "&user=u", "go together"},
        {base + "&password_file=" + dir.file("password"), "go together"},
        {base + "&user=u&password_env=SYNCLINE_TEST_SURELY_UNSET", "SYNCLINE_TEST_SURELY_UNSET"},
        {base + "&timeout_ms=0", "timeout_ms"},
        {base + "&colour=blue", "unknown option 'colour'"},
    };
    for (const auto& [uri, expected] : cases) {
        const status s = check_target_uri(uri, {"p1"});
        EXPECT_EQ(s.code(), errc::invalid_argument) << uri;
        EXPECT_NE(s.message().find(expected), std::string::npos) << uri << " -> " << s.message();
        EXPECT_EQ(s.message().find("s3cret"), std::string::npos) << s.message();
    }
}

}  // namespace
}  // namespace syncline::targets
