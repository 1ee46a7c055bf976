// The nats:// target against a real nats-server with JetStream started by the test
// (tests/support/nats_server.h): what a consumer reads back (subject, headers, body), a
// redelivered batch stored once thanks to Nats-Msg-Id, stream creation, permanent refusals
// dead-lettered with the server's text, a missing stream, and the server stopped and restarted.
#include <gtest/gtest.h>

#include <set>

#include "tests/support/harness.h"
#include "tests/support/nats_server.h"
#include "targets/target.h"
#include "targets/tests/test_util.h"

namespace syncline::testing {
namespace {

using std::chrono::seconds;
using targets::testing::del;
using targets::testing::upsert;
using targets::testing::views;

class nats_target_test : public ::testing::Test {
protected:
    std::unique_ptr<targets::target> open(const std::string& prefix, const std::string& query = "ack_timeout_ms=2000") {
        auto t = targets::open_target(server.uri(prefix, query), {"p1"});
        EXPECT_TRUE(t.ok()) << t.get_status().message();
        return t.ok() ? std::move(t.value()) : nullptr;
    }

    nats_server server;
};

TEST_F(nats_target_test, publishes_each_record_with_its_headers_and_value_as_the_body) {
    server.create_stream("SYNC", "sync.>");
    auto t = open("sync");
    ASSERT_TRUE(t);
    const std::vector<record> batch = {upsert(7, "orders", "o-1", R"({"total":12})"),
                                       upsert(8, "orders.eu", "key with space", R"({"total":3})"),
                                       del(9, "orders", "o-1")};
    const auto out = t->deliver(views(batch));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_TRUE(out.failures.empty());

    const auto stored = server.read_stream("SYNC");
    ASSERT_EQ(stored.size(), 3u);
    EXPECT_EQ(stored[0].subject, "sync.orders");
    EXPECT_EQ(stored[0].body, R"({"total":12})");
    EXPECT_EQ(stored[0].headers.at("Nats-Msg-Id"), "p1:7");
    EXPECT_EQ(stored[0].headers.at("Syncline-Op"), "upsert");
    EXPECT_EQ(stored[0].headers.at("Syncline-Offset"), "7");
    EXPECT_EQ(stored[0].headers.at("Syncline-Collection"), "orders");
    EXPECT_EQ(stored[0].headers.at("Syncline-Key"), "o-1");
    EXPECT_EQ(stored[1].subject, "sync.orders%2Eeu");  // One token: the '.' escaped.
    EXPECT_EQ(stored[1].headers.at("Syncline-Collection"), "orders.eu");
    EXPECT_EQ(stored[1].headers.at("Syncline-Key"), "key%20with%20space");
    EXPECT_EQ(stored[2].subject, "sync.orders");
    EXPECT_EQ(stored[2].body, "");
    EXPECT_EQ(stored[2].headers.at("Syncline-Op"), "delete");
    EXPECT_EQ(stored[2].headers.at("Nats-Msg-Id"), "p1:9");
    EXPECT_EQ(t->read_state().value(), std::nullopt);
}

TEST_F(nats_target_test, a_redelivered_batch_is_stored_once) {
    server.create_stream("SYNC", "sync.>");
    auto t = open("sync");
    ASSERT_TRUE(t);
    std::vector<record> batch;
    for (std::uint64_t o = 1; o <= 50; ++o) batch.push_back(upsert(o, o % 2 ? "a" : "b", "k" + std::to_string(o), "v"));
    for (int round = 0; round < 3; ++round) {
        const auto out = t->deliver(views(batch));
        ASSERT_TRUE(out.transient.ok()) << out.transient.message();
        EXPECT_TRUE(out.failures.empty());
    }
    // Another target instance (a restarted worker) sending part of it again.
    auto other = open("sync");
    ASSERT_TRUE(other);
    const auto out = other->deliver(views({batch.begin() + 10, batch.begin() + 20}));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();

    const auto stored = server.read_stream("SYNC");
    ASSERT_EQ(stored.size(), 50u);
    std::set<std::string> ids;
    for (const auto& m : stored) ids.insert(m.headers.at("Nats-Msg-Id"));
    EXPECT_EQ(ids.size(), 50u);
}

TEST_F(nats_target_test, creates_its_stream_when_asked) {
    auto t = open("made.here", "create_stream=MADE&duplicate_window_s=60");
    ASSERT_TRUE(t);
    const auto out = t->deliver(views({upsert(1, "c", "k", "v")}));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    const auto stored = server.read_stream("MADE");
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(stored[0].subject, "made.here.c");
    // Opening again finds the stream there: not an error.
    EXPECT_TRUE(open("made.here", "create_stream=MADE"));
}

TEST_F(nats_target_test, a_message_the_stream_refuses_is_dead_lettered_with_the_servers_reason) {
    server.create_stream("SMALL", "small.>", 120, 256);
    auto t = open("small");
    ASSERT_TRUE(t);
    const auto out = t->deliver(views({upsert(1, "c", "k1", "short"), upsert(2, "c", "k2", std::string(1000, 'x')),
                                       upsert(3, "c", "k3", "short too")}));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].offset, 2u);
    EXPECT_NE(out.failures[0].reason.find("small.c"), std::string::npos) << out.failures[0].reason;
    EXPECT_NE(out.failures[0].reason.find("maximum"), std::string::npos) << out.failures[0].reason;
    const auto stored = server.read_stream("SMALL");
    ASSERT_EQ(stored.size(), 2u);
    EXPECT_EQ(stored[1].headers.at("Syncline-Offset"), "3");
}

TEST_F(nats_target_test, no_stream_for_the_subject_is_transient_unless_dead_lettering_is_asked) {
    auto t = open("nostream");
    ASSERT_TRUE(t);
    auto out = t->deliver(views({upsert(1, "c", "k", "v")}));
    EXPECT_FALSE(out.transient.ok());
    EXPECT_TRUE(out.failures.empty());
    EXPECT_NE(out.transient.message().find("nostream.c"), std::string::npos) << out.transient.message();

    auto strict = open("nostream", "missing_stream=dead_letter&ack_timeout_ms=2000");
    ASSERT_TRUE(strict);
    out = strict->deliver(views({upsert(1, "c", "k", "v"), upsert(2, "d", "k", "v")}));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    ASSERT_EQ(out.failures.size(), 2u);
    EXPECT_NE(out.failures[0].reason.find("esponders"), std::string::npos) << out.failures[0].reason;
}

TEST_F(nats_target_test, a_stopped_server_is_transient_and_delivery_resumes_after_its_restart) {
    server.create_stream("SYNC", "sync.>");
    auto t = open("sync", "ack_timeout_ms=1000");
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->deliver(views({upsert(1, "c", "k1", "v1")})).transient.ok());

    server.stop();
    const std::vector<record> batch = {upsert(2, "c", "k2", "v2"), upsert(3, "c", "k3", "v3")};
    const auto down = t->deliver(views(batch));
    EXPECT_FALSE(down.transient.ok());
    EXPECT_TRUE(down.failures.empty());

    server.start();
    // libnats reconnects by itself and JetStream recovers the stream: retried like the worker does.
    std::string last_error;
    EXPECT_TRUE(eventually(
        [&] {
            const auto out = t->deliver(views(batch));
            last_error = out.transient.message();
            return out.transient.ok() && out.failures.empty();
        },
        seconds(30)))
        << last_error;
    const auto stored = server.read_stream("SYNC");
    ASSERT_EQ(stored.size(), 3u);
    EXPECT_EQ(stored[2].headers.at("Nats-Msg-Id"), "p1:3");
}

TEST_F(nats_target_test, an_unreachable_server_is_unavailable_at_open) {
    const int port = server.port();
    server.stop();
    auto t = targets::open_target("nats://127.0.0.1:" + std::to_string(port) + "/sync?connect_timeout_ms=500", {"p1"});
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.get_status().code(), errc::unavailable) << t.get_status().message();
}

}  // namespace
}  // namespace syncline::testing
