// Supervision by `syncline run`: a worker killed with SIGKILL is restarted (new pid) while the
// other processes keep running, and the pipeline still completes and verifies; a worker that
// fails at start is retried with growing intervals instead of spinning, and joins once it can.
// Runs with --log-format json, so every log line of every process is also checked to parse.
#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/change_log.h"
#include "tests/support/harness.h"
#include "targets/target.h"
#include "targets/verify.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
namespace fs = std::filesystem;

class supervision_test : public pipeline_fixture {
protected:
    child_process start_run(int workers) {
        return start("syncline",
                     {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--target", target, "--workers",
                      std::to_string(workers), "--run-dir", run_dir, "--log-format", "json",
                      "--ventilator-args", "--ack-timeout-ms 1500 --tail-interval-ms 5"},
                     dir / "run.log");
    }

    pid_t pid_of(const std::string& child) {
        const std::string text = read_file(run_dir + "/" + child + ".pid");
        return text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
    }

    nlohmann::json restarts() {
        const std::string text = read_file(run_dir + "/restarts.json");
        return text.empty() ? nlohmann::json::object() : nlohmann::json::parse(text);
    }

    // Every line the runner and its children logged is a JSON object with the agreed keys.
    void expect_json_logs() {
        std::size_t lines_checked = 0;
        for (const auto& entry : fs::directory_iterator(run_dir)) {
            if (entry.path().extension() != ".log") continue;
            std::istringstream in(read_file(entry.path()));
            for (std::string line; std::getline(in, line);) {
                nlohmann::json j;
                ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << entry.path() << ": " << line;
                for (const char* key : {"ts", "level", "process", "pipeline", "msg", "fields"})
                    EXPECT_TRUE(j.contains(key)) << key << " missing: " << line;
                ++lines_checked;
            }
        }
        EXPECT_GT(lines_checked, 10u);
    }

    // Wall-clock times (ms) of the runner's "<child> died" lines.
    std::vector<std::int64_t> death_times(const std::string& child) {
        std::vector<std::int64_t> out;
        std::istringstream in(read_file(dir / "run.log"));
        for (std::string line; std::getline(in, line);) {
            const auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.contains("msg")) continue;
            if (j["msg"].get<std::string>().rfind(child + " died:", 0) != 0) continue;
            std::tm tm{};
            int ms = 0;
            const std::string ts = j["ts"];
            std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                        &tm.tm_min, &tm.tm_sec, &ms);
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            out.push_back(static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms);
        }
        return out;
    }

    std::string run_dir = dir / "run";
    std::string target = "sqlite:" + (dir / "target.db");
};

TEST_F(supervision_test, a_killed_worker_is_restarted_and_the_others_keep_running) {
    append_sample(*writer, 40'000, 4'000, 1);
    auto runner = start_run(3);
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") > 0; }, seconds(60))) << read_file(dir / "run.log");
    std::map<std::string, pid_t> before;
    for (const char* name : {"sink", "ventilator", "worker-1", "worker-2", "worker-3"}) before[name] = pid_of(name);

    ASSERT_EQ(::kill(before["worker-2"], SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return restarts()["children"]["worker-2"]["restarts"] == 1; }, seconds(20)))
        << read_file(run_dir + "/restarts.json");
    const auto r = restarts();
    EXPECT_EQ(r["version"], 1);
    EXPECT_EQ(r["pipeline"], "p1");
    EXPECT_EQ(r["restarts_total"], 1);
    EXPECT_EQ(r["children"]["worker-2"]["last_exit"], "signal 9 (SIGKILL)");
    const pid_t restarted = pid_of("worker-2");
    EXPECT_NE(restarted, before["worker-2"]);
    EXPECT_EQ(r["children"]["worker-2"]["pid"], restarted);
    for (const char* name : {"sink", "ventilator", "worker-1", "worker-3"}) {
        EXPECT_EQ(pid_of(name), before[name]) << name << " was restarted too";
        EXPECT_EQ(::kill(before[name], 0), 0) << name << " is gone";
    }

    append_sample(*writer, 20'000, 4'000, 2);
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 60'000; }, seconds(90)))
        << "committed " << committed(state, "p1");
    runner.signal(SIGTERM);
    EXPECT_EQ(runner.wait_for(seconds(60)), 0) << read_file(dir / "run.log");

    auto log = store::change_log::open_reader(log_dir);
    ASSERT_TRUE(log.ok());
    auto t = targets::open_target(target, {"p1"});
    ASSERT_TRUE(t.ok()) << t.get_status().message();
    auto report = targets::verify_target(**log, committed(state, "p1"), **t);
    ASSERT_TRUE(report.ok()) << report.get_status().message();
    EXPECT_TRUE(report->clean()) << targets::format_report(*report, 20);
    EXPECT_EQ(death_times("worker-2").size(), 1u);
    expect_json_logs();
}

TEST_F(supervision_test, a_worker_failing_at_start_backs_off_then_joins) {
    // The URI is valid, but the directory of the file is missing: each worker start fails.
    const std::string missing = dir / "missing";
    target = "jsonl:" + missing + "/out.jsonl";
    append_sample(*writer, 5'000, 500, 3);
    auto runner = start_run(1);
    ASSERT_TRUE(eventually([&] { return restarts()["children"]["worker-1"]["restarts"] >= 3; }, seconds(30)))
        << read_file(dir / "run.log");
    const pid_t sink = pid_of("sink"), ventilator = pid_of("ventilator");
    const auto deaths = death_times("worker-1");
    ASSERT_GE(deaths.size(), 3u) << read_file(dir / "run.log");
    // Restart intervals double (0.5 s, 1 s, 2 s, ...), so the gaps between deaths grow.
    for (std::size_t i = 2; i < deaths.size(); ++i)
        EXPECT_GT(deaths[i] - deaths[i - 1], deaths[i - 1] - deaths[i - 2])
            << "gaps " << deaths[i - 1] - deaths[i - 2] << " then " << deaths[i] - deaths[i - 1];
    EXPECT_EQ(restarts()["children"]["worker-1"]["last_exit"], "exit code 2 (bad usage or configuration)");
    EXPECT_EQ(committed(state, "p1"), 0u);

    fs::create_directories(missing);
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 5'000; }, seconds(60)))
        << "committed " << committed(state, "p1") << "\n" << read_file(dir / "run.log");
    EXPECT_EQ(pid_of("sink"), sink);
    EXPECT_EQ(pid_of("ventilator"), ventilator);
    runner.signal(SIGTERM);
    EXPECT_EQ(runner.wait_for(seconds(60)), 0);
    std::set<std::string> offsets;
    std::istringstream lines(read_file(missing + "/out.jsonl"));
    for (std::string line; std::getline(lines, line);) offsets.insert(nlohmann::json::parse(line)["offset"].dump());
    EXPECT_EQ(offsets.size(), 5'000u);
    expect_json_logs();
}

}  // namespace
}  // namespace syncline::testing
