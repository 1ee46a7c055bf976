// amqp:// end to end: the real sink, ventilator and workers publishing to a RabbitMQ broker started
// here (tests/support/rabbitmq_server.h), read back by a consumer from a queue bound to every
// routing key. A publish target cannot be read back by `syncline verify`; the check is the queue:
// every offset arrived at least once, each message's id is "<pipeline>:<offset>" of the record it
// carries (so duplicates carry the same id), and its routing key is its collection.
#include <csignal>
#include <map>

#include "tests/integration/target_pipeline.h"
#include "tests/support/rabbitmq_server.h"

namespace syncline::testing {
namespace {

using std::chrono::seconds;

class amqp_pipeline_test : public target_pipeline {
protected:
    std::string on_failure() override { return "broker log: " + server.dir() + "/rabbitmq.log"; }

    rabbitmq_server server;
};

TEST_F(amqp_pipeline_test, delivers_10k_with_4_workers_one_killed_and_every_redelivery_keeps_its_message_id) {
    constexpr std::uint64_t n = 10'000;
    amqp_consumer consumer(server);
    consumer.declare_exchange("changes", "topic");
    consumer.declare_queue("changes-all", "changes", "#");
    target = server.uri("changes");
    append_sample(*writer, n, 1'000, 71);  // Collections a/b/c, repeated keys, ~10% deletes.
    auto sink = start_sink();
    auto workers = start_workers(4);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(2'000)) << "committed " << committed_now();
    workers[0].signal(SIGKILL);
    ASSERT_TRUE(workers[0].wait_for(seconds(5)).has_value());
    ASSERT_TRUE(wait_committed(n)) << "committed " << committed_now();
    ventilator.signal(SIGTERM);
    EXPECT_EQ(ventilator.wait_or_kill(seconds(20)), 0);
    for (std::size_t i = 1; i < workers.size(); ++i) workers[i].signal(SIGTERM);
    for (std::size_t i = 1; i < workers.size(); ++i) EXPECT_EQ(workers[i].wait_or_kill(seconds(20)), 0);
    sink.signal(SIGTERM);
    EXPECT_EQ(sink.wait_or_kill(seconds(20)), 0);

    // A redelivery of the second half, whatever the kill above hit: the same messages again.
    auto rewind = syncline({"offsets", "set", "--state", state, "--pipeline", pipeline, "--to-offset", "5001", "--execute"});
    ASSERT_EQ(rewind.code, 0) << rewind.out;
    auto rerun = syncline({"run", "--log", log_dir, "--state", state, "--pipeline", pipeline, "--target", target,
                           "--workers", "2", "--until-caught-up"},
                          seconds(60));
    ASSERT_EQ(rerun.code, 0) << rerun.out;

    const auto got = consumer.take("changes-all", 100 * n, seconds(3));
    std::map<std::uint64_t, int> copies;
    std::size_t bad_ids = 0, bad_keys = 0;
    for (const auto& m : got) {
        const std::uint64_t offset = std::stoull(m.headers.at("syncline-offset"));
        ++copies[offset];
        if (m.message_id != "p1:" + std::to_string(offset) && ++bad_ids <= 5) ADD_FAILURE() << m.message_id << " carries offset " << offset;
        if (m.routing_key != m.headers.at("syncline-collection") && ++bad_keys <= 5) ADD_FAILURE() << "routing key " << m.routing_key;
        EXPECT_EQ(m.delivery_mode, 2);
    }
    EXPECT_EQ(bad_ids, 0u);
    EXPECT_EQ(bad_keys, 0u);
    std::size_t missing = 0, repeated = 0;
    for (std::uint64_t o = 1; o <= n; ++o) {
        if (copies[o] == 0 && ++missing <= 5) ADD_FAILURE() << "offset " << o << " never published";
        if (copies[o] > 1) ++repeated;
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_GE(repeated, n / 2) << "the rewound half was not published again";
    std::size_t retries = 0;
    for (int i = 1; i <= 4; ++i) retries += count_lines_with(worker_log(i), "target unavailable");
    std::fprintf(stderr, "broker start-up %lld ms, messages %zu, offsets published more than once %zu, worker retry lines %zu\n",
                 static_cast<long long>(server.last_start_time().count()), got.size(), repeated, retries);
}

}  // namespace
}  // namespace syncline::testing
