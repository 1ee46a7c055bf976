#pragma once
// tests/support/harness.h: what integration tests share: a temp directory that cleans itself,
// the real binaries started as child processes (killed and reaped on teardown), sample logs,
// and waits with deadlines (tests never sleep for a fixed time to "let things settle").
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/subprocess.h"
#include "store/change_log.h"

namespace syncline::testing {

// How many times slower than a plain build the processes under test run: SYNCLINE_TEST_TIME_FACTOR
// from the environment if set, else the build's (3 under sanitizers, 1 otherwise; CMake's
// SYNCLINE_TEST_TIME_FACTOR, which also multiplies the ctest timeouts). The harness's waits
// (eventually, run_to_exit, logged_endpoint) apply it; tests apply it to their own with scaled().
double time_factor();
std::chrono::milliseconds scaled(std::chrono::milliseconds deadline);

// Sanitizer reports (ASan, LSan, UBSan) in the *.log files under `dir`: each report's file and
// first lines, "" when there is none. A child process's report must fail its test even when the
// test killed the child or never looked at its exit code.
std::string sanitizer_reports(const std::string& dir);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction. Any
// sanitizer report in its logs fails the running test, and the directory is then kept
// (renamed to DIR.kept, printed) for the reader.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    const std::string& path() const { return _path; }
    std::string operator/(const std::string& name) const { return _path + "/" + name; }

private:
    std::string _path;
};

// Path of a built binary (syncline, syncline-sink, ...); $SYNCLINE_TEST_BIN_DIR overrides the build's bin dir.
std::string binary(const std::string& name);

// Starts a built binary with `args`, its stdout+stderr appended to `log_path`.
child_process start(const std::string& name, const std::vector<std::string>& args, const std::string& log_path);

// Runs a built binary to completion (bounded by scaled(`timeout`)); returns the exit code, -1 on timeout.
int run_to_exit(const std::string& name, const std::vector<std::string>& args, const std::string& log_path,
                std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Polls `condition` every 20 ms until it holds or scaled(`timeout`) passes; returns whether it held.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// Appends `count` sample records (collections a/b/c, upserts and ~10% deletes over `keys` keys)
// in batches of 1000, numbering values from `seed` so separate calls differ.
void append_sample(store::change_log& log, std::uint64_t count, std::uint64_t keys, std::uint64_t seed);

// The pipeline's committed offset read from its state root (0 when none yet).
std::uint64_t committed(const std::string& state_root, const std::string& pipeline);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), for
// servers the tests start (PostgreSQL, Redis, HTTP receivers, metrics endpoints).
int free_tcp_port();

// The endpoint a process logged for `channel` ("listening channel=acks endpoint=tcp://..."),
// waiting up to scaled(10 s) for the line; "" if it never came.
std::string logged_endpoint(const std::string& log_path, const std::string& channel);

// The whole text of a file ("" if missing).
std::string read_file(const std::string& path);

// Counts lines of `path` containing `needle`.
std::size_t count_lines_with(const std::string& path, const std::string& needle);

// What every pipeline test starts from: a temp dir with a change log (`writer` open on
// `log_dir`) and a state root. On failure the dir is kept (renamed to DIR.kept, printed) so
// the processes' logs can be read; `on_failure` adds what a fixture wants printed then.
class pipeline_fixture : public ::testing::Test {
protected:
    void SetUp() override { open_writer(); }
    void TearDown() override;
    virtual std::string on_failure() { return ""; }
    // (Re)opens `writer` on `log_dir`.
    void open_writer();

    temp_dir dir;
    std::string log_dir = dir / "log";
    std::string state = dir / "state";
    std::unique_ptr<store::change_log> writer;
};

}  // namespace syncline::testing
