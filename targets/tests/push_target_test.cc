// The push targets (targets/push_target.h) in-process against a local HTTP/2 receiver
// (tests/support/push_receiver.h) that checks the FCM and APNs request shapes and answers their
// documented errors: what each reply turns into (delivered, dead letter, transient with
// Retry-After, APNs provider token refreshed), one multiplexed connection per target, and an
// outage of the receiver in the middle of a run.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/support/harness.h"
#include "tests/support/push_receiver.h"
#include "targets/tests/test_util.h"
#include "targets/target.h"
#include "targets/push_format.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Records whose key is the device token (the receiver answers by its prefix).
struct batch {
    std::vector<record> records;
    std::vector<record_view> views() const { return targets::testing::views(records); }
    batch& add(const std::string& token, op operation = op::upsert, std::string value = "") {
        record r;
        r.offset = records.empty() ? 1 : records.back().offset + 1;
        r.ts_ms = 1'700'000'000'000;
        r.collection = "users";
        r.key = token;
        r.operation = operation;
        if (operation == op::upsert)
            r.value = value.empty() ? R"({"name":"Ann \"A\"","count":)" + std::to_string(r.offset) + "}" : value;
        records.push_back(std::move(r));
        return *this;
    }
};

class push_target_test : public ::testing::Test {
protected:
    std::unique_ptr<targets::target> open(const std::string& uri) {
        auto t = targets::open_target(uri, {.pipeline = "p1"});
        EXPECT_TRUE(t.ok()) << t.get_status().to_string();
        return t.ok() ? std::move(t.value()) : nullptr;
    }
    std::string fcm_uri(const std::string& extra = "") const {
        return "fcm://demo-project?token_file=" + receiver.fcm_token_file() + "&device_token={key}" +
               "&title=Hello%20{value.name}&body={collection}/{key}&data={\"n\":\"{value.count}\"}&endpoint=" +
               receiver.endpoint() + "&ca_file=" + receiver.ca_file() + "&timeout_ms=3000" + extra;
    }
    std::string apns_uri(const std::string& extra = "") const {
        return std::string("apns://com.example.app?key_file=") + receiver.apns_key_file() + "&key_id=" +
               push_receiver::apns_key_id + "&team_id=" + push_receiver::apns_team_id +
               "&device_token={key}&title=Hello%20{value.name}&body={collection}&collapse_id={collection}-{key}"
               "&data={\"n\":{value.count}}&endpoint=" + receiver.endpoint() + "&ca_file=" + receiver.ca_file() +
               "&timeout_ms=3000" + extra;
    }
    void expect_no_shape_problems() {
        for (const auto& r : receiver.requests())
            for (const auto& p : r.problems) ADD_FAILURE() << r.service << " " << r.path << ": " << p;
    }

    push_receiver receiver;
};

TEST_F(push_target_test, fcm_sends_one_v1_message_per_record_and_skips_deletes) {
    auto t = open(fcm_uri());
    ASSERT_TRUE(t);
    batch b;
    b.add("tok-a").add("tok-b").add("tok-c", op::del).add("tok-d");
    auto out = t->deliver(b.views());
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    EXPECT_TRUE(out.failures.empty());
    auto got = receiver.requests();
    ASSERT_EQ(got.size(), 3u);
    expect_no_shape_problems();
    std::set<std::string> tokens;
    for (const auto& r : got) {
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.path, "/v1/projects/demo-project/messages:send");
        EXPECT_EQ(r.headers.at("authorization"), std::string("Bearer ") + push_receiver::fcm_token);
        tokens.insert(r.device_token);
    }
    EXPECT_EQ(tokens, (std::set<std::string>{"tok-a", "tok-b", "tok-d"}));
    const auto body = nlohmann::json::parse(got[0].body);
    const auto& message = body["message"];
    const std::uint64_t offset = got[0].device_token == "tok-a" ? 1 : got[0].device_token == "tok-b" ? 2 : 4;
    EXPECT_EQ(message["notification"]["title"], "Hello Ann \"A\"");
    EXPECT_EQ(message["notification"]["body"], "users/" + got[0].device_token);
    EXPECT_EQ(message["data"]["n"], std::to_string(offset));
    EXPECT_EQ(message["data"]["syncline_id"], "p1:" + std::to_string(offset));
}

TEST_F(push_target_test, fcm_errors_map_to_dead_letters_or_a_transient_failure_with_retry_after) {
    auto t = open(fcm_uri());
    ASSERT_TRUE(t);
    batch b;
    b.add("ok-1").add("unregistered-2").add("invalid-3").add("ok-4").add("bad", op::upsert, "not json");
    auto out = t->deliver(b.views());
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    std::map<std::uint64_t, std::string> failed;
    for (const auto& f : out.failures) failed[f.offset] = f.reason;
    ASSERT_EQ(failed.size(), 3u);
    EXPECT_NE(failed[2].find("HTTP 404 UNREGISTERED"), std::string::npos) << failed[2];
    EXPECT_NE(failed[3].find("HTTP 400 INVALID_ARGUMENT"), std::string::npos) << failed[3];
    EXPECT_NE(failed[5].find("not a JSON object"), std::string::npos) << failed[5];  // The template.
    EXPECT_EQ(receiver.requests().size(), 4u) << "the record that cannot fill the template is not sent";

    // Throttled (429 + Retry-After) and unavailable (503): the whole batch is transient.
    batch again;
    again.add("throttled-1").add("unavailable-2").add("ok-3").add("unregistered-4");
    out = t->deliver(again.views());
    EXPECT_EQ(out.transient.code(), errc::unavailable);
    EXPECT_NE(out.transient.message().find("QUOTA_EXCEEDED"), std::string::npos) << out.transient.message();
    EXPECT_EQ(out.retry_after, milliseconds(1000));
    EXPECT_TRUE(out.failures.empty()) << "a transient delivery has no dead letters: all of it is sent again";
    out = t->deliver(again.views());
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].offset, 4u);
    expect_no_shape_problems();
}

TEST_F(push_target_test, a_refused_fcm_access_token_is_transient_and_a_renewed_token_file_is_read_again) {
    temp_dir dir;
    const std::string token_file = dir / "token";
    std::ofstream(token_file) << "expired-access-token\n";
    const std::string uri = fcm_uri();
    auto t = open(uri.substr(0, uri.find("token_file=") + 11) + token_file + uri.substr(uri.find('&')));
    ASSERT_TRUE(t);
    batch b;
    b.add("ok-1");
    auto out = t->deliver(b.views());
    EXPECT_EQ(out.transient.code(), errc::unavailable);
    EXPECT_NE(out.transient.message().find("HTTP 401"), std::string::npos) << out.transient.message();
    EXPECT_NE(out.transient.message().find("renew token_file"), std::string::npos) << out.transient.message();
    EXPECT_EQ(out.transient.message().find("expired-access-token"), std::string::npos) << "the token is never shown";
    std::ofstream(token_file) << push_receiver::fcm_token << "\n";  // What a token refresher does.
    out = t->deliver(b.views());
    EXPECT_TRUE(out.transient.ok()) << out.transient.to_string();
    EXPECT_TRUE(out.failures.empty());
}

TEST_F(push_target_test, apns_sends_the_documented_headers_and_a_jwt_the_receiver_verifies) {
    auto t = open(apns_uri());
    ASSERT_TRUE(t);
    batch b;
    b.add("a1b2c3").add("d4e5f6").add("gone", op::del);
    auto out = t->deliver(b.views());
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    EXPECT_TRUE(out.failures.empty());
    auto got = receiver.requests();
    ASSERT_EQ(got.size(), 2u);
    expect_no_shape_problems();
    for (const auto& r : got) {
        EXPECT_EQ(r.status, 200);
        const std::uint64_t offset = r.device_token == "a1b2c3" ? 1 : 2;
        EXPECT_EQ(r.path, "/3/device/" + r.device_token);
        EXPECT_EQ(r.id, targets::push::apns_id("p1", offset));
        EXPECT_EQ(r.headers.at("apns-topic"), "com.example.app");
        EXPECT_EQ(r.headers.at("apns-push-type"), "alert");
        EXPECT_EQ(r.headers.at("apns-priority"), "10");
        EXPECT_EQ(r.headers.at("apns-collapse-id"), "users-" + r.device_token);
        const auto payload = nlohmann::json::parse(r.body);
        EXPECT_EQ(payload["aps"]["alert"]["title"], "Hello Ann \"A\"");
        EXPECT_EQ(payload["aps"]["alert"]["body"], "users");
        EXPECT_EQ(payload["n"], offset);
    }
}

TEST_F(push_target_test, apns_errors_map_to_dead_letters_or_a_transient_failure) {
    auto t = open(apns_uri());
    ASSERT_TRUE(t);
    batch b;
    b.add("ok1").add("unregistered2").add("invalid3").add("toolarge4");
    auto out = t->deliver(b.views());
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    std::map<std::uint64_t, std::string> failed;
    for (const auto& f : out.failures) failed[f.offset] = f.reason;
    ASSERT_EQ(failed.size(), 3u);
    EXPECT_NE(failed[2].find("HTTP 410 Unregistered"), std::string::npos) << failed[2];
    EXPECT_NE(failed[3].find("HTTP 400 BadDeviceToken"), std::string::npos) << failed[3];
    EXPECT_NE(failed[4].find("HTTP 413 PayloadTooLarge"), std::string::npos) << failed[4];

    for (const std::string token : {"throttled5", "unavailable6"}) {
        batch transient;
        transient.add(token);
        out = t->deliver(transient.views());
        EXPECT_EQ(out.transient.code(), errc::unavailable) << token;
        EXPECT_TRUE(out.failures.empty());
        out = t->deliver(transient.views());  // The receiver refuses each only once.
        EXPECT_TRUE(out.transient.ok()) << out.transient.to_string();
    }
    expect_no_shape_problems();
}

TEST_F(push_target_test, an_expired_apns_provider_token_is_signed_again_and_the_record_sent_again) {
    auto t = open(apns_uri());
    ASSERT_TRUE(t);
    batch b;
    b.add("expired1").add("ok2");
    auto out = t->deliver(b.views());
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    EXPECT_TRUE(out.failures.empty());
    auto got = receiver.requests();
    std::vector<push_request_seen> expired;
    for (const auto& r : got)
        if (r.device_token == "expired1") expired.push_back(r);
    ASSERT_EQ(expired.size(), 2u);
    EXPECT_EQ(expired[0].reason, "ExpiredProviderToken");
    EXPECT_EQ(expired[1].status, 200);
    EXPECT_NE(expired[0].headers.at("authorization"), expired[1].headers.at("authorization"));
    EXPECT_EQ(expired[0].id, expired[1].id) << "the same apns-id when sent again";
    expect_no_shape_problems();
}

TEST_F(push_target_test, a_batch_travels_as_streams_of_one_connection_reused_by_the_next_batch) {
    for (const bool apns : {false, true}) {
        auto t = open(apns ? apns_uri() : fcm_uri());
        ASSERT_TRUE(t);
        batch b;
        for (int i = 0; i < 250; ++i) b.add("tok" + std::to_string(i));
        const std::size_t before = receiver.requests().size();
        ASSERT_TRUE(t->deliver(b.views()).transient.ok());
        ASSERT_TRUE(t->deliver(b.views()).transient.ok());
        auto got = receiver.requests();
        ASSERT_EQ(got.size(), before + 500);
        std::set<int> connections;
        for (std::size_t i = before; i < got.size(); ++i) connections.insert(got[i].connection);
        EXPECT_EQ(connections.size(), 1u) << (apns ? "apns" : "fcm");
    }
    expect_no_shape_problems();
}

TEST_F(push_target_test, a_receiver_outage_is_transient_and_the_same_target_delivers_once_it_is_back) {
    for (const bool apns : {false, true}) {
        auto t = open(apns ? apns_uri() : fcm_uri());
        ASSERT_TRUE(t);
        batch b;
        b.add("ok1").add("ok2");
        ASSERT_TRUE(t->deliver(b.views()).transient.ok());
        receiver.stop();
        auto out = t->deliver(b.views());
        EXPECT_EQ(out.transient.code(), errc::unavailable);
        EXPECT_NE(out.transient.message().find(receiver.endpoint()), std::string::npos) << out.transient.message();
        receiver.start();
        out = t->deliver(b.views());
        EXPECT_TRUE(out.transient.ok()) << out.transient.to_string();
        EXPECT_TRUE(out.failures.empty());
    }
}

}  // namespace
}  // namespace syncline::testing
