#include "common/status.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <string>

#include "common/process.h"

namespace syncline {
namespace {

TEST(status, basics) {
    status ok;
    EXPECT_TRUE(ok.ok());
    EXPECT_EQ(ok.to_string(), "ok");
    EXPECT_TRUE(ok.with_context("ctx").ok());
    status s{errc::not_found, "no such pipeline"};
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.to_string(), "not_found: no such pipeline");
    status c = s.with_context("offsets load");
    EXPECT_EQ(c.code(), errc::not_found);
    EXPECT_EQ(c.message(), "offsets load: no such pipeline");
    EXPECT_EQ(status(errc::busy, "").with_context("x").message(), "x");
}

TEST(status, errc_names) {
    EXPECT_STREQ(errc_name(errc::ok), "ok");
    EXPECT_STREQ(errc_name(errc::invalid_argument), "invalid_argument");
    EXPECT_STREQ(errc_name(errc::not_found), "not_found");
    EXPECT_STREQ(errc_name(errc::corruption), "corruption");
    EXPECT_STREQ(errc_name(errc::io_error), "io_error");
    EXPECT_STREQ(errc_name(errc::unavailable), "unavailable");
    EXPECT_STREQ(errc_name(errc::busy), "busy");
    EXPECT_STREQ(errc_name(errc::cancelled), "cancelled");
}

status fails() { return {errc::io_error, "disk"}; }
status propagates() {
    SYNCLINE_RETURN_IF_ERROR(ok_status());
    SYNCLINE_RETURN_IF_ERROR(fails());
    return {errc::ok, "unreachable"};
}

TEST(status, result_and_macros) {
    result<std::unique_ptr<int>> r(std::make_unique<int>(5));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(**r, 5);
    EXPECT_TRUE(r.get_status().ok());
    std::unique_ptr<int> moved = std::move(r).value();
    EXPECT_EQ(*moved, 5);
    result<int> e(status{errc::corruption, "bad"});
    EXPECT_FALSE(e);
    EXPECT_EQ(e.get_status().code(), errc::corruption);
    EXPECT_EQ(propagates().message(), "disk");
}

TEST(status_death, check_aborts_with_location) {
    EXPECT_DEATH(SYNCLINE_CHECK(1 + 1 == 3), "status_test.cc:.*check failed: 1 \\+ 1 == 3");
    EXPECT_DEATH({ result<int> r(ok_status()); }, "ok status");
}

TEST(process, stop_flag_copies_share_state) {
    stop_flag a;
    stop_flag b = a;
    stop_flag other;
    EXPECT_FALSE(b.stop_requested());
    a.request_stop();
    EXPECT_TRUE(b.stop_requested());
    EXPECT_FALSE(other.stop_requested());
}

TEST(process, reports_return_exit_codes) {
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(report_usage_error("sink", status{errc::invalid_argument, "--window: must be > 0"}), exit_usage);
    EXPECT_EQ(report_fatal("sink", status{errc::io_error, "disk full"}), exit_failure);
    EXPECT_EQ(report_fatal("sink", "boom"), exit_failure);
    const std::string out = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(out, "sink: error: --window: must be > 0\nsink: error: disk full\nsink: error: boom\n");
}

TEST(process_death, first_signal_sets_flag_second_exits) {
    // In a child: the handlers are process-wide and must not leak into other tests.
    EXPECT_EXIT(
        {
            stop_flag stop = install_stop_handlers();
            stop_flag again = install_stop_handlers();
            raise(SIGPIPE);  // ignored
            if (stop.stop_requested()) _exit(3);
            raise(SIGTERM);
            if (!stop.stop_requested() || !again.stop_requested()) _exit(4);
            raise(SIGINT);  // second signal: immediate exit 1
            _exit(5);
        },
        ::testing::ExitedWithCode(1), "");
}

TEST(process_death, repeated_signals_from_the_supervisor_count_once) {
    // When a multi-threaded supervisor dies, the kernel re-sends the parent-death signal each time
    // the child passes from one of its dying threads to the next, so a child of `syncline run` can
    // get SIGTERM two or three times from the same (dead) parent. That is one request to drain,
    // not an operator asking twice to hurry (which exits 1 at once, without the final commit).
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        close(ready[0]);
        setenv(stop_with_parent_env, std::to_string(getppid()).c_str(), 1);
        stop_flag stop = install_stop_handlers();
        if (write(ready[1], "r", 1) != 1) _exit(6);
        while (!stop.stop_requested()) usleep(1000);
        if (write(ready[1], "s", 1) != 1) _exit(7);
        usleep(300 * 1000);  // Draining: the repeats arrive now.
        _exit(0);
    }
    close(ready[1]);
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1);
    ASSERT_EQ(kill(child, SIGTERM), 0);
    ASSERT_EQ(read(ready[0], &byte, 1), 1);  // The first one was taken; pending signals merge.
    ASSERT_EQ(kill(child, SIGTERM), 0);
    close(ready[0]);
    int wstatus = 0;
    ASSERT_EQ(waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFEXITED(wstatus));
    EXPECT_EQ(WEXITSTATUS(wstatus), 0) << "a repeated parent-death signal was taken for a second, impatient one";
}

}  // namespace
}  // namespace syncline
