// The rocksdb: mirror target end to end (issue 5): four worker processes share one mirror, one
// writes and the others stand by (RocksDB's one-writer lock); killing the writer mid-run hands
// the mirror to a standby and loses nothing (`syncline verify` clean); a replay of the first half
// and a redelivery of the second half leave the mirror as it was.
#include <csignal>

#include "tests/integration/target_pipeline.h"

namespace syncline::testing {
namespace {

using std::chrono::seconds;

constexpr const char* standby_line = "held by another process";
constexpr const char* started_line = "started id=";  // Logged once the worker has its target.

class rocksdb_pipeline_test : public target_pipeline {
protected:
    void SetUp() override {
        target_pipeline::SetUp();
        target = "rocksdb:" + (dir / "mirror");
    }
};

TEST_F(rocksdb_pipeline_test, one_of_4_workers_writes_a_standby_takes_over_when_it_dies_and_replays_change_nothing) {
    append_sample(*writer, 100'000, 5'000, 71);
    auto sink = start_sink();
    auto workers = start_workers(4);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(20'000)) << "committed " << committed_now();

    // One worker has the mirror; the three others wait for its lock.
    std::vector<int> writers;
    ASSERT_TRUE(eventually([&] {
        writers.clear();
        int standbys = 0;
        for (int i = 1; i <= 4; ++i) {
            if (count_lines_with(worker_log(i), started_line) > 0) writers.push_back(i);
            else if (count_lines_with(worker_log(i), standby_line) > 0) ++standbys;
        }
        return writers.size() == 1 && standbys == 3;
    }, seconds(20))) << writers.size() << " workers started";
    const int writer_index = writers.front();
    workers[writer_index - 1].signal(SIGKILL);
    ASSERT_TRUE(workers[writer_index - 1].wait_for(seconds(5)).has_value());
    EXPECT_LT(committed_now(), 100'000u) << "the writer finished before it was killed";
    ASSERT_TRUE(wait_committed(100'000)) << "committed " << committed_now();
    int takeovers = 0;
    for (int i = 1; i <= 4; ++i) takeovers += i != writer_index && count_lines_with(worker_log(i), started_line) > 0;
    EXPECT_EQ(takeovers, 1) << "exactly one standby should have taken the mirror over";

    // verify needs the mirror: stop the pipeline first (the lock is one process's).
    ventilator.signal(SIGTERM);
    EXPECT_EQ(ventilator.wait_or_kill(seconds(20)), 0);
    for (int i = 1; i <= 4; ++i) {
        if (i != writer_index) workers[i - 1].signal(SIGTERM);
    }
    for (int i = 1; i <= 4; ++i) {
        if (i != writer_index) {
            EXPECT_EQ(workers[i - 1].wait_or_kill(seconds(20)), 0);
        }
    }
    sink.signal(SIGTERM);
    EXPECT_EQ(sink.wait_or_kill(seconds(20)), 0);

    auto verified = verify();
    ASSERT_EQ(verified.code, 0) << verified.out;
    const auto before = target_state();
    ASSERT_GT(before.size(), 10'000u);

    auto replay = syncline({"replay", "--log", log_dir, "--state", state, "--pipeline", pipeline, "--from", "1", "--to", "50000",
                            "--target", target},
                           seconds(60));
    ASSERT_EQ(replay.code, 0) << replay.out;
    EXPECT_EQ(target_state(), before);

    auto rewind = syncline({"offsets", "set", "--state", state, "--pipeline", pipeline, "--to-offset", "50001", "--execute"});
    ASSERT_EQ(rewind.code, 0) << rewind.out;
    auto rerun = syncline({"run", "--log", log_dir, "--state", state, "--pipeline", pipeline, "--target", target,
                           "--workers", "1", "--until-caught-up"},
                          seconds(60));
    ASSERT_EQ(rerun.code, 0) << rerun.out;
    EXPECT_EQ(committed_now(), 100'000u);
    EXPECT_EQ(target_state(), before);
    verified = verify();
    EXPECT_EQ(verified.code, 0) << verified.out;
}

}  // namespace
}  // namespace syncline::testing
