// to_argv -> parse_cli gives back the options (what `syncline run` and the tests start workers with).
#include <gtest/gtest.h>

#include "workers/worker.h"

namespace syncline::workers {
namespace {

worker_options round_trip(const worker_options& o) {
    std::vector<std::string> args = to_argv(o);
    args.insert(args.begin(), "syncline-worker");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    auto parsed = parse_cli(static_cast<int>(argv.size()), argv.data());
    EXPECT_TRUE(parsed.ok()) << parsed.get_status().to_string();
    return parsed.ok() ? parsed->options : worker_options{};
}

void expect_same(const worker_options& a, const worker_options& b) {
    EXPECT_EQ(a.target, b.target);
    EXPECT_EQ(a.pipeline, b.pipeline);
    EXPECT_EQ(a.origin_pipeline, b.origin_pipeline);
    EXPECT_EQ(a.work, b.work);
    EXPECT_EQ(a.acks, b.acks);
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.max_retries, b.max_retries);
    EXPECT_EQ(a.isolate_after_attempts, b.isolate_after_attempts);
    EXPECT_EQ(a.retry_backoff, b.retry_backoff);
    EXPECT_EQ(a.coalesce_records, b.coalesce_records);
    EXPECT_EQ(a.transform, b.transform);
    EXPECT_EQ(a.transform_max_instructions, b.transform_max_instructions);
    EXPECT_EQ(a.transform_max_memory_mb, b.transform_max_memory_mb);
    EXPECT_EQ(a.metrics.listen, b.metrics.listen);
    EXPECT_EQ(a.metrics.address_file, b.metrics.address_file);
}

TEST(worker_cli, defaults_round_trip) {
    worker_options o;
    o.id = "w1";
    o.origin_pipeline = o.pipeline;  // What parse_cli fills in.
    expect_same(round_trip(o), o);
    EXPECT_EQ(to_argv(o).size(), 10u);  // --target, --pipeline, --work, --acks, --id.
}

TEST(worker_cli, every_option_round_trips) {
    worker_options o;
    o.target = "postgresql://app@127.0.0.1:5432/db?table=t&password_file=/etc/pw";
    o.pipeline = "p1.replay";
    o.origin_pipeline = "p1";
    o.work = "tcp://127.0.0.1:7002";
    o.acks = "ipc:///tmp/acks.sock";
    o.id = "p1-worker-3";
    o.max_retries = 1;
    o.isolate_after_attempts = 3;
    o.retry_backoff = std::chrono::milliseconds(10);
    o.coalesce_records = 1;
    o.transform = "/tmp/t.lua";
    o.transform_max_instructions = 5000;
    o.transform_max_memory_mb = 8;
    o.metrics.listen = "127.0.0.1:0";
    o.metrics.address_file = "/tmp/w.metrics";
    expect_same(round_trip(o), o);
}

}  // namespace
}  // namespace syncline::workers
