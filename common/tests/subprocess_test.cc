#include "common/subprocess.h"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest.h>

namespace syncline {
namespace {

using std::chrono::milliseconds;

TEST(subprocess, exit_code_and_output_file) {
    char path[] = "/tmp/syncline-subprocess-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    auto child = child_process::spawn({{"/bin/sh", "-c", "echo hello; exit 3"}, path, path, "/dev/null"});
    ASSERT_TRUE(child.ok()) << child.get_status().message();
    EXPECT_EQ(child->wait_for(milliseconds(10'000)), 3);
    EXPECT_FALSE(child->running());
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), "hello\n");
    std::remove(path);
}

TEST(subprocess, stop_escalates_to_sigkill_when_sigterm_is_ignored) {
    auto child = child_process::spawn({.argv = {"/bin/sh", "-c", "trap '' TERM; while true; do sleep 0.05; done"}});
    ASSERT_TRUE(child.ok());
    EXPECT_FALSE(child->wait_for(milliseconds(100)).has_value());
    EXPECT_EQ(child->stop(milliseconds(200)), 128 + SIGKILL);
}

TEST(subprocess, sigterm_ends_a_default_child) {
    auto child = child_process::spawn({.argv = {"/bin/sleep", "30"}});
    ASSERT_TRUE(child.ok());
    child->signal(SIGTERM);
    EXPECT_EQ(child->wait_for(milliseconds(5000)), 128 + SIGTERM);
}

TEST(subprocess, missing_program_is_an_error_value) {
    auto child = child_process::spawn({.argv = {"/nonexistent/program"}});
    ASSERT_FALSE(child.ok());
    EXPECT_NE(child.get_status().message().find("/nonexistent/program"), std::string::npos);
}

TEST(subprocess, destructor_kills_and_reaps_a_running_child) {
    pid_t pid = -1;
    {
        auto child = child_process::spawn({.argv = {"/bin/sleep", "30"}});
        ASSERT_TRUE(child.ok());
        pid = child->pid();
    }
    EXPECT_NE(kill(pid, 0), 0);  // Gone and reaped: no zombie left with that pid.
}

}  // namespace
}  // namespace syncline
