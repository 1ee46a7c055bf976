// amqp:// against a real RabbitMQ broker started here (tests/support/rabbitmq_server.h), one broker
// for the whole binary (it takes 10-20 s to start): messages consumed back from bound queues
// (routing key, body, properties, headers), redelivery under the same message_id, unroutable
// messages dead-lettered, configuration errors at open, an exchange deleted mid-run, and the
// broker stopped mid-run and restarted. Each test uses its own exchange and queues.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "tests/support/rabbitmq_server.h"
#include "targets/target.h"
#include "targets/amqp_target.h"
#include "targets/tests/target_checks.h"

namespace syncline::targets {
namespace {

using syncline::testing::amqp_consumer;
using syncline::testing::consumed_message;
using syncline::testing::rabbitmq_server;
using testing::del;
using testing::deliver;
using testing::deliver_ok;
using testing::upsert;

class amqp_target_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server = new rabbitmq_server();
        std::fprintf(stderr, "rabbitmq-server start-up: %lld ms\n", static_cast<long long>(server->last_start_time().count()));
    }
    static void TearDownTestSuite() {
        delete server;
        server = nullptr;
    }

    std::unique_ptr<target> open(const std::string& uri) {
        auto t = open_target(uri, {"p1"});
        if (!t.ok()) {
            ADD_FAILURE() << t.get_status().to_string();
            return nullptr;
        }
        return std::move(t.value());
    }

    static rabbitmq_server* server;
};

rabbitmq_server* amqp_target_test::server = nullptr;

TEST_F(amqp_target_test, publishes_every_record_persistent_with_its_collection_as_routing_key_and_its_identity_in_headers) {
    amqp_consumer c(*server);
    c.declare_exchange("events", "topic");
    c.declare_queue("all-events", "events", "#");
    auto t = open(server->uri("events"));
    ASSERT_TRUE(t);
    const std::string binary_key("k\0\xff", 3);
    deliver_ok(*t, {upsert(7, "orders", "o-1", R"({"total":12})"), upsert(8, "orders", binary_key, std::string("\0\x01", 2)),
                    del(9, "users", "u-1")});

    auto got = c.take("all-events", 10, std::chrono::seconds(2));
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].routing_key, "orders");
    EXPECT_EQ(got[0].exchange, "events");
    EXPECT_EQ(got[0].body, R"({"total":12})");
    EXPECT_EQ(got[0].message_id, "p1:7");
    EXPECT_EQ(got[0].delivery_mode, 2);
    EXPECT_EQ(got[0].app_id, "syncline");
    EXPECT_EQ(got[0].headers, (std::map<std::string, std::string>{{"syncline-pipeline", "p1"},
                                                                  {"syncline-collection", "orders"},
                                                                  {"syncline-key", "o-1"},
                                                                  {"syncline-op", "upsert"},
                                                                  {"syncline-offset", "7"}}));
    EXPECT_EQ(got[1].headers["syncline-key"], binary_key);
    EXPECT_EQ(got[1].body, std::string("\0\x01", 2));
    EXPECT_EQ(got[1].message_id, "p1:8");
    EXPECT_EQ(got[2].routing_key, "users");
    EXPECT_EQ(got[2].headers["syncline-op"], "delete");
    EXPECT_EQ(got[2].body, "");
    EXPECT_EQ(t->read_state().value(), std::nullopt);
}

TEST_F(amqp_target_test, a_redelivered_batch_is_published_again_under_the_same_message_ids) {
    amqp_consumer c(*server);
    c.declare_exchange("redelivery", "direct");
    c.declare_queue("redelivery-orders", "redelivery", "orders");
    auto t = open(server->uri("redelivery"));
    ASSERT_TRUE(t);
    const std::vector<record> batch = {upsert(20, "orders", "a", "1"), upsert(21, "orders", "b", "2")};
    deliver_ok(*t, batch);
    // A second instance, as after a worker crash: the same records, the same ids.
    auto again = open(server->uri("redelivery"));
    ASSERT_TRUE(again);
    deliver_ok(*again, batch);

    auto got = c.take("redelivery-orders", 10, std::chrono::seconds(2));
    ASSERT_EQ(got.size(), 4u);
    std::vector<std::string> ids;
    for (const auto& m : got) ids.push_back(m.message_id);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<std::string>{"p1:20", "p1:20", "p1:21", "p1:21"}));
}

TEST_F(amqp_target_test, unroutable_messages_are_dead_lettered_with_the_brokers_reason_and_the_rest_delivered) {
    amqp_consumer c(*server);
    c.declare_exchange("sparse", "direct");
    c.declare_queue("sparse-orders", "sparse", "orders");
    auto t = open(server->uri("sparse"));
    ASSERT_TRUE(t);
    auto out = deliver(*t, {upsert(30, "orders", "a", "1"), upsert(31, "nobody", "b", "2"), upsert(32, "orders", "c", "3")});
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].offset, 31u);
    EXPECT_NE(out.failures[0].reason.find("312 NO_ROUTE"), std::string::npos) << out.failures[0].reason;
    EXPECT_NE(out.failures[0].reason.find("routing key 'nobody'"), std::string::npos) << out.failures[0].reason;
    EXPECT_EQ(c.take("sparse-orders", 10, std::chrono::seconds(2)).size(), 2u);

    // mandatory=false: the broker drops unroutable messages without a word, as AMQP does by default.
    auto quiet = open(server->uri("sparse", "mandatory=false"));
    ASSERT_TRUE(quiet);
    deliver_ok(*quiet, {upsert(33, "nobody", "d", "4")});
}

TEST_F(amqp_target_test, configuration_errors_fail_at_open_and_an_unreachable_broker_is_unavailable) {
    auto missing = open_target(server->uri("no-such-exchange"), {"p1"});
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.get_status().code(), errc::invalid_argument);
    EXPECT_NE(missing.get_status().message().find("404"), std::string::npos) << missing.get_status().message();

    // amqp://syncline@127.0.0.1:PORT/amq.topic with the given vhost and password option.
    const auto uri_with = [](const std::string& vhost, const std::string& password_option) {
        return "amqp://syncline@127.0.0.1:" + std::to_string(server->port()) + "/amq.topic?vhost=" + vhost + "&" + password_option;
    };
    ASSERT_EQ(::setenv("SYNCLINE_AMQP_TEST_WRONG", "not-the-password", 1), 0);
    auto wrong_password = open_target(uri_with("syncline-test", "password_env=SYNCLINE_AMQP_TEST_WRONG"), {"p1"});
    ASSERT_FALSE(wrong_password.ok());
    EXPECT_EQ(wrong_password.get_status().code(), errc::invalid_argument) << wrong_password.get_status().message();
    EXPECT_EQ(wrong_password.get_status().message().find("not-the-password"), std::string::npos);

    auto unknown_vhost = open_target(uri_with("elsewhere", "password_file=" + server->password_file()), {"p1"});
    ASSERT_FALSE(unknown_vhost.ok());
    EXPECT_EQ(unknown_vhost.get_status().code(), errc::invalid_argument) << unknown_vhost.get_status().message();

    const int closed_port = syncline::testing::free_tcp_port();
    auto away = open_target("amqp://127.0.0.1:" + std::to_string(closed_port) + "/x?connect_timeout_ms=500", {"p1"});
    ASSERT_FALSE(away.ok());
    EXPECT_EQ(away.get_status().code(), errc::unavailable) << away.get_status().message();

    // declare_exchange=TYPE creates the missing exchange (durable), so open succeeds.
    auto declared = open(server->uri("declared-here", "declare_exchange=topic"));
    ASSERT_TRUE(declared);
    amqp_consumer c(*server);
    c.declare_queue("declared-all", "declared-here", "#");
    deliver_ok(*declared, {upsert(40, "orders", "a", "1")});
    EXPECT_EQ(c.take("declared-all", 10, std::chrono::seconds(2)).size(), 1u);
}

TEST_F(amqp_target_test, an_exchange_deleted_mid_run_stalls_delivery_as_transient_until_it_is_back) {
    amqp_consumer c(*server);
    c.declare_exchange("fleeting", "fanout");
    c.declare_queue("fleeting-all", "fleeting", "");
    auto t = open(server->uri("fleeting"));
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(50, "orders", "a", "1")});
    c.delete_exchange("fleeting");
    auto out = deliver(*t, {upsert(51, "orders", "b", "2")});
    ASSERT_FALSE(out.transient.ok());
    EXPECT_TRUE(out.failures.empty());
    EXPECT_NE(out.transient.message().find("404"), std::string::npos) << out.transient.message();
    c.declare_exchange("fleeting", "fanout");
    c.declare_queue("fleeting-all", "fleeting", "");
    deliver_ok(*t, {upsert(51, "orders", "b", "2")});
    auto got = c.take("fleeting-all", 10, std::chrono::seconds(2));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].message_id, "p1:51");
}

// Last: it restarts the broker.
TEST_F(amqp_target_test, the_broker_stopped_mid_run_is_a_transient_failure_and_delivery_resumes_after_its_restart) {
    {
        amqp_consumer c(*server);
        c.declare_exchange("durable-events", "topic");
        c.declare_queue("durable-all", "durable-events", "#");
    }
    auto t = open(server->uri("durable-events", "connect_timeout_ms=500&timeout_ms=2000"));
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(60, "orders", "a", "1")});
    server->stop();
    auto out = deliver(*t, {upsert(61, "orders", "b", "2")});
    ASSERT_FALSE(out.transient.ok());
    EXPECT_TRUE(out.failures.empty());
    server->start();
    std::fprintf(stderr, "rabbitmq-server restart: %lld ms\n", static_cast<long long>(server->last_start_time().count()));
    deliver_ok(*t, {upsert(61, "orders", "b", "2")});
    // Both persistent messages are in the durable queue: the first survived the restart.
    amqp_consumer c(*server);
    auto got = c.take("durable-all", 10, std::chrono::seconds(2));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].message_id, "p1:60");
    EXPECT_EQ(got[1].message_id, "p1:61");
}

}  // namespace
}  // namespace syncline::targets
