// The http target (targets/http_target.h) in-process against a real HTTP server
// (tests/support/http_receiver.h): signatures, idempotency keys, the endpoint's own query string,
// connection reuse, and what each kind of answer turns into (delivered, transient with a
// Retry-After hint, refused records with the status and a body excerpt).
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/harness.h"
#include "tests/support/http_receiver.h"
#include "targets/target.h"
#include "targets/tests/test_util.h"
#include "targets/http_target.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string secret = "whsec_0123456789abcdef-test";

std::vector<record> sample(std::uint64_t first, std::size_t n) {
    std::vector<record> rs;
    for (std::size_t i = 0; i < n; ++i) {
        record r;
        r.offset = first + i;
        r.ts_ms = 1'700'000'000'000;
        r.collection = "users";
        r.key = "k" + std::to_string(i % 3);
        r.operation = i % 4 == 3 ? op::del : op::upsert;
        if (r.operation == op::upsert) r.value = "{\"i\":" + std::to_string(i) + "}";
        rs.push_back(std::move(r));
    }
    return rs;
}

using targets::testing::views;

class http_target_test : public ::testing::Test {
protected:
    void SetUp() override { std::ofstream(secret_file) << secret << "\n"; }

    std::unique_ptr<targets::target> open(const std::string& path = "/hook", const std::string& extra = "") {
        const std::string joint = path.find('?') == std::string::npos ? "?" : "&";
        auto t = targets::open_target(receiver.url(path) + joint + "syncline.secret_file=" + secret_file + extra, {"p1"});
        if (!t.ok()) ADD_FAILURE() << t.get_status().message();
        return t.ok() ? std::move(t.value()) : nullptr;
    }

    temp_dir dir;
    std::string secret_file = dir / "secret";
    http_receiver receiver{secret};
};

TEST_F(http_target_test, posts_one_signed_request_per_batch_with_a_stable_idempotency_key) {
    auto t = open("/hook?token=abc");
    ASSERT_TRUE(t);
    auto rs = sample(101, 10);
    auto v = views(rs);
    for (int i = 0; i < 3; ++i) {
        auto out = t->deliver(v);
        ASSERT_TRUE(out.transient.ok()) << out.transient.message();
        EXPECT_TRUE(out.failures.empty());
    }
    auto got = receiver.requests();
    ASSERT_EQ(got.size(), 3u);
    for (const auto& r : got) {
        EXPECT_TRUE(r.signature_valid) << r.headers.find("Syncline-Signature")->second;
        EXPECT_EQ(r.idempotency_key, "p1:101-110");
        EXPECT_EQ(r.body, got[0].body) << "a redelivery is byte-identical";
        EXPECT_EQ(r.path, "/hook?token=abc") << "the endpoint's query is sent, syncline's options are not";
        EXPECT_EQ(r.headers.find("Content-Type")->second, "application/json");
        EXPECT_EQ(r.remote_port, got[0].remote_port) << "one kept-alive connection";
    }
    std::vector<std::uint64_t> want;
    for (std::uint64_t o = 101; o <= 110; ++o) want.push_back(o);
    EXPECT_EQ(got[0].offsets, want);
    auto body = nlohmann::json::parse(got[0].body);
    EXPECT_EQ(body["pipeline"], "p1");
    EXPECT_EQ(body["first_offset"], 101);
    EXPECT_EQ(body["last_offset"], 110);
    EXPECT_EQ(body["records"][3]["op"], "delete");
    EXPECT_EQ(body["records"][4]["value"]["i"], 4);
}

TEST_F(http_target_test, the_signature_fails_with_a_wrong_secret_a_changed_body_or_a_stale_timestamp) {
    auto t = open();
    ASSERT_TRUE(t);
    auto rs = sample(1, 5);
    ASSERT_TRUE(t->deliver(views(rs)).transient.ok());
    auto r = receiver.requests().at(0);
    const std::string header = r.headers.find("Syncline-Signature")->second;
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    EXPECT_TRUE(http_receiver::verify_signature(secret, header, r.body, now, seconds(300)));
    EXPECT_FALSE(http_receiver::verify_signature(secret + "x", header, r.body, now, seconds(300)));
    EXPECT_FALSE(http_receiver::verify_signature(secret, header, r.body + " ", now, seconds(300)));
    EXPECT_FALSE(http_receiver::verify_signature(secret, header, r.body, now + 600, seconds(300)));

    // A receiver with another secret rejects it.
    http_receiver other("not-the-secret");
    auto t2 = targets::open_target(other.url() + "?syncline.secret_file=" + secret_file, {"p1"});
    ASSERT_TRUE(t2.ok());
    ASSERT_TRUE((*t2)->deliver(views(rs)).transient.ok());
    EXPECT_FALSE(other.requests().at(0).signature_valid);
}

TEST_F(http_target_test, a_500_is_transient_then_the_retry_goes_through_with_the_same_key) {
    auto t = open();
    ASSERT_TRUE(t);
    receiver.answer_next(1, answer::with(500, "database is down"));
    auto rs = sample(1, 4);
    auto first = t->deliver(views(rs));
    EXPECT_FALSE(first.transient.ok());
    EXPECT_NE(first.transient.message().find("HTTP 500"), std::string::npos) << first.transient.message();
    EXPECT_NE(first.transient.message().find("database is down"), std::string::npos) << first.transient.message();
    EXPECT_EQ(first.retry_after, milliseconds(0));
    EXPECT_EQ(first.transient.message().find(secret), std::string::npos);
    auto second = t->deliver(views(rs));
    EXPECT_TRUE(second.transient.ok()) << second.transient.message();
    auto got = receiver.requests();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].idempotency_key, got[1].idempotency_key);
    EXPECT_EQ(got[0].body, got[1].body);
}

TEST_F(http_target_test, a_429_or_503_with_retry_after_is_transient_with_that_wait) {
    auto t = open();
    ASSERT_TRUE(t);
    auto rs = sample(1, 2);
    receiver.answer_next(1, answer::with(429, "slow down").retry_after(7));
    auto throttled = t->deliver(views(rs));
    EXPECT_FALSE(throttled.transient.ok());
    EXPECT_EQ(throttled.retry_after, milliseconds(7000));
    receiver.answer_next(1, answer::with(503).retry_after(100'000));
    auto capped = t->deliver(views(rs));
    EXPECT_FALSE(capped.transient.ok());
    EXPECT_EQ(capped.retry_after, targets::max_retry_after);
    EXPECT_TRUE(t->deliver(views(rs)).transient.ok());
}

// A failing gateway is the receiver's state, never a record's, Retry-After or not: errc::busy,
// on which poison isolation waits instead of dead-lettering (target.h). A 500 may be the record's.
TEST_F(http_target_test, a_502_without_retry_after_is_busy_and_a_500_is_not) {
    auto t = open();
    ASSERT_TRUE(t);
    auto rs = sample(1, 2);
    receiver.answer_next(1, answer::with(502, "bad gateway"));
    auto gateway = t->deliver(views(rs));
    EXPECT_EQ(gateway.transient.code(), errc::busy) << gateway.transient.to_string();
    EXPECT_EQ(gateway.retry_after, milliseconds(0));
    receiver.answer_next(1, answer::with(500, "boom"));
    auto crashed = t->deliver(views(rs));
    EXPECT_EQ(crashed.transient.code(), errc::unavailable) << crashed.transient.to_string();
}

TEST_F(http_target_test, a_400_refuses_the_whole_batch_with_the_status_and_a_body_excerpt) {
    auto t = open();
    ASSERT_TRUE(t);
    receiver.answer_next(1, answer::with(400, "field 'amount' is required" + std::string(1000, '!')));
    auto rs = sample(11, 5);
    auto out = t->deliver(views(rs));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    ASSERT_EQ(out.failures.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(out.failures[i].offset, 11 + i);
        EXPECT_NE(out.failures[i].reason.find("HTTP 400"), std::string::npos) << out.failures[i].reason;
        EXPECT_NE(out.failures[i].reason.find("field 'amount' is required"), std::string::npos);
        EXPECT_LT(out.failures[i].reason.size(), 400u) << "an excerpt, not the whole body";
    }
}

TEST_F(http_target_test, per_record_mode_posts_each_record_and_refuses_only_the_rejected_one) {
    auto t = open("/hook", "&syncline.mode=record");
    ASSERT_TRUE(t);
    receiver.answer_when([](const received_request& r) -> std::optional<answer> {
        if (r.offsets == std::vector<std::uint64_t>{23}) return answer::with(422, "no");
        return std::nullopt;
    });
    auto rs = sample(21, 5);
    auto out = t->deliver(views(rs));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].offset, 23u);
    EXPECT_NE(out.failures[0].reason.find("HTTP 422"), std::string::npos);
    auto got = receiver.requests();
    ASSERT_EQ(got.size(), 5u);
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].idempotency_key, "p1:" + std::to_string(21 + i) + "-" + std::to_string(21 + i));
        EXPECT_TRUE(got[i].signature_valid);
    }
}

TEST_F(http_target_test, a_slow_answer_times_out_and_a_closed_port_is_transient) {
    auto t = open("/hook", "&syncline.timeout_ms=300&syncline.connect_timeout_ms=300");
    ASSERT_TRUE(t);
    receiver.answer_next(1, answer::with(200).after(milliseconds(1500)));
    auto rs = sample(1, 3);
    auto slow = t->deliver(views(rs));
    EXPECT_FALSE(slow.transient.ok());
    EXPECT_EQ(slow.transient.code(), errc::unavailable);
    EXPECT_NE(slow.transient.message().find("timed out"), std::string::npos) << slow.transient.message();
    EXPECT_TRUE(slow.failures.empty());

    receiver.stop();
    auto refused = t->deliver(views(rs));
    EXPECT_FALSE(refused.transient.ok());
    EXPECT_EQ(refused.transient.message().find(secret), std::string::npos);
    receiver.start();
    auto back = t->deliver(views(rs));
    EXPECT_TRUE(back.transient.ok()) << back.transient.message();
}

TEST_F(http_target_test, redirects_are_not_followed_and_stay_transient) {
    auto t = open();
    ASSERT_TRUE(t);
    receiver.answer_next(1, answer::with(301));
    auto out = t->deliver(views(sample(1, 1)));
    EXPECT_FALSE(out.transient.ok());
    EXPECT_NE(out.transient.message().find("redirects are not followed"), std::string::npos) << out.transient.message();
    EXPECT_EQ(receiver.request_count(), 1u);
}

}  // namespace
}  // namespace syncline::testing
