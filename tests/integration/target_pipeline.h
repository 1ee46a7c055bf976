#pragma once
// A pipeline of the real processes (sink, ventilator, N workers) on ipc sockets in a temp dir,
// writing to a target URI given by the test, plus the `syncline` commands the target tests use
// (verify, replay, offsets set) and a snapshot of the target's state for before/after checks.
// Shared by the integration tests of the real targets (redis_test.cc, rocksdb_test.cc).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "store/change_log.h"
#include "tests/support/harness.h"
#include "tests/support/pipeline.h"
#include "targets/target.h"

namespace syncline::testing {

struct cli_run {
    int code = -1;
    std::string out;  // stdout and stderr together.
};

class target_pipeline : public pipeline_fixture {
protected:
    // The options of this test's pipeline (tests/support/pipeline.h): one spelling with `syncline run`.
    pipeline_spec spec() const { return {pipeline, log_dir, state, work, acks, control, target}; }
    child_process start_sink() { return launch(spec().sink(), dir / "sink.log"); }
    child_process start_ventilator() { return launch(spec().ventilator(), dir / "ventilator.log"); }
    child_process start_worker(int i) { return launch(spec().worker(i), worker_log(i)); }
    std::vector<child_process> start_workers(int n) {
        std::vector<child_process> out;
        for (int i = 1; i <= n; ++i) out.push_back(start_worker(i));
        return out;
    }
    std::string worker_log(int i) const { return dir / ("worker-" + std::to_string(i) + ".log"); }

    std::uint64_t committed_now() const { return committed(state, pipeline); }
    bool wait_committed(std::uint64_t offset, std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
        return eventually([&] { return committed_now() >= offset; }, timeout);
    }

    // `syncline args...` to completion.
    cli_run syncline(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        const std::string out = dir / ("cmd-" + std::to_string(++_calls) + ".log");
        cli_run r;
        r.code = run_to_exit("syncline", args, out, timeout);
        r.out = read_file(out);
        return r;
    }
    cli_run verify() {
        return syncline({"verify", "--log", log_dir, "--state", state, "--pipeline", pipeline, "--target", target});
    }

    // Everything the target holds now (tombstones included).
    targets::state_map target_state() {
        auto t = targets::open_target(target, {pipeline});
        EXPECT_TRUE(t.ok()) << t.get_status().message();
        if (!t.ok()) return {};
        auto s = (*t)->read_state();
        EXPECT_TRUE(s.ok()) << s.get_status().message();
        return s.ok() && s->has_value() ? **s : targets::state_map{};
    }

    std::string pipeline = "p1";
    std::string target;  // Set by the test before starting workers.
    std::string work = "ipc://" + (dir / "work.sock");
    std::string acks = "ipc://" + (dir / "acks.sock");
    std::string control = "ipc://" + (dir / "control.sock");

private:
    int _calls = 0;
};

}  // namespace syncline::testing
