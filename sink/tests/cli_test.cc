// to_argv -> parse_cli gives back the options (what `syncline run` and the tests start the sink with).
#include <gtest/gtest.h>

#include "sink/sink.h"

namespace syncline::sink {
namespace {

sink_options round_trip(const sink_options& o) {
    std::vector<std::string> args = to_argv(o);
    args.insert(args.begin(), "syncline-sink");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    auto parsed = parse_cli(static_cast<int>(argv.size()), argv.data());
    EXPECT_TRUE(parsed.ok()) << parsed.get_status().to_string();
    return parsed.ok() ? parsed->options : sink_options{};
}

void expect_same(const sink_options& a, const sink_options& b) {
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(a.pipeline, b.pipeline);
    EXPECT_EQ(a.log, b.log);
    EXPECT_EQ(a.acks, b.acks);
    EXPECT_EQ(a.control, b.control);
    EXPECT_EQ(a.commit_interval, b.commit_interval);
    EXPECT_EQ(a.sync, b.sync);
    EXPECT_EQ(a.on_failure, b.on_failure);
    EXPECT_EQ(a.metrics.listen, b.metrics.listen);
    EXPECT_EQ(a.metrics.address_file, b.metrics.address_file);
}

TEST(sink_cli, defaults_round_trip) {
    sink_options o;
    o.state = "/tmp/state";
    expect_same(round_trip(o), o);
    // Only what identifies the sink's place in the pipeline is spelled out.
    EXPECT_EQ(to_argv(o), (std::vector<std::string>{"--state", "/tmp/state", "--pipeline", "default", "--acks",
                                                     o.acks, "--control", o.control}));
}

TEST(sink_cli, every_option_round_trips) {
    sink_options o;
    o.state = "/tmp/state dir";
    o.pipeline = "orders.v2";
    o.log = "/tmp/log";
    o.acks = "ipc:///tmp/acks.sock,tcp://127.0.0.1:*";
    o.control = "tcp://127.0.0.1:7000";
    o.commit_interval = std::chrono::milliseconds(7);
    o.sync = false;
    o.on_failure = failure_policy::stop;
    o.metrics.listen = "127.0.0.1:0";
    o.metrics.address_file = "/tmp/sink.metrics";
    expect_same(round_trip(o), o);
}

}  // namespace
}  // namespace syncline::sink
