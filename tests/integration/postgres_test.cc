// The pipeline end to end into a real PostgreSQL (issue 5): the real sink, ventilator and workers
// as processes, a throwaway server (tests/support/postgres_server.h), `syncline verify`,
// `syncline offsets set` + `syncline run` (redelivery) and `syncline replay`. Covers a worker
// killed mid-run and a server outage in the middle of a run.
#include <csignal>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/wire.h"
#include "common/zmq_util.h"
#include "store/change_log.h"
#include "tests/support/harness.h"
#include "tests/support/pipeline.h"
#include "tests/support/postgres_server.h"
#include "targets/target.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class postgres_test : public pipeline_fixture {
protected:
    void SetUp() override {
        pipeline_fixture::SetUp();
        target = pg.uri("postgres", "schema=sync");
    }
    std::string on_failure() override { return "; server log: " + read_file(pg.dir() + "/server.log"); }

    // The daemons' command lines are their to_argv (tests/support/pipeline.h).
    pipeline_spec spec() const {
        return {.pipeline = "p1", .log = log_dir, .state = state, .work = work, .acks = acks, .control = control,
                .target = target};
    }
    child_process start_sink() {
        auto s = spec().sink();
        s.log = log_dir;
        return launch(s, dir / "sink.log");
    }
    child_process start_ventilator() { return launch(spec().ventilator(), dir / "ventilator.log"); }
    std::vector<child_process> start_workers(int n) {
        std::vector<child_process> out;
        for (int i = 1; i <= n; ++i) {
            auto w = spec().worker(i);
            w.retry_backoff = milliseconds(50);
            out.push_back(launch(w, worker_log(i)));
        }
        return out;
    }
    std::string worker_log(int i) const { return dir / ("worker-" + std::to_string(i) + ".log"); }

    bool wait_committed(std::uint64_t offset, std::chrono::milliseconds timeout = seconds(90)) {
        return eventually([&] { return committed(state, "p1") >= offset; }, timeout);
    }

    // `syncline ARGS...` to completion: its exit code; its output in `last_output`.
    int syncline(const std::vector<std::string>& args) {
        const std::string out = dir / ("cmd-" + std::to_string(++calls) + ".log");
        const int code = run_to_exit("syncline", args, out, seconds(120));
        last_output = read_file(out);
        return code;
    }

    int verify() { return syncline({"verify", "--log", log_dir, "--state", state, "--pipeline", "p1", "--target", target}); }

    targets::state_map target_state() {
        auto t = targets::open_target(target, {"p1"});
        EXPECT_TRUE(t.ok()) << t.get_status().message();
        if (!t.ok()) return {};
        auto s = (*t)->read_state();
        EXPECT_TRUE(s.ok()) << s.get_status().message();
        return s.ok() && s->has_value() ? **s : targets::state_map{};
    }

    postgres_server pg;
    std::string work = "ipc://" + (dir / "work.sock");
    std::string acks = "ipc://" + (dir / "acks.sock");
    std::string control = "ipc://" + (dir / "control.sock");
    std::string target;
    std::string last_output;
    int calls = 0;
};

TEST_F(postgres_test, four_workers_one_killed_then_redelivery_and_replay_leave_the_state_unchanged) {
    // 100,000 changes over 3 collections x 5,000 keys: every key changes ~7 times, ~10% deletes.
    append_sample(*writer, 100'000, 5'000, 1);
    auto sink = start_sink();
    auto workers = start_workers(4);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(20'000)) << "committed " << committed(state, "p1");
    workers[0].signal(SIGKILL);
    EXPECT_TRUE(workers[0].wait_for(seconds(5)).has_value());
    ASSERT_TRUE(wait_committed(100'000)) << "committed " << committed(state, "p1");
    ventilator.signal(SIGTERM);
    EXPECT_EQ(ventilator.wait_for(seconds(20)), 0);
    for (std::size_t i = 1; i < workers.size(); ++i) workers[i].signal(SIGTERM);
    for (std::size_t i = 1; i < workers.size(); ++i) EXPECT_EQ(workers[i].wait_for(seconds(20)), 0);
    sink.signal(SIGTERM);
    EXPECT_EQ(sink.wait_for(seconds(20)), 0);

    ASSERT_EQ(verify(), 0) << last_output;
    EXPECT_NE(last_output.find("verify: OK committed=100000"), std::string::npos) << last_output;
    EXPECT_NE(last_output.find("differences=0"), std::string::npos) << last_output;
    const targets::state_map after_run = target_state();
    ASSERT_GT(after_run.size(), 10'000u);

    // Redelivery: the pipeline rewound to offset 70,001 delivers 30,000 changes again.
    ASSERT_EQ(syncline({"offsets", "set", "--state", state, "--pipeline", "p1", "--to-offset", "70001", "--execute"}), 0)
        << last_output;
    ASSERT_EQ(syncline({"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--target", target, "--workers",
                        "4", "--until-caught-up"}),
              0)
        << last_output;
    EXPECT_EQ(committed(state, "p1"), 100'000u);
    EXPECT_TRUE(target_state() == after_run) << "redelivery changed the target";

    // A replay from an earlier offset: old changes arrive after newer ones were applied.
    ASSERT_EQ(syncline({"replay", "--log", log_dir, "--state", state, "--pipeline", "p1", "--from", "50001", "--to",
                        "90000", "--target", target, "--workers", "2"}),
              0)
        << last_output;
    EXPECT_NE(last_output.find("replayed 40000 records (offsets 50001..90000)"), std::string::npos) << last_output;
    EXPECT_TRUE(target_state() == after_run) << "replay changed the target";
    EXPECT_EQ(verify(), 0) << last_output;
}

TEST_F(postgres_test, a_server_outage_mid_run_stalls_the_pipeline_which_then_completes_with_nothing_lost) {
    append_sample(*writer, 60'000, 3'000, 2);
    auto sink = start_sink();
    auto workers = start_workers(2);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(10'000)) << "committed " << committed(state, "p1");

    pg.stop();
    // Both workers hit the outage and retry; the pipeline does not get past it meanwhile.
    const bool retrying = eventually(
        [&] {
            return count_lines_with(worker_log(1), "target unavailable") >= 3 &&
                   count_lines_with(worker_log(2), "target unavailable") >= 3;
        },
        seconds(30));
    const std::uint64_t during_outage = committed(state, "p1");
    pg.start();
    ASSERT_TRUE(retrying) << read_file(worker_log(1));
    EXPECT_LT(during_outage, 60'000u);

    ASSERT_TRUE(wait_committed(60'000)) << "committed " << committed(state, "p1");
    for (auto& w : workers) EXPECT_TRUE(w.running()) << "a worker gave up during the outage";
    EXPECT_EQ(verify(), 0) << last_output;
}

// Poison isolation never dead-letters a transient failure (docs/recovery.md): a row lock held by
// another transaction makes the lone delivery of its record time out (lock_timeout) after its
// batch mate went through; the batch is nacked and waits for the lock, nothing is dead-lettered.
TEST_F(postgres_test, a_lock_wait_timeout_during_isolation_is_waited_for_never_dead_lettered) {
    PGconn* admin = PQconnectdb(pg.conninfo().c_str());
    ASSERT_EQ(PQstatus(admin), CONNECTION_OK) << PQerrorMessage(admin);
    auto sql = [&](const std::string& q) {
        PGresult* r = PQexec(admin, q.c_str());
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        std::string err = ok ? "" : PQerrorMessage(admin);
        PQclear(r);
        return err;
    };
    // The worker's sessions give up on a lock after 200 ms (the server's lock_timeout).
    ASSERT_EQ(sql("ALTER ROLE syncline SET lock_timeout = '200ms'"), "");

    zmq::context_t ctx(1);
    zmq::socket_t to_worker(ctx, zmq::socket_type::push);
    zmq::socket_t from_worker(ctx, zmq::socket_type::pull);
    to_worker.set(zmq::sockopt::linger, 0);
    from_worker.set(zmq::sockopt::linger, 0);
    to_worker.bind(work);
    from_worker.bind(acks);
    auto w = spec().worker(1);
    w.max_retries = 0;
    w.retry_backoff = milliseconds(10);
    w.isolate_after_attempts = 1;
    auto worker = launch(w, worker_log(1));
    // Offsets first, first+1: keys "free" then "locked".
    auto send_batch = [&](std::uint64_t first, std::uint32_t attempt) {
        codec::batch_body_builder builder;
        for (std::uint64_t o = first; o < first + 2; ++o) {
            record r;
            r.offset = o;
            r.collection = "accounts";
            r.key = o == first ? "free" : "locked";
            r.value = "{\"n\":" + std::to_string(o) + "}";
            builder.add(codec::encode_record(r));
        }
        wire::batch b;
        b.pipeline = "p1";
        b.batch_id = first;
        b.offsets = {first, first + 1};
        b.count = 2;
        b.attempt = attempt;
        ASSERT_TRUE(zmqx::send(to_worker, wire::encode_header(b), builder.finish(), seconds(5)));
    };
    // The worker's answer (an ack or a nack) to the next batch.
    auto answer = [&]() -> std::optional<wire::message> {
        std::optional<wire::message> got_msg;
        eventually([&] {
            auto got = zmqx::receive(from_worker, milliseconds(10));
            if (got.ok() && got->has_value()) {
                auto msg = wire::decode((*got)->header_view(), (*got)->body_view());
                if (msg.ok() && (std::holds_alternative<wire::ack>(*msg) || std::holds_alternative<wire::nack>(*msg)))
                    got_msg = *msg;
            }
            return got_msg.has_value();
        }, seconds(30));
        return got_msg;
    };

    send_batch(1, 1);
    auto first = answer();
    ASSERT_TRUE(first && std::holds_alternative<wire::ack>(*first)) << read_file(worker_log(1));
    EXPECT_TRUE(std::get<wire::ack>(*first).failures.empty());

    ASSERT_EQ(sql("BEGIN"), "");
    ASSERT_EQ(sql("SELECT 1 FROM sync.accounts WHERE key = 'locked' FOR UPDATE"), "");
    send_batch(3, 1);
    auto held = answer();
    ASSERT_TRUE(held.has_value()) << read_file(worker_log(1));
    if (auto* a = std::get_if<wire::ack>(&*held)) {
        ADD_FAILURE() << "acked with " << a->failures.size() << " dead letters"
                      << (a->failures.empty() ? "" : ": " + a->failures[0].reason);
    }
    ASSERT_TRUE(std::holds_alternative<wire::nack>(*held));
    EXPECT_NE(std::get<wire::nack>(*held).reason.find("55P03"), std::string::npos) << std::get<wire::nack>(*held).reason;

    ASSERT_EQ(sql("ROLLBACK"), "");
    send_batch(3, 2);
    auto released = answer();
    ASSERT_TRUE(released && std::holds_alternative<wire::ack>(*released)) << read_file(worker_log(1));
    EXPECT_TRUE(std::get<wire::ack>(*released).failures.empty());
    EXPECT_EQ(target_state().at({"accounts", "locked"}).offset, 4u);
    PQfinish(admin);
    worker.signal(SIGTERM);
    EXPECT_EQ(worker.wait_for(seconds(10)), 0);
}

}  // namespace
}  // namespace syncline::testing
