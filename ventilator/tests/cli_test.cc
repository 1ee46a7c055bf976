// to_argv -> parse_cli gives back the options (what `syncline run` and the tests start the ventilator with).
#include <gtest/gtest.h>

#include "ventilator/ventilator.h"

namespace syncline::ventilator {
namespace {

ventilator_options round_trip(const ventilator_options& o) {
    std::vector<std::string> args = to_argv(o);
    args.insert(args.begin(), "syncline-ventilator");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    auto parsed = parse_cli(static_cast<int>(argv.size()), argv.data());
    EXPECT_TRUE(parsed.ok()) << parsed.get_status().to_string();
    return parsed.ok() ? parsed->options : ventilator_options{};
}

void expect_same(const ventilator_options& a, const ventilator_options& b) {
    EXPECT_EQ(a.log, b.log);
    EXPECT_EQ(a.pipeline, b.pipeline);
    EXPECT_EQ(a.work, b.work);
    EXPECT_EQ(a.control, b.control);
    EXPECT_EQ(a.batch_records, b.batch_records);
    EXPECT_EQ(a.batch_bytes, b.batch_bytes);
    EXPECT_EQ(a.window.max_batches, b.window.max_batches);
    EXPECT_EQ(a.window.ack_timeout, b.window.ack_timeout);
    EXPECT_EQ(a.tail_interval, b.tail_interval);
    EXPECT_EQ(a.drain_timeout, b.drain_timeout);
    EXPECT_EQ(a.stall_warning, b.stall_warning);
    EXPECT_EQ(a.to, b.to);
    EXPECT_EQ(a.filter.collections, b.filter.collections);
    EXPECT_EQ(a.filter.upserts, b.filter.upserts);
    EXPECT_EQ(a.filter.deletes, b.filter.deletes);
    EXPECT_EQ(a.order, b.order);
    EXPECT_EQ(a.metrics.listen, b.metrics.listen);
    EXPECT_EQ(a.metrics.address_file, b.metrics.address_file);
}

TEST(ventilator_cli, defaults_round_trip) {
    ventilator_options o;
    o.log = "/tmp/log";
    expect_same(round_trip(o), o);
    EXPECT_EQ(to_argv(o).size(), 8u);  // --log, --pipeline, --work, --control: nothing else differs.
}

TEST(ventilator_cli, every_option_round_trips) {
    ventilator_options o;
    o.log = "/tmp/log dir";
    o.pipeline = "p1";
    o.work = "ipc:///tmp/work.sock,tcp://127.0.0.1:*";
    o.control = "tcp://127.0.0.1:7001";
    o.batch_records = 17;
    o.batch_bytes = 4096;
    o.window.max_batches = 3;
    o.window.ack_timeout = std::chrono::milliseconds(1500);
    o.tail_interval = std::chrono::milliseconds(5);
    o.drain_timeout = std::chrono::milliseconds(0);
    o.stall_warning = std::chrono::milliseconds(250);
    o.to = 1234;
    o.filter.collections = {"orders", "acc*"};
    o.filter.deletes = false;
    o.order = ordering::key;
    o.metrics.listen = "[::1]:0";
    o.metrics.address_file = "/tmp/v.metrics";
    expect_same(round_trip(o), o);
    o.filter.deletes = true;
    o.filter.upserts = false;
    expect_same(round_trip(o), o);
}

}  // namespace
}  // namespace syncline::ventilator
