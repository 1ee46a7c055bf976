// Metrics and status against the real processes: /metrics scraped during and after a run and
// checked against what happened (records sent = committed, a killed worker's batches redelivered,
// a bad frame counted), /live and /ready answered, and `syncline status` reporting a stall while
// the SQLite target is locked by this test and recovering once it is released.
#include <csignal>
#include <map>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <zmq.hpp>

#include "common/metrics.h"
#include "common/metrics_endpoint.h"
#include "common/zmq_util.h"
#include "store/change_log.h"
#include "tests/support/harness.h"
#include "tests/support/pipeline.h"

namespace syncline::testing {
namespace {

using std::chrono::seconds;

// The samples at the address a process wrote to `address_file`; empty if it does not answer.
std::vector<metrics::sample> scrape(const std::string& address_file) {
    const std::string address = read_file(address_file).substr(0, read_file(address_file).find('\n'));
    if (address.empty()) return {};
    auto got = metrics::http_get(address, "/metrics");
    if (!got.ok() || got->status != 200) return {};
    auto samples = metrics::parse_exposition(got->body);
    EXPECT_TRUE(samples.ok()) << samples.get_status().message();
    return samples.ok() ? *samples : std::vector<metrics::sample>{};
}

double value(const std::string& address_file, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
    return metrics::find_sample(scrape(address_file), name, labels).value_or(-1);
}

int http_status(const std::string& address_file, const std::string& path) {
    const std::string text = read_file(address_file);
    auto got = metrics::http_get(text.substr(0, text.find('\n')), path);
    return got.ok() ? got->status : -1;
}

class metrics_test : public pipeline_fixture {
protected:
    // --metrics-listen on any free port, its address written to NAME.metrics.
    metrics::endpoint_options metrics_for(const std::string& name) {
        metrics::endpoint_options o;
        o.listen = "127.0.0.1:0";
        o.address_file = dir / (name + ".metrics");
        return o;
    }

    std::string work = "ipc://" + (dir / "work.sock");
    std::string acks = "ipc://" + (dir / "acks.sock");
    std::string control = "ipc://" + (dir / "control.sock");
};

TEST_F(metrics_test, counters_match_what_happened_and_probes_answer) {
    std::uint64_t records = 60'000;
    append_sample(*writer, records, 5'000, 1);
    const std::string target = "sqlite:" + (dir / "target.db");
    const pipeline_spec spec{"p1", log_dir, state, work, acks, control, target};
    syncline::sink::sink_options sink_options = spec.sink();
    sink_options.metrics = metrics_for("sink");
    auto sink = launch(sink_options, dir / "sink.log");
    // Three delivering workers, so each its own SQLite file: of the workers of one pipeline on one
    // file only one writes and the others stand by (docs/targets/sqlite.md).
    std::vector<child_process> workers;
    for (int i = 1; i <= 3; ++i) {
        syncline::workers::worker_options w = spec.worker(i);
        w.target = "sqlite:" + (dir / ("target-w" + std::to_string(i) + ".db"));
        w.coalesce_records = 1000;
        w.metrics = metrics_for("w" + std::to_string(i));
        workers.push_back(launch(w, dir / ("w" + std::to_string(i) + ".log")));
    }
    syncline::ventilator::ventilator_options vent_options = spec.ventilator();
    vent_options.tail_interval = syncline::ventilator::ventilator_options{}.tail_interval;
    vent_options.window.ack_timeout = std::chrono::milliseconds(1000);
    vent_options.batch_records = 500;
    vent_options.metrics = metrics_for("ventilator");
    auto ventilator = launch(vent_options, dir / "ventilator.log");
    const std::string vent = dir / "ventilator.metrics", sink_file = dir / "sink.metrics";

    for (const char* name : {"sink", "ventilator", "w1", "w2", "w3"}) {
        const std::string file = dir / (std::string(name) + ".metrics");
        ASSERT_TRUE(eventually([&] { return http_status(file, "/live") == 200; }, seconds(20))) << name;
        ASSERT_TRUE(eventually([&] { return http_status(file, "/ready") == 200; }, seconds(20))) << name;
    }

    // Kill w1 while the ventilator knows it holds a batch: that batch must be redelivered. w1's
    // database is locked from here on, so a batch it holds is never acked before the kill. A fast
    // pipeline can finish before a scrape sees w1 holding one, so the log grows until one does.
    sqlite3* w1_lock = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "target-w1.db").c_str(), &w1_lock), SQLITE_OK);
    sqlite3_busy_timeout(w1_lock, 30'000);  // w1 may be committing a batch right now.
    ASSERT_EQ(sqlite3_exec(w1_lock, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    bool held = false;
    for (std::uint64_t round = 0; round < 10 && !held; ++round) {
        held = eventually([&] { return value(vent, "syncline_ventilator_worker_in_flight_batches", {{"worker", "w1"}}) >= 1; },
                          seconds(3));
        if (!held) {
            append_sample(*writer, 20'000, 5'000, 2 + round);
            records += 20'000;
        }
    }
    ASSERT_TRUE(held) << "w1 never held a batch";
    workers[0].signal(SIGKILL);
    ASSERT_TRUE(workers[0].wait_for(seconds(5)).has_value());
    sqlite3_exec(w1_lock, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(w1_lock);

    // A bad frame on the sink's acks channel is dropped and counted, never fatal.
    {
        zmq::context_t ctx(1);
        zmq::socket_t push(ctx, zmq::socket_type::push);
        ASSERT_TRUE(zmqx::connect(push, acks).ok());
        ASSERT_TRUE(zmqx::send(push, wire::frames{"not msgpack", "x"}, std::chrono::milliseconds(2000)));
        EXPECT_TRUE(eventually([&] { return value(sink_file, "syncline_sink_bad_frames_dropped_total") >= 1; }, seconds(10)));
    }

    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= records; }, seconds(60)));
    ASSERT_TRUE(eventually([&] { return value(vent, "syncline_ventilator_committed_offset") == records; }, seconds(10)));
    const auto v = scrape(vent);
    auto get = [&](const char* name) { return metrics::find_sample(v, name, {{"pipeline", "p1"}}).value_or(-1); };
    EXPECT_GE(get("syncline_ventilator_batches_redelivered_total"), 1);
    // Every record was sent once, plus the redeliveries.
    EXPECT_EQ(get("syncline_ventilator_records_sent_total") - get("syncline_ventilator_records_redelivered_total"),
              static_cast<double>(records));
    EXPECT_EQ(get("syncline_ventilator_log_last_offset"), static_cast<double>(records));
    EXPECT_EQ(get("syncline_ventilator_lag_records"), 0);
    EXPECT_EQ(get("syncline_ventilator_lag_seconds"), 0);
    EXPECT_EQ(get("syncline_ventilator_in_flight_batches"), 0);
    EXPECT_EQ(value(sink_file, "syncline_sink_committed_offset"), static_cast<double>(records));
    EXPECT_GE(value(sink_file, "syncline_sink_worker_last_seen_timestamp_seconds", {{"worker", "w2"}}), 1e9);
    EXPECT_GE(value(dir / "w2.metrics", "syncline_worker_delivery_duration_seconds_count"), 1);
    EXPECT_GE(value(dir / "w2.metrics", "syncline_worker_batches_acked_total") +
                  value(dir / "w3.metrics", "syncline_worker_batches_acked_total"),
              1);

    ventilator.signal(SIGTERM);
    EXPECT_EQ(ventilator.wait_for(seconds(20)), 0);
    for (std::size_t i = 1; i < workers.size(); ++i) workers[i].signal(SIGTERM);
    sink.signal(SIGTERM);
    EXPECT_EQ(sink.wait_for(seconds(20)), 0);
}

// `syncline status` as a script sees it: exit code and JSON.
struct status_result {
    int code = -1;
    std::string output;
};

TEST_F(metrics_test, status_reports_a_stall_while_the_target_is_locked_and_recovers) {
    const std::string db = dir / "target.db";
    const std::string status_out = dir / "status.out";
    auto status = [&] {
        std::remove(status_out.c_str());
        status_result r;
        r.code = run_to_exit("syncline",
                             {"status", "--state", state, "--log", log_dir, "--json", "--stall-after", "2",
                              "--interval-ms", "200"},
                             status_out, seconds(30));
        r.output = read_file(status_out);
        return r;
    };
    auto run = start("syncline",
                     {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--workers", "1", "--target",
                      "sqlite:" + db + "?busy_timeout_ms=100", "--ventilator-args", "--ack-timeout-ms 1000",
                      "--worker-args", "--max-retries 2 --retry-backoff-ms 50"},
                     dir / "run.log");
    const std::string vent = state + "/p1.run/ventilator.metrics";
    ASSERT_TRUE(eventually([&] { return http_status(vent, "/ready") == 200; }, seconds(30)));
    ASSERT_TRUE(eventually([&] { return http_status(state + "/p1.run/worker-1.metrics", "/ready") == 200; }, seconds(30)));

    // A writer holding the target's lock: every delivery fails until it lets go.
    sqlite3* lock = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &lock), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(lock, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    append_sample(*writer, 5'000, 500, 2);

    status_result stalled;
    EXPECT_TRUE(eventually([&] { return (stalled = status()).code == 3; }, seconds(30))) << stalled.output;
    EXPECT_NE(stalled.output.find("\"state\":\"stalled\""), std::string::npos) << stalled.output;
    EXPECT_NE(stalled.output.find("in flight, no progress for"), std::string::npos) << stalled.output;
    EXPECT_NE(stalled.output.find("offset 1 "), std::string::npos) << stalled.output;
    EXPECT_NE(stalled.output.find("\"lag_records\":5000"), std::string::npos) << stalled.output;
    // The worker is alive but cannot deliver: not ready.
    EXPECT_TRUE(eventually([&] {
        return http_status(state + "/p1.run/worker-1.metrics", "/ready") == 503;
    }, seconds(10)));

    sqlite3_exec(lock, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(lock);
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 5'000; }, seconds(60)));
    status_result recovered;
    EXPECT_TRUE(eventually([&] { return (recovered = status()).code == 0; }, seconds(20))) << recovered.output;
    EXPECT_NE(recovered.output.find("\"state\":\"caught_up\""), std::string::npos) << recovered.output;
    EXPECT_NE(recovered.output.find("\"workers_seen\":[\"p1-worker-1\"]"), std::string::npos)
        << recovered.output;

    // A killed worker is restarted by the runner, and status counts the restart.
    const long worker_pid = std::stol(read_file(state + "/p1.run/worker-1.pid"));
    ASSERT_EQ(::kill(static_cast<pid_t>(worker_pid), SIGKILL), 0);
    status_result restarted;
    EXPECT_TRUE(eventually([&] { return (restarted = status()).output.find("\"restarts\":1") != std::string::npos; },
                           seconds(20)))
        << restarted.output;

    run.signal(SIGTERM);
    EXPECT_EQ(run.wait_for(seconds(60)), 0);
    // Stopped: offsets still come from the stores.
    const status_result stopped = status();
    EXPECT_EQ(stopped.code, 0) << stopped.output;
    EXPECT_NE(stopped.output.find("\"running\":false,\"committed\":5000,\"log_last\":5000"), std::string::npos)
        << stopped.output;
}

}  // namespace
}  // namespace syncline::testing
