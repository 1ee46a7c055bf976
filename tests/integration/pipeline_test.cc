// The pipeline end to end: the real sink, ventilator and workers as processes on ipc/tcp
// endpoints in a temp dir, a real RocksDB log and a real SQLite target, checked with verify.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/wire.h"
#include "common/zmq_util.h"
#include "store/change_log.h"
#include "store/state_store.h"
#include "tests/support/harness.h"
#include "tests/support/pipeline.h"
#include "targets/target.h"
#include "targets/verify.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class pipeline_test : public pipeline_fixture {
protected:
    // The options of this test's pipeline (tests/support/pipeline.h): one spelling with `syncline run`.
    pipeline_spec spec() const { return {"p1", log_dir, state, work, acks, control, target}; }
    child_process start_sink() {
        sink::sink_options o = spec().sink();
        o.log = log_dir;
        return launch(o, dir / "sink.log");
    }
    child_process start_ventilator(const std::string& work_endpoints = "") {
        ventilator::ventilator_options o = spec().ventilator();
        if (!work_endpoints.empty()) o.work = work_endpoints;
        return launch(o, dir / "ventilator.log");
    }
    child_process start_worker(int i, const std::string& work_endpoint = "") {
        workers::worker_options o = spec().worker(i);
        if (!work_endpoint.empty()) o.work = work_endpoint;
        return launch(o, dir / ("worker-" + std::to_string(i) + ".log"));
    }
    std::vector<child_process> start_workers(int n) {
        std::vector<child_process> out;
        for (int i = 1; i <= n; ++i) out.push_back(start_worker(i));
        return out;
    }

    bool wait_committed(std::uint64_t offset, std::chrono::milliseconds timeout = seconds(120)) {
        return eventually([&] { return committed(state, "p1") >= offset; }, timeout);
    }

    // verify against the log in-process: the same code `syncline verify` runs.
    void expect_verified() {
        auto log = store::change_log::open_reader(log_dir);
        ASSERT_TRUE(log.ok()) << log.get_status().message();
        auto t = targets::open_target(target, {"p1"});
        ASSERT_TRUE(t.ok()) << t.get_status().message();
        const auto c = committed(state, "p1");
        auto report = targets::verify_target(**log, c, **t);
        ASSERT_TRUE(report.ok()) << report.get_status().message();
        EXPECT_TRUE(report->clean()) << targets::format_report(*report, 20);
        EXPECT_GT(report->keys_checked, 0u);
    }

    std::string target = "sqlite:" + (dir / "target.db");
    std::string work = "ipc://" + (dir / "work.sock");
    std::string acks = "ipc://" + (dir / "acks.sock");
    std::string control = "ipc://" + (dir / "control.sock");
};

TEST_F(pipeline_test, delivers_200k_records_with_4_workers_and_verifies) {
    append_sample(*writer, 200'000, 20'000, 1);
    auto sink = start_sink();
    auto workers = start_workers(4);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(200'000)) << "committed " << committed(state, "p1");
    expect_verified();

    // SIGTERM: every process drains, commits and exits 0.
    ventilator.signal(SIGTERM);
    EXPECT_EQ(ventilator.wait_for(seconds(20)), 0);
    for (auto& w : workers) w.signal(SIGTERM);
    for (auto& w : workers) EXPECT_EQ(w.wait_for(seconds(20)), 0);
    sink.signal(SIGTERM);
    EXPECT_EQ(sink.wait_for(seconds(20)), 0);
    EXPECT_EQ(committed(state, "p1"), 200'000u);
}

TEST_F(pipeline_test, sigkill_of_a_worker_mid_run_loses_nothing) {
    append_sample(*writer, 150'000, 10'000, 2);
    auto sink = start_sink();
    auto workers = start_workers(3);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(20'000));
    workers[0].signal(SIGKILL);
    EXPECT_TRUE(workers[0].wait_for(seconds(5)).has_value());
    ASSERT_TRUE(wait_committed(150'000)) << "committed " << committed(state, "p1");
    expect_verified();
}

TEST_F(pipeline_test, sink_and_ventilator_killed_and_restarted_resume_from_the_committed_offset) {
    append_sample(*writer, 200'000, 10'000, 3);
    auto sink = start_sink();
    auto workers = start_workers(2);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(30'000));
    sink.signal(SIGKILL);
    ASSERT_TRUE(sink.wait_for(seconds(5)).has_value());
    const auto after_sink_kill = committed(state, "p1");
    sink = start_sink();
    ASSERT_TRUE(wait_committed(after_sink_kill + 30'000)) << "no progress after the sink restarted";

    ventilator.signal(SIGKILL);
    ASSERT_TRUE(ventilator.wait_for(seconds(5)).has_value());
    ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(200'000)) << "committed " << committed(state, "p1");
    expect_verified();
    EXPECT_GE(count_lines_with(dir / "ventilator.log", "resuming at offset="), 2u);
}

TEST_F(pipeline_test, records_appended_while_running_are_delivered) {
    append_sample(*writer, 10'000, 1'000, 4);
    auto sink = start_sink();
    auto workers = start_workers(2);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(10'000));
    for (int round = 0; round < 5; ++round) {
        append_sample(*writer, 5'000, 1'000, 100 + round);
        std::this_thread::sleep_for(milliseconds(50));
    }
    ASSERT_TRUE(wait_committed(35'000)) << "committed " << committed(state, "p1");
    expect_verified();
}

TEST_F(pipeline_test, a_worker_on_a_second_tcp_endpoint_joins_mid_run) {
    append_sample(*writer, 100'000, 10'000, 5);
    auto sink = start_sink();
    auto ventilator = start_ventilator(work + ",tcp://127.0.0.1:*");
    // The resolved tcp port is in the ventilator's log: tests never hard-code ports.
    std::string tcp;
    ASSERT_TRUE(eventually([&] {
        for (const auto& line : std::vector<std::string>{read_file(dir / "ventilator.log")}) {
            auto at = line.find("endpoint=tcp://");
            if (at == std::string::npos) return false;
            tcp = line.substr(at + 9, line.find('\n', at) - at - 9);
            return true;
        }
        return false;
    }, seconds(10)));
    auto ipc_worker = start_worker(1);
    ASSERT_TRUE(wait_committed(10'000));
    auto tcp_worker = start_worker(2, tcp);
    ASSERT_TRUE(wait_committed(100'000)) << "committed " << committed(state, "p1");
    expect_verified();
    tcp_worker.signal(SIGTERM);
    EXPECT_EQ(tcp_worker.wait_for(seconds(10)), 0);
    EXPECT_EQ(count_lines_with(dir / "worker-2.log", "stopped batches=0"), 0u) << "the tcp worker did no work";
}

TEST_F(pipeline_test, garbage_on_every_socket_is_counted_and_dropped) {
    append_sample(*writer, 20'000, 1'000, 6);
    auto sink = start_sink();
    auto ventilator = start_ventilator();
    // Send only once the sink listens: junk still queued for an absent peer is dropped when the
    // sockets' linger runs out, and a slow start (sanitizers) would leave nothing to count.
    ASSERT_FALSE(logged_endpoint(dir / "sink.log", "acks").empty()) << read_file(dir / "sink.log");
    ASSERT_FALSE(logged_endpoint(dir / "sink.log", "control").empty()) << read_file(dir / "sink.log");
    {
        zmq::context_t ctx(1);
        zmq::socket_t to_acks(ctx, zmq::socket_type::push);
        zmq::socket_t to_control(ctx, zmq::socket_type::dealer);
        zmq::socket_t from_work(ctx, zmq::socket_type::pull);
        const int linger_ms = static_cast<int>(scaled(milliseconds(1000)).count());
        to_acks.set(zmq::sockopt::linger, linger_ms);
        to_control.set(zmq::sockopt::linger, linger_ms);
        to_acks.connect(acks);
        to_control.connect(control);
        const std::string junk[] = {"", "\xff\xff\xff", std::string(1000, 'x'), "\x81\xa1v\x63", "\xdd\xff\xff\xff\xff"};
        for (const auto& j : junk) {
            to_acks.send(zmq::buffer(j), zmq::send_flags::none);                               // one frame
            to_acks.send(zmq::buffer(j), zmq::send_flags::sndmore);                            // two frames of junk
            to_acks.send(zmq::buffer(j), zmq::send_flags::none);
            to_control.send(zmq::buffer(j), zmq::send_flags::sndmore);
            to_control.send(zmq::buffer(j), zmq::send_flags::none);
        }
    }
    auto workers = start_workers(2);
    ASSERT_TRUE(wait_committed(20'000));
    EXPECT_TRUE(sink.running());
    EXPECT_TRUE(ventilator.running());
    EXPECT_GE(count_lines_with(dir / "sink.log", "dropped bad message"), 1u);
    sink.signal(SIGTERM);
    EXPECT_EQ(sink.wait_for(scaled(seconds(10))), 0);
    EXPECT_EQ(count_lines_with(dir / "sink.log", "bad_frames=0"), 0u);
    expect_verified();
}

// A worker fed by the test itself: hostile and inconsistent batches are dropped, a batch whose
// stored bytes do not decode is dead-lettered record by record, and a good batch still acks.
TEST_F(pipeline_test, a_worker_drops_bad_batches_and_keeps_working) {
    zmq::context_t ctx(1);
    zmq::socket_t to_worker(ctx, zmq::socket_type::push);
    zmq::socket_t from_worker(ctx, zmq::socket_type::pull);
    to_worker.set(zmq::sockopt::linger, 0);
    from_worker.set(zmq::sockopt::linger, 0);
    to_worker.bind(work);
    from_worker.bind(acks);
    auto worker = start_worker(1);

    auto send_batch = [&](const std::string& pipeline, wire::range offsets, std::uint32_t count, const std::string& body) {
        wire::batch b;
        b.pipeline = pipeline;
        b.batch_id = offsets.first;
        b.offsets = offsets;
        b.count = count;
        ASSERT_TRUE(zmqx::send(to_worker, wire::encode_header(b), body, seconds(5)));
    };
    // Records first..first+2; the one at `refused` goes to a collection SQLite refuses for good.
    auto body_of = [](std::uint64_t first, std::uint64_t refused = 0) {
        codec::batch_body_builder builder;
        for (std::uint64_t o = first; o < first + 3; ++o) {
            record r;
            r.offset = o;
            r.collection = o == refused ? "sqlite_reserved" : "accounts";
            r.key = "k" + std::to_string(o);
            r.value = "{}";
            builder.add(codec::encode_record(r));
        }
        return builder.finish();
    };
    const std::string good_body = body_of(1);
    for (const std::string junk : {"", "\xc1", "\x81\xa1v\x02"}) ASSERT_TRUE(zmqx::send(to_worker, junk, junk, seconds(5)));
    send_batch("another-pipeline", {1, 3}, 3, good_body);
    send_batch("p1", {1, 1'000'000'000'000}, 3, good_body);       // Range and count disagree.
    send_batch("p1", {10, 12}, 3, std::string("\x93\xc1\xc1\xc1"));  // Consistent header, undecodable records.
    send_batch("p1", {1, 3}, 3, good_body);
    // Batches that arrive together may be delivered together: each is still acked on its own,
    // with only its own permanent failures.
    send_batch("p1", {4, 6}, 3, body_of(4));
    send_batch("p1", {7, 9}, 3, body_of(7, 8));
    send_batch("p1", {10'000, 10'002}, 3, body_of(10'000));

    std::vector<wire::ack> acks_seen;
    ASSERT_TRUE(eventually([&] {
        auto got = zmqx::receive(from_worker, milliseconds(10));
        if (got.ok() && got->has_value()) {
            auto msg = wire::decode((*got)->header_view(), (*got)->body_view());
            if (msg.ok())
                if (auto* a = std::get_if<wire::ack>(&*msg)) acks_seen.push_back(*a);
        }
        return acks_seen.size() >= 5;
    }, seconds(20)));
    ASSERT_EQ(acks_seen.size(), 5u);
    std::map<std::uint64_t, wire::ack> by_first;
    for (const auto& a : acks_seen) by_first[a.offsets.first] = a;
    ASSERT_EQ(by_first.size(), 5u);
    EXPECT_EQ(by_first[10].offsets, (wire::range{10, 12}));
    EXPECT_EQ(by_first[10].failures.size(), 3u);
    EXPECT_TRUE(by_first[1].failures.empty());
    EXPECT_TRUE(by_first[4].failures.empty());
    ASSERT_EQ(by_first[7].failures.size(), 1u);
    EXPECT_EQ(by_first[7].failures[0].offset, 8u);
    EXPECT_TRUE(by_first[10'000].failures.empty());
    EXPECT_TRUE(worker.running());
    worker.signal(SIGTERM);
    EXPECT_EQ(worker.wait_for(seconds(10)), 0);
    EXPECT_GE(count_lines_with(dir / "worker-1.log", "dropped bad message"), 1u);
    EXPECT_EQ(count_lines_with(dir / "worker-1.log", "bad_frames=6"), 1u) << read_file(dir / "worker-1.log");
}

// Overlapping batches (a restarted ventilator re-cut 2..3 while 1..3 still waited) may be joined
// into one target call: each ack still carries its own refused record once, with its reason.
TEST_F(pipeline_test, overlapping_batches_each_ack_their_refused_record_once_with_its_reason) {
    zmq::context_t ctx(1);
    zmq::socket_t to_worker(ctx, zmq::socket_type::push);
    zmq::socket_t from_worker(ctx, zmq::socket_type::pull);
    to_worker.set(zmq::sockopt::linger, 0);
    from_worker.set(zmq::sockopt::linger, 0);
    to_worker.bind(work);
    from_worker.bind(acks);
    // Queued before the worker starts, so that it takes both at once when it can.
    auto send_batch = [&](std::uint64_t first, std::uint64_t last) {
        codec::batch_body_builder builder;
        for (std::uint64_t o = first; o <= last; ++o) {
            record r;
            r.offset = o;
            r.collection = o == 3 ? "sqlite_reserved" : "accounts";
            r.key = "k" + std::to_string(o);
            r.value = "{}";
            builder.add(codec::encode_record(r));
        }
        wire::batch b;
        b.pipeline = "p1";
        b.batch_id = first;
        b.offsets = {first, last};
        b.count = static_cast<std::uint32_t>(last - first + 1);
        ASSERT_TRUE(zmqx::send(to_worker, wire::encode_header(b), builder.finish(), seconds(5)));
    };
    auto worker = start_worker(1);
    send_batch(1, 3);
    send_batch(2, 3);
    std::map<std::uint64_t, wire::ack> by_first;
    ASSERT_TRUE(eventually([&] {
        auto got = zmqx::receive(from_worker, milliseconds(10));
        if (got.ok() && got->has_value()) {
            auto msg = wire::decode((*got)->header_view(), (*got)->body_view());
            if (msg.ok())
                if (auto* a = std::get_if<wire::ack>(&*msg)) by_first[a->offsets.first] = *a;
        }
        return by_first.size() >= 2;
    }, seconds(20)));
    for (std::uint64_t first : {1u, 2u}) {
        const auto& failures = by_first[first].failures;
        ASSERT_EQ(failures.size(), 1u) << "batch " << first;
        EXPECT_EQ(failures[0].offset, 3u);
        EXPECT_NE(failures[0].reason.find("sqlite_"), std::string::npos) << "batch " << first << ": '" << failures[0].reason << "'";
    }
    worker.signal(SIGTERM);
    EXPECT_EQ(worker.wait_for(seconds(10)), 0);
}

// A batch holding one record over the record limits (written by an older or foreign writer: the
// log refuses it today) dead-letters that record alone; its neighbours reach the target.
TEST_F(pipeline_test, an_undecodable_record_is_dead_lettered_alone_and_its_neighbours_delivered) {
    zmq::context_t ctx(1);
    zmq::socket_t to_worker(ctx, zmq::socket_type::push);
    zmq::socket_t from_worker(ctx, zmq::socket_type::pull);
    to_worker.set(zmq::sockopt::linger, 0);
    from_worker.set(zmq::sockopt::linger, 0);
    to_worker.bind(work);
    from_worker.bind(acks);
    auto worker = start_worker(1);

    codec::batch_body_builder builder;
    for (std::uint64_t o = 1; o <= 3; ++o) {
        record r;
        r.offset = o;
        r.collection = "accounts";
        r.key = "k" + std::to_string(o);
        r.value = "{}";
        if (o == 2)
            for (int h = 0; h < 300; ++h) r.headers.emplace_back("h" + std::to_string(h), "v");
        builder.add(codec::encode_record(r));
    }
    wire::batch b;
    b.pipeline = "p1";
    b.batch_id = 1;
    b.offsets = {1, 3};
    b.count = 3;
    ASSERT_TRUE(zmqx::send(to_worker, wire::encode_header(b), builder.finish(), seconds(5)));

    std::optional<wire::ack> ack;
    ASSERT_TRUE(eventually([&] {
        auto got = zmqx::receive(from_worker, milliseconds(10));
        if (got.ok() && got->has_value()) {
            auto msg = wire::decode((*got)->header_view(), (*got)->body_view());
            if (msg.ok())
                if (auto* a = std::get_if<wire::ack>(&*msg)) ack = *a;
        }
        return ack.has_value();
    }, seconds(20)));
    ASSERT_EQ(ack->failures.size(), 1u);
    EXPECT_EQ(ack->failures[0].offset, 2u);
    const std::string& why = ack->failures[0].reason;
    EXPECT_NE(why.find("field headers: 300 entries, more than the limit of 256"), std::string::npos) << why;
    EXPECT_EQ(why.find(": ok"), std::string::npos) << why;
    worker.signal(SIGTERM);
    EXPECT_EQ(worker.wait_for(seconds(10)), 0);

    auto t = targets::open_target(target, {"p1"});
    ASSERT_TRUE(t.ok()) << t.get_status().message();
    auto state_now = (*t)->read_state();
    ASSERT_TRUE(state_now.ok()) << state_now.get_status().message();
    ASSERT_TRUE(state_now->has_value());
    EXPECT_EQ((*state_now)->size(), 2u);
    EXPECT_TRUE((*state_now)->count({"accounts", "k1"}));
    EXPECT_TRUE((*state_now)->count({"accounts", "k3"}));
}

// One pipeline file serves every command: run uses all of its keys, verify and dlq skip the
// ones they do not take (workers).
TEST_F(pipeline_test, syncline_run_until_caught_up_then_verify_command) {
    append_sample(*writer, 50'000, 5'000, 7);
    const std::filesystem::path pipeline_file = dir / "pipeline.ini";
    std::ofstream(pipeline_file) << "log = " << log_dir << "\nstate = " << state << "\npipeline = p1\ntarget = " << target
                                 << "\nworkers = 3\n";
    const int run_code = run_to_exit("syncline", {"run", "--config", pipeline_file.string(), "--until-caught-up"},
                                     dir / "run.log", seconds(120));
    ASSERT_EQ(run_code, 0) << read_file(dir / "run.log");
    EXPECT_EQ(committed(state, "p1"), 50'000u);
    EXPECT_NE(read_file(dir / "run.log").find("caught up"), std::string::npos);
    // Every child drained and exited 0 when the runner stopped them in order.
    EXPECT_EQ(count_lines_with(dir / "run.log", "stopped with code"), 0u) << read_file(dir / "run.log");
    const int verify_code =
        run_to_exit("syncline", {"verify", "--config", pipeline_file.string()}, dir / "verify.log", seconds(60));
    EXPECT_EQ(verify_code, 0) << read_file(dir / "verify.log");
    EXPECT_EQ(run_to_exit("syncline", {"dlq", "list", "--config", pipeline_file.string()}, dir / "dlq.log", seconds(30)), 0)
        << read_file(dir / "dlq.log");
    // On the command line a key the command does not take is still an error.
    EXPECT_EQ(run_to_exit("syncline", {"verify", "--config", pipeline_file.string(), "--workers", "3"},
                          dir / "verify-bad.log", seconds(30)),
              2);
}

// A record that makes its whole batch fail (a trigger rolls the transaction back) holds the
// pipeline only until the batch's attempt reaches --isolate-after-attempts: then it is retried
// record by record, the poison record is dead-lettered, and the rest commits.
TEST_F(pipeline_test, a_poison_record_is_isolated_and_dead_lettered) {
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir / "target.db").c_str(), &db), SQLITE_OK);
        const char* ddl =
            "CREATE TABLE \"accounts\" (\"key\" TEXT PRIMARY KEY NOT NULL, \"value\" TEXT, \"offset\" INTEGER NOT NULL,"
            " \"deleted\" INTEGER NOT NULL DEFAULT 0, \"updated_at\" INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE TRIGGER poison BEFORE INSERT ON \"accounts\" WHEN NEW.\"key\" = 'poison'"
            " BEGIN SELECT RAISE(ROLLBACK, 'poisoned value'); END;";
        ASSERT_EQ(sqlite3_exec(db, ddl, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
    append_sample(*writer, 2'000, 500, 10);
    std::vector<record> poison(1);
    poison[0].collection = "accounts";
    poison[0].key = "poison";
    poison[0].value = "{}";
    auto at = writer->append(poison);
    ASSERT_TRUE(at.ok());
    const std::uint64_t poison_offset = at->first;
    append_sample(*writer, 2'000, 500, 11);

    auto sink = start_sink();
    workers::worker_options isolating = spec().worker(1);
    isolating.id.clear();  // host:pid, as the worker picks itself.
    isolating.max_retries = 1;
    isolating.retry_backoff = milliseconds(10);
    isolating.isolate_after_attempts = 3;
    auto worker = launch(isolating, dir / "worker-1.log");
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(4'001, seconds(60))) << "committed " << committed(state, "p1");

    sink.signal(SIGTERM);
    ASSERT_EQ(sink.wait_for(seconds(10)), 0);
    auto reader = store::state_store::open_reader(state, "p1");
    ASSERT_TRUE(reader.ok()) << reader.get_status().message();
    auto dead = (*reader)->dead_letters();
    ASSERT_TRUE(dead.ok());
    ASSERT_EQ(dead->size(), 1u);
    EXPECT_EQ((*dead)[0].offset, poison_offset);
    EXPECT_NE((*dead)[0].error.find("poisoned value"), std::string::npos) << (*dead)[0].error;
    EXPECT_GE(count_lines_with(dir / "worker-1.log", "isolated after"), 1u);
}

// A process that exists and is not a zombie (an orphan's zombie may wait for a reaper).
bool alive(pid_t pid) {
    std::istringstream stat(read_file("/proc/" + std::to_string(pid) + "/stat"));
    std::string pid_field, comm, state_field;
    stat >> pid_field >> comm >> state_field;
    return !state_field.empty() && state_field != "Z" && state_field != "X";
}

TEST_F(pipeline_test, children_drain_and_stop_when_the_runner_is_killed) {
    append_sample(*writer, 20'000, 2'000, 9);
    const std::string run_dir = dir / "run";
    auto runner = start("syncline", {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--target", target,
                                     "--workers", "2", "--run-dir", run_dir},
                        dir / "run.log");
    ASSERT_TRUE(wait_committed(20'000));
    std::vector<pid_t> children;
    for (const char* name : {"sink", "ventilator", "worker-1", "worker-2"})
        children.push_back(static_cast<pid_t>(std::stol(read_file(run_dir + "/" + name + ".pid"))));
    runner.signal(SIGKILL);
    ASSERT_TRUE(runner.wait_for(seconds(5)).has_value());
    EXPECT_TRUE(eventually([&] {
        for (pid_t pid : children)
            if (alive(pid)) return false;
        return true;
    }, seconds(30))) << "children outlived their runner";
    EXPECT_EQ(count_lines_with(run_dir + "/sink.log", "stopped committed=20000"), 1u) << read_file(run_dir + "/sink.log");
}

TEST_F(pipeline_test, jsonl_target_receives_every_offset_at_least_once) {
    target = "jsonl:" + (dir / "out.jsonl");
    append_sample(*writer, 30'000, 3'000, 8);
    auto sink = start_sink();
    auto workers = start_workers(2);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(30'000));
    std::set<std::uint64_t> seen;
    std::istringstream lines(read_file(dir / "out.jsonl"));
    for (std::string line; std::getline(lines, line);) {
        auto at = line.find("\"offset\":");
        ASSERT_NE(at, std::string::npos) << line;
        seen.insert(std::stoull(line.substr(at + 9)));
    }
    EXPECT_EQ(seen.size(), 30'000u);
    EXPECT_EQ(*seen.begin(), 1u);
    EXPECT_EQ(*seen.rbegin(), 30'000u);
}

}  // namespace
}  // namespace syncline::testing
