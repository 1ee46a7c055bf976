// The smtp: target (targets/smtp_target.h) in-process against a real SMTP server
// (tests/support/smtp_receiver.h, aiosmtpd): what arrives (envelope, headers, body, encoded
// subjects), one connection for many messages, digests, AUTH, and what each kind of answer turns
// into: 550 -> dead letter with the server's reply, 451 -> transient then delivered, a stopped
// server -> transient then delivered after its restart, a record that cannot fill a template ->
// dead letter while the rest is delivered.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "tests/support/harness.h"
#include "tests/support/smtp_receiver.h"
#include "targets/target.h"
#include "targets/tests/test_util.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

record user(std::uint64_t offset, const std::string& key, const std::string& value) {
    record r;
    r.offset = offset;
    r.ts_ms = 1'700'000'000'000 + static_cast<std::int64_t>(offset) * 1000;
    r.collection = "users";
    r.key = key;
    r.value = value;
    return r;
}

using targets::testing::views;

const std::string options = "from=alerts@example.com&to={value.email}&subject={value.name}%20is%20{op}"
                            "&body=Hello%20{value.name},%0Akey%20{key}%20at%20offset%20{offset}.%0A&timeout_ms=5000";

class smtp_target_test : public ::testing::Test {
protected:
    std::unique_ptr<targets::target> open(const std::string& extra = "") {
        auto t = targets::open_target(receiver.uri(options + extra), {"p1"});
        EXPECT_TRUE(t.ok()) << t.get_status().message();
        return t.ok() ? std::move(t.value()) : nullptr;
    }

    smtp_receiver receiver;
};

TEST_F(smtp_target_test, one_email_per_change_with_rfc5322_headers_over_one_connection) {
    auto t = open();
    ASSERT_TRUE(t);
    std::vector<record> rs{user(7, "u1", R"({"email":"ada@example.org","name":"Ada"})"),
                           user(8, "u2", R"({"email":"bob@example.org","name":"Bob"})"),
                           user(9, "u3", R"({"email":"cy@example.org","name":"Grüße"})")};
    record gone = user(10, "u1", "");
    gone.operation = op::del;
    rs.push_back(gone);  // Deletes send nothing by default.
    auto out = t->deliver(views(rs));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_TRUE(out.failures.empty());

    auto mails = receiver.messages();
    ASSERT_EQ(mails.size(), 3u);
    const auto& ada = mails[0];
    EXPECT_EQ(ada.mail_from, "alerts@example.com");
    EXPECT_EQ(ada.rcpt_to, std::vector<std::string>{"ada@example.org"});
    EXPECT_EQ(ada.header("from"), "alerts@example.com");
    EXPECT_EQ(ada.header("to"), "ada@example.org");
    EXPECT_EQ(ada.header("subject"), "Ada is upsert");
    EXPECT_EQ(ada.header("message-id"), "<p1.7@syncline>");
    EXPECT_EQ(ada.header("date"), "Tue, 14 Nov 2023 22:13:27 +0000");
    EXPECT_EQ(ada.header("mime-version"), "1.0");
    EXPECT_EQ(ada.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(ada.body, "Hello Ada,\r\nkey u1 at offset 7.\r\n");
    EXPECT_EQ(mails[1].header("message-id"), "<p1.8@syncline>");
    // "Grüße is upsert" as one RFC 2047 word.
    EXPECT_EQ(mails[2].header("subject"), "=?UTF-8?B?R3LDvMOfZSBpcyB1cHNlcnQ=?=");
    EXPECT_EQ(mails[2].header("content-transfer-encoding"), "8bit");
    EXPECT_EQ(mails[0].client_port, mails[2].client_port) << "the connection was not reused";

    // Redelivery: the same bytes, so the same Message-ID.
    out = t->deliver(views(rs));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    mails = receiver.messages();
    ASSERT_EQ(mails.size(), 6u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(mails[i].raw, mails[i + 3].raw);
}

TEST_F(smtp_target_test, a_body_line_starting_with_a_dot_arrives_intact) {
    std::ofstream(receiver.dir() + "/body.txt") << ".\n..{value.name}\n.\n";
    auto t = targets::open_target(receiver.uri("from=a@example.com&to={value.email}&body_file=" + receiver.dir() + "/body.txt"), {"p1"});
    ASSERT_TRUE(t.ok()) << t.get_status().message();
    std::vector<record> rs{user(1, "u1", R"({"email":"ada@example.org","name":"Ada"})")};
    ASSERT_TRUE((*t)->deliver(views(rs)).transient.ok());
    auto mails = receiver.messages();
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(mails[0].body, ".\r\n..Ada\r\n.\r\n");
}

TEST_F(smtp_target_test, a_550_dead_letters_that_message_with_the_reply_and_the_rest_is_delivered) {
    receiver.reject({"bob@example.org"});
    auto t = open();
    ASSERT_TRUE(t);
    std::vector<record> rs{user(1, "u1", R"({"email":"ada@example.org","name":"Ada"})"),
                           user(2, "u2", R"({"email":"bob@example.org","name":"Bob"})"),
                           user(3, "u3", R"({"name":"no address"})"),
                           user(4, "u4", R"({"email":"eve@example.org\r\nBcc: all@example.org","name":"Eve"})"),
                           user(5, "u5", R"({"email":"cy@example.org","name":"Cy"})")};
    auto out = t->deliver(views(rs));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    ASSERT_EQ(out.failures.size(), 3u);
    EXPECT_EQ(out.failures[0].offset, 3u);  // Templates first: before anything is sent.
    EXPECT_NE(out.failures[0].reason.find("email"), std::string::npos) << out.failures[0].reason;
    EXPECT_EQ(out.failures[1].offset, 4u);
    EXPECT_EQ(out.failures[2].offset, 2u);
    EXPECT_NE(out.failures[2].reason.find("550"), std::string::npos) << out.failures[2].reason;
    EXPECT_NE(out.failures[2].reason.find("no such mailbox"), std::string::npos) << out.failures[2].reason;
    std::set<std::string> to;
    for (const auto& m : receiver.messages()) to.insert(m.header("to"));
    EXPECT_EQ(to, (std::set<std::string>{"ada@example.org", "cy@example.org"}));
}

TEST_F(smtp_target_test, a_451_is_transient_and_the_retry_after_it_passes_delivers) {
    auto t = open();
    ASSERT_TRUE(t);
    std::vector<record> rs{user(1, "u1", R"({"email":"ada@example.org","name":"Ada"})"),
                           user(2, "u2", R"({"email":"bob@example.org","name":"Bob"})")};
    receiver.defer_for(seconds(2));
    auto out = t->deliver(views(rs));
    EXPECT_FALSE(out.transient.ok());
    EXPECT_NE(out.transient.message().find("451"), std::string::npos) << out.transient.message();
    EXPECT_TRUE(out.failures.empty());
    EXPECT_EQ(receiver.message_count(), 0u);
    ASSERT_TRUE(eventually([&] { return t->deliver(views(rs)).transient.ok(); }, seconds(20)));
    auto mails = receiver.messages();
    ASSERT_EQ(mails.size(), 2u);
    EXPECT_EQ(mails[1].header("message-id"), "<p1.2@syncline>");
}

TEST_F(smtp_target_test, a_stopped_server_is_transient_and_a_restarted_one_gets_everything) {
    auto t = open();
    ASSERT_TRUE(t);
    std::vector<record> first{user(1, "u1", R"({"email":"ada@example.org","name":"Ada"})")};
    ASSERT_TRUE(t->deliver(views(first)).transient.ok());
    receiver.stop();
    std::vector<record> second{user(2, "u2", R"({"email":"bob@example.org","name":"Bob"})")};
    auto out = t->deliver(views(second));
    EXPECT_FALSE(out.transient.ok());
    EXPECT_TRUE(out.failures.empty());
    receiver.start();
    out = t->deliver(views(second));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    auto mails = receiver.messages();
    ASSERT_EQ(mails.size(), 2u);
    EXPECT_EQ(mails[1].header("message-id"), "<p1.2@syncline>");
}

TEST_F(smtp_target_test, digest_mode_sends_one_email_per_recipient_per_batch) {
    auto t = open("&mode=digest");
    ASSERT_TRUE(t);
    std::vector<record> rs{user(11, "u1", R"({"email":"ada@example.org","name":"Ada"})"),
                           user(12, "u2", R"({"email":"bob@example.org","name":"Bob"})"),
                           user(13, "u1", R"({"email":"ada@example.org","name":"Ada L."})"),
                           user(14, "u1", R"({"email":"ada@example.org","name":"Ada B."})")};
    ASSERT_TRUE(t->deliver(views(rs)).transient.ok());
    auto mails = receiver.messages();
    ASSERT_EQ(mails.size(), 2u);
    EXPECT_EQ(mails[0].header("to"), "ada@example.org");
    EXPECT_EQ(mails[0].header("message-id"), "<p1.11-14@syncline>");
    EXPECT_EQ(mails[0].header("x-syncline-offsets"), "11-14");
    EXPECT_EQ(mails[0].header("subject"), "Ada is upsert (+2 more)");
    EXPECT_EQ(mails[0].body,
              "Hello Ada,\r\nkey u1 at offset 11.\r\n----------------------------------------\r\n"
              "Hello Ada L.,\r\nkey u1 at offset 13.\r\n----------------------------------------\r\n"
              "Hello Ada B.,\r\nkey u1 at offset 14.\r\n");
    EXPECT_EQ(mails[1].header("message-id"), "<p1.12@syncline>");
}

TEST_F(smtp_target_test, deletes_are_sent_when_asked) {
    auto t = targets::open_target(receiver.uri("from=a@example.com&to=ops@example.org&subject={key}%20{op}&deletes=send"), {"p1"});
    ASSERT_TRUE(t.ok()) << t.get_status().message();
    record gone = user(5, "u9", "");
    gone.operation = op::del;
    std::vector<record> rs{gone};
    ASSERT_TRUE((*t)->deliver(views(rs)).transient.ok());
    auto mails = receiver.messages();
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(mails[0].header("subject"), "u9 delete");
}

TEST(smtp_target_auth, logs_in_with_the_password_from_a_file_and_a_wrong_one_is_transient) {
    smtp_receiver receiver({.credentials = smtp_credentials{"mailer", "s3cret-pw"}});
    temp_dir dir;
    std::ofstream(dir / "right") << "s3cret-pw\n";
    std::ofstream(dir / "wrong") << "guess\n";
    std::vector<record> rs{user(1, "u1", R"({"email":"ada@example.org","name":"Ada"})")};
    auto uri = [&](const std::string& file) { return receiver.uri(options + "&user=mailer&password_file=" + (dir / file)); };

    auto bad = targets::open_target(uri("wrong"), {"p1"});
    ASSERT_TRUE(bad.ok()) << bad.get_status().message();
    auto out = (*bad)->deliver(views(rs));
    EXPECT_FALSE(out.transient.ok()) << "a refused login must stall the pipeline, not drop mail";
    EXPECT_TRUE(out.failures.empty());
    EXPECT_EQ(out.transient.message().find("guess"), std::string::npos);

    auto good = targets::open_target(uri("right"), {"p1"});
    ASSERT_TRUE(good.ok()) << good.get_status().message();
    out = (*good)->deliver(views(rs));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_EQ(receiver.message_count(), 1u);
}

TEST_F(smtp_target_test, starttls_required_against_a_server_without_it_is_transient) {
    auto t = open("&starttls=required");
    ASSERT_TRUE(t);
    std::vector<record> rs{user(1, "u1", R"({"email":"ada@example.org","name":"Ada"})")};
    auto out = t->deliver(views(rs));
    EXPECT_FALSE(out.transient.ok());
    EXPECT_TRUE(out.failures.empty());
    EXPECT_EQ(receiver.message_count(), 0u);
}

// STARTTLS and SMTPS against a server with a self-signed certificate: trusted through ca_file
// it delivers; with the system's CAs the certificate is refused (transient: fix the config).
TEST(smtp_target_tls, starttls_and_smtps_deliver_with_the_certificate_trusted_and_refuse_it_otherwise) {
    for (auto tls : {smtp_receiver_tls::starttls, smtp_receiver_tls::implicit}) {
        smtp_receiver receiver({.credentials = std::nullopt, .tls = tls});
        std::vector<record> rs{user(1, "u1", R"({"email":"ada@example.org","name":"Ada"})")};
        const std::string tls_option = tls == smtp_receiver_tls::starttls ? "&starttls=required" : "";

        auto untrusted = targets::open_target(receiver.uri(options + tls_option), {"p1"});
        ASSERT_TRUE(untrusted.ok()) << untrusted.get_status().message();
        auto out = (*untrusted)->deliver(views(rs));
        EXPECT_FALSE(out.transient.ok());
        EXPECT_TRUE(out.failures.empty());

        auto trusted = targets::open_target(receiver.uri(options + tls_option + "&ca_file=" + receiver.ca_file()), {"p1"});
        ASSERT_TRUE(trusted.ok()) << trusted.get_status().message();
        out = (*trusted)->deliver(views(rs));
        ASSERT_TRUE(out.transient.ok()) << out.transient.message();
        ASSERT_EQ(receiver.message_count(), 1u);
        EXPECT_EQ(receiver.messages()[0].header("message-id"), "<p1.1@syncline>");
    }
}

}  // namespace
}  // namespace syncline::testing
