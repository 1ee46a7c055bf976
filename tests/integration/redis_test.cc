// The redis:// target end to end (issue 5): the real sink, ventilator and workers delivering into
// a real redis-server started here, checked with `syncline verify`; a worker killed mid-run,
// a redelivery and a replay of old offsets leave the state as it was; a Redis outage stalls the
// pipeline, which resumes and completes when the server is back.
#include <csignal>

#include "tests/integration/target_pipeline.h"
#include "tests/support/redis_server.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class redis_pipeline_test : public target_pipeline {
protected:
    redis_server server;
};

TEST_F(redis_pipeline_test, delivers_100k_with_4_workers_one_killed_and_redelivery_and_replay_change_nothing) {
    target = server.uri(0, "prefix=sync:");
    append_sample(*writer, 100'000, 5'000, 51);
    auto sink = start_sink();
    auto workers = start_workers(4);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(20'000)) << "committed " << committed_now();
    workers[0].signal(SIGKILL);
    ASSERT_TRUE(workers[0].wait_for(seconds(5)).has_value());
    ASSERT_TRUE(wait_committed(100'000)) << "committed " << committed_now();

    // Stopped cleanly: every process drains and exits 0 (offsets set needs the pipeline stopped).
    ventilator.signal(SIGTERM);
    EXPECT_EQ(ventilator.wait_or_kill(seconds(20)), 0);
    for (std::size_t i = 1; i < workers.size(); ++i) workers[i].signal(SIGTERM);
    for (std::size_t i = 1; i < workers.size(); ++i) EXPECT_EQ(workers[i].wait_or_kill(seconds(20)), 0);
    sink.signal(SIGTERM);
    EXPECT_EQ(sink.wait_or_kill(seconds(20)), 0);

    auto verified = verify();
    ASSERT_EQ(verified.code, 0) << verified.out;
    const auto before = target_state();
    ASSERT_GT(before.size(), 10'000u);
    std::size_t tombstones = 0;
    for (const auto& [key, row] : before) tombstones += row.deleted ? 1 : 0;
    EXPECT_GT(tombstones, 0u);

    // A replay of the first half: every change is at or below what the target holds.
    auto replay = syncline({"replay", "--log", log_dir, "--state", state, "--pipeline", pipeline, "--from", "1", "--to", "50000",
                            "--target", target, "--workers", "2"},
                           seconds(60));
    ASSERT_EQ(replay.code, 0) << replay.out;
    EXPECT_EQ(target_state(), before);

    // Redelivery: rewind the pipeline to the second half and run it again.
    auto rewind = syncline({"offsets", "set", "--state", state, "--pipeline", pipeline, "--to-offset", "50001", "--execute"});
    ASSERT_EQ(rewind.code, 0) << rewind.out;
    auto rerun = syncline({"run", "--log", log_dir, "--state", state, "--pipeline", pipeline, "--target", target,
                           "--workers", "2", "--until-caught-up"},
                          seconds(60));
    ASSERT_EQ(rerun.code, 0) << rerun.out;
    EXPECT_EQ(committed_now(), 100'000u);
    EXPECT_EQ(target_state(), before);
    verified = verify();
    EXPECT_EQ(verified.code, 0) << verified.out;
}

TEST_F(redis_pipeline_test, an_outage_of_the_server_stalls_the_pipeline_which_completes_when_it_is_back) {
    target = server.uri(0, "connect_timeout_ms=500&timeout_ms=2000");
    append_sample(*writer, 20'000, 2'000, 61);
    auto sink = start_sink();
    auto workers = start_workers(2);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(20'000)) << "committed " << committed_now();

    server.stop();
    append_sample(*writer, 30'000, 2'000, 62);
    // The workers notice and retry.
    ASSERT_TRUE(eventually([&] {
        return count_lines_with(worker_log(1), "target unavailable") + count_lines_with(worker_log(2), "target unavailable") > 0;
    }, seconds(20)));
    // Several seconds down (longer than a worker's retries, so batches are nacked and sent again):
    // nothing appended since the server stopped can be committed.
    EXPECT_FALSE(eventually([&] { return committed_now() > 20'000; }, seconds(5)))
        << "committed " << committed_now() << " while Redis was down";
    EXPECT_TRUE(sink.running());
    for (auto& w : workers) EXPECT_TRUE(w.running());

    server.start();
    ASSERT_TRUE(wait_committed(50'000)) << "committed " << committed_now();
    auto verified = verify();
    EXPECT_EQ(verified.code, 0) << verified.out;
}

}  // namespace
}  // namespace syncline::testing
