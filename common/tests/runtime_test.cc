#include "common/runtime.h"

#include <gtest/gtest.h>

#include <vector>

namespace syncline::runtime {
namespace {

using namespace std::chrono_literals;

const logger log_test("runtime_test");

// A PULL socket bound through open_channels and a PUSH connected to what it reports.
struct pair_fixture {
    zmq::context_t context;
    zmq::socket_t pull{context, zmq::socket_type::pull};
    zmq::socket_t push{context, zmq::socket_type::push};
    open_channels_result channels;

    pair_fixture() {
        auto opened = open_channels(context, std::nullopt, log_test,
                                    {{&pull, "acks", "tcp://127.0.0.1:*", {.recv_hwm = 100, .immediate = false}}}, {});
        EXPECT_TRUE(opened.ok()) << opened.get_status().to_string();
        channels = std::move(opened.value());
        zmqx::tune(push, {.send_hwm = 100, .immediate = false});
        EXPECT_TRUE(zmqx::connect(push, channels.bound.at(0).second.at(0)).ok());
    }
};

TEST(runtime, open_channels_reports_the_resolved_endpoint_of_every_bound_socket) {
    pair_fixture f;
    ASSERT_EQ(f.channels.bound.size(), 1u);
    EXPECT_EQ(f.channels.bound[0].first, "acks");
    const std::string& at = f.channels.bound[0].second.at(0);
    EXPECT_EQ(at.rfind("tcp://127.0.0.1:", 0), 0u) << at;
    EXPECT_EQ(at.find('*'), std::string::npos) << at;  // The real port, not the wildcard.
    EXPECT_EQ(f.channels.zap, nullptr);                 // No CURVE, no ZAP thread.
}

TEST(runtime, open_channels_names_an_endpoint_that_does_not_bind) {
    zmq::context_t context;
    zmq::socket_t pull(context, zmq::socket_type::pull);
    auto opened = open_channels(context, std::nullopt, log_test, {{&pull, "acks", "tcp://256.0.0.1:1", {}}}, {});
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.get_status().message().find("256.0.0.1"), std::string::npos) << opened.get_status().to_string();
}

TEST(runtime, drain_hands_on_the_pipelines_messages_and_counts_the_rest_as_dropped) {
    pair_fixture f;
    ASSERT_TRUE(zmqx::send(f.push, wire::encode(wire::hello{"orders", 1}), 1000ms));
    ASSERT_TRUE(zmqx::send(f.push, "garbage", "frames", 1000ms));                     // Does not decode.
    ASSERT_TRUE(zmqx::send(f.push, wire::encode(wire::hello{"billing", 2}), 1000ms));  // Another pipeline.
    ASSERT_TRUE(zmqx::send(f.push, wire::encode(wire::hello{"orders", 3}), 1000ms));
    // All four are queued once the last one is: a PUSH to one peer keeps order.
    std::vector<wire::message> messages;
    metrics::registry r;
    auto& bad = r.add_counter("bad_total", "dropped");
    drop_counter dropped(log_test, &bad);
    std::size_t taken = 0;
    while (taken < 4) {
        zmq::pollitem_t items[] = {{f.pull.handle(), 0, ZMQ_POLLIN, 0}};
        ASSERT_TRUE(zmqx::poll(items, 1000ms).ok());
        taken += drain(f.pull, 10, false, "orders", dropped,
                       [&](wire::message& m, const std::string& routing_id) {
                           EXPECT_TRUE(routing_id.empty());
                           messages.push_back(m);
                       });
    }
    EXPECT_EQ(taken, 4u);
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(std::get<wire::hello>(messages[0]).ventilator_epoch, 1u);
    EXPECT_EQ(std::get<wire::hello>(messages[1]).ventilator_epoch, 3u);
    EXPECT_EQ(dropped.total(), 2u);
    EXPECT_EQ(bad.value(), 2u);
    // Nothing queued: nothing taken, nothing handled.
    EXPECT_EQ(drain(f.pull, 10, false, "orders", dropped, [&](wire::message&, const std::string&) { FAIL(); }), 0u);
}

TEST(runtime, drain_takes_at_most_max_messages) {
    pair_fixture f;
    for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(zmqx::send(f.push, wire::encode(wire::hello{"orders", i}), 1000ms));
    drop_counter dropped(log_test);
    std::size_t handled = 0;
    // Wait for the first, then take at most two.
    zmq::pollitem_t items[] = {{f.pull.handle(), 0, ZMQ_POLLIN, 0}};
    ASSERT_TRUE(zmqx::poll(items, 1000ms).ok());
    EXPECT_LE(drain(f.pull, 2, false, "orders", dropped, [&](wire::message&, const std::string&) { ++handled; }), 2u);
    EXPECT_LE(handled, 2u);
}

TEST(runtime, pipeline_of_reads_every_message_type) {
    EXPECT_EQ(pipeline_of(wire::hello{"a", 1}), "a");
    wire::ack a;
    a.pipeline = "b";
    EXPECT_EQ(pipeline_of(a), "b");
    EXPECT_EQ(pipeline_of(wire::sent{"c", {}}), "c");
}

TEST(runtime, observability_without_listen_serves_nothing_and_keeps_labels) {
    observability o(metrics::const_labels{{"pipeline", "orders"}});
    ASSERT_TRUE(o.serve({}, "test").ok());
    o.registry.add_counter("x_total", "x").inc();
    EXPECT_NE(o.registry.expose().find("x_total{pipeline=\"orders\"} 1"), std::string::npos) << o.registry.expose();
}

}  // namespace
}  // namespace syncline::runtime
