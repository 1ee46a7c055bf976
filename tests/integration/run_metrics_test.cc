// One scrape endpoint per pipeline (issue 18), against the real processes: `syncline run
// --metrics-listen` serves every child's /metrics merged with a `process` label while the
// children keep their own endpoints; restarts are counted once (restarts.json and /metrics agree);
// `syncline status` sees a pipeline whose processes were started by hand.
#include <signal.h>

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/metrics.h"
#include "common/metrics_endpoint.h"
#include "tests/support/harness.h"

namespace syncline::testing {
namespace {

using std::chrono::seconds;

std::string address_in(const std::string& file) {
    const std::string text = read_file(file);
    return text.substr(0, text.find('\n'));
}

std::vector<metrics::sample> scrape(const std::string& address_file) {
    auto got = metrics::http_get(address_in(address_file), "/metrics");
    if (!got.ok() || got->status != 200) return {};
    auto samples = metrics::parse_exposition(got->body);
    return samples.ok() ? *samples : std::vector<metrics::sample>{};
}

int http_status(const std::string& address_file, const std::string& path) {
    auto got = metrics::http_get(address_in(address_file), path);
    return got.ok() ? got->status : -1;
}

class run_metrics_test : public pipeline_fixture {
protected:
    // `syncline status --json` for pipeline p1: its one JSON line (null when it failed).
    nlohmann::json status_of_p1() {
        const std::string out = dir / "status.out";
        std::remove(out.c_str());
        const int code = run_to_exit("syncline", {"status", "--state", state, "--log", log_dir, "--pipeline", "p1",
                                                  "--json", "--interval-ms", "200"},
                                     out, seconds(30));
        if (code != 0) return nullptr;
        return nlohmann::json::parse(read_file(out), nullptr, false);
    }
};

TEST_F(run_metrics_test, one_endpoint_serves_every_process_and_restarts_are_counted_once) {
    append_sample(*writer, 3'000, 300, 1);
    auto run = start("syncline",
                     {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--workers", "2", "--target",
                      "sqlite:" + (dir / "target.db"), "--metrics-listen", "127.0.0.1:0"},
                     dir / "run.log");
    const std::string run_dir = state + "/p1.run";
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") == 3'000; }, seconds(60)));
    ASSERT_TRUE(eventually([&] { return http_status(run_dir + "/run.metrics", "/ready") == 200; }, seconds(20)));

    // Every process is in the one scrape, each series labelled with its process.
    std::vector<metrics::sample> merged;
    ASSERT_TRUE(eventually([&] {
        merged = scrape(run_dir + "/run.metrics");
        return metrics::find_sample(merged, "syncline_ventilator_committed_offset", {{"process", "ventilator"}}) ==
               3'000;
    }, seconds(20)));
    std::set<std::string> processes;
    for (const auto& s : merged) {
        ASSERT_TRUE(s.labels.count("process")) << s.name;
        EXPECT_EQ(s.labels.at("pipeline"), "p1") << s.name;
        processes.insert(s.labels.at("process"));
    }
    EXPECT_EQ(processes, (std::set<std::string>{"run", "sink", "ventilator", "worker-1", "worker-2"}));
    EXPECT_EQ(metrics::find_sample(merged, "syncline_sink_committed_offset", {{"process", "sink"}}), 3'000);
    const double delivered =
        metrics::find_sample(merged, "syncline_worker_records_delivered_total", {{"process", "worker-1"}}).value_or(-1) +
        metrics::find_sample(merged, "syncline_worker_records_delivered_total", {{"process", "worker-2"}}).value_or(-1);
    EXPECT_GE(delivered, 3'000);
    for (const char* child : {"sink", "ventilator", "worker-1", "worker-2"})
        EXPECT_EQ(metrics::find_sample(merged, "syncline_run_child_up", {{"child", child}, {"process", "run"}}), 1)
            << child;

    // The children keep their own endpoints, with the same figures.
    for (const char* child : {"sink", "ventilator", "worker-1", "worker-2"})
        EXPECT_EQ(http_status(run_dir + "/" + child + ".metrics", "/metrics"), 200) << child;
    EXPECT_EQ(metrics::find_sample(scrape(run_dir + "/sink.metrics"), "syncline_sink_committed_offset"), 3'000);

    // A killed worker is restarted: restarts.json, the merged /metrics and status say 1, and up
    // returns to 1 once the new worker answers.
    const long worker_pid = std::stol(read_file(run_dir + "/worker-2.pid"));
    ASSERT_EQ(::kill(static_cast<pid_t>(worker_pid), SIGKILL), 0);
    auto restarts_file = [&] {
        auto doc = nlohmann::json::parse(read_file(run_dir + "/restarts.json"), nullptr, false);
        return doc.is_discarded() ? -1 : doc["children"]["worker-2"]["restarts"].get<int>();
    };
    ASSERT_TRUE(eventually([&] { return restarts_file() == 1; }, seconds(20))) << read_file(run_dir + "/restarts.json");
    ASSERT_TRUE(eventually([&] {
        merged = scrape(run_dir + "/run.metrics");
        return metrics::find_sample(merged, "syncline_run_child_up", {{"child", "worker-2"}}) == 1;
    }, seconds(20)));
    EXPECT_EQ(metrics::find_sample(merged, "syncline_run_restarts_total", {{"child", "worker-2"}}), 1);
    EXPECT_EQ(metrics::find_sample(merged, "syncline_run_restarts_total", {{"child", "worker-1"}}), 0);
    const auto status = status_of_p1();
    ASSERT_TRUE(status.is_object()) << status;
    EXPECT_EQ(status["restarts"], 1) << status;
    EXPECT_EQ(status["supervised"], true) << status;

    run.signal(SIGTERM);
    EXPECT_EQ(run.wait_for(seconds(60)), 0);
}

TEST_F(run_metrics_test, status_sees_a_pipeline_started_by_hand) {
    append_sample(*writer, 2'000, 200, 1);
    // Started one by one, as on several hosts or by units of their own: the address files go to
    // the pipeline's run directory under the state root, where `syncline status` looks.
    const std::string run_dir = state + "/p1.run";
    const std::string work = "ipc://" + (dir / "work.sock"), acks = "ipc://" + (dir / "acks.sock"),
                      control = "ipc://" + (dir / "control.sock");
    auto with_metrics = [&](std::vector<std::string> args, const std::string& name) {
        for (std::string a : {std::string("--metrics-listen"), std::string("127.0.0.1:0"), std::string("--metrics-file"),
                              run_dir + "/" + name + ".metrics"})
            args.push_back(a);
        return args;
    };
    std::filesystem::create_directories(run_dir);
    auto sink = start("syncline-sink",
                      with_metrics({"--state", state, "--pipeline", "p1", "--acks", acks, "--control", control}, "sink"),
                      dir / "sink.log");
    auto worker = start("syncline-worker",
                        with_metrics({"--target", "sqlite:" + (dir / "target.db"), "--pipeline", "p1", "--work", work,
                                      "--acks", acks, "--id", "hand-1"},
                                     "worker-hand-1"),
                        dir / "worker.log");
    auto ventilator = start("syncline-ventilator",
                            with_metrics({"--log", log_dir, "--pipeline", "p1", "--work", work, "--control", control},
                                         "ventilator"),
                            dir / "ventilator.log");
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") == 2'000; }, seconds(60)));

    nlohmann::json status;
    ASSERT_TRUE(eventually([&] {
        status = status_of_p1();
        return status.is_object() && status["state"] == "caught_up" && !status["workers_seen"].empty();
    }, seconds(30))) << status;
    EXPECT_EQ(status["running"], true) << status;
    EXPECT_EQ(status["supervised"], false) << status;
    EXPECT_EQ(status["restarts"], nullptr) << status;  // No `syncline run`: nobody restarts anything.
    EXPECT_EQ(status["committed"], 2'000) << status;
    EXPECT_EQ(status["lag_records"], 0) << status;
    EXPECT_EQ(status["workers_seen"], nlohmann::json::array({"hand-1"})) << status;

    ventilator.signal(SIGTERM);
    EXPECT_EQ(ventilator.wait_for(seconds(30)), 0);
    worker.signal(SIGTERM);
    EXPECT_EQ(worker.wait_for(seconds(30)), 0);
    sink.signal(SIGTERM);
    EXPECT_EQ(sink.wait_for(seconds(30)), 0);
    // The sink let go of its state lock: stopped.
    status = status_of_p1();
    ASSERT_TRUE(status.is_object()) << status;
    EXPECT_EQ(status["running"], false) << status;
    EXPECT_EQ(status["state"], "stopped") << status;
}

}  // namespace
}  // namespace syncline::testing
