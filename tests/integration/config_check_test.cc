// `syncline config check` and config files as the real binary reads them: precise
// "FILE:LINE: key 'x': problem" errors (exit 2), the effective configuration with each value's
// origin (exit 0), --connect, the same errors from `syncline run --config`, and every example
// config in examples/ passing the check.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace syncline::testing {
namespace {

using std::chrono::seconds;
namespace fs = std::filesystem;

class config_check_test : public ::testing::Test {
protected:
    std::string write(const std::string& name, const std::string& text) {
        const std::string path = dir / name;
        std::ofstream(path) << text;
        return path;
    }
    // Runs `syncline ARGS...`; returns the exit code, output in `out`.
    int syncline(const std::vector<std::string>& args, std::string& out) {
        const std::string log = dir / "out.txt";
        std::error_code ec;
        fs::remove(log, ec);
        const int code = run_to_exit("syncline", args, log, seconds(60));
        out = read_file(log);
        return code;
    }
    temp_dir dir;
};

TEST_F(config_check_test, every_problem_is_reported_with_file_line_and_key) {
    fs::create_directories(dir / "log");
    write("not-a-dir", "x");
    const std::string ini = write("bad.ini",
                                  "# a pipeline with one mistake per line\n"
                                  "log = " + (dir / "log") + "\n"
                                  "state = " + (dir / "not-a-dir") + "/state\n"
                                  "wrokers = 3\n"
                                  "pipeline = has space\n"
                                  "target = sqlite:" + (dir / "t.db") + "?synchronus=full\n"
                                  "work = tcp://127.0.0.1:99999\n"
                                  "to = -5\n"
                                  "pipeline = again\n");
    std::string out;
    ASSERT_EQ(syncline({"config", "check", ini}, out), 2) << out;
    // Parse-level problems are all reported in one go...
    EXPECT_NE(out.find(ini + ":4: key 'wrokers': unknown key (did you mean 'workers'?)\n"), std::string::npos) << out;
    EXPECT_NE(out.find(ini + ":8: key 'to': "), std::string::npos) << out;
    EXPECT_NE(out.find(ini + ":9: key 'pipeline': set twice (first on line 5)\n"), std::string::npos) << out;

    // ...and once those are fixed, the values' problems, each at its line.
    const std::string ini2 = write("bad2.ini",
                                   "log = " + (dir / "log") + "\n"
                                   "state = " + (dir / "not-a-dir") + "/state\n"
                                   "pipeline = has space\n"
                                   "target = sqlite:" + (dir / "t.db") + "?synchronus=full\n"
                                   "work = tcp://127.0.0.1:99999\n"
                                   "workers = 0\n");
    ASSERT_EQ(syncline({"config", "check", ini2}, out), 2) << out;
    EXPECT_NE(out.find(ini2 + ":3: key 'pipeline': invalid name 'has space'"), std::string::npos) << out;
    EXPECT_NE(out.find(ini2 + ":4: key 'target': "), std::string::npos) << out;
    EXPECT_NE(out.find("synchronus"), std::string::npos) << out;
    EXPECT_NE(out.find(ini2 + ":5: key 'work': invalid endpoint 'tcp://127.0.0.1:99999': port must be 1-65535"),
              std::string::npos) << out;
    EXPECT_NE(out.find(ini2 + ":6: key 'workers': must be between 1 and 256"), std::string::npos) << out;

    // Missing required keys name the file; the same message stops `syncline run --config`.
    const std::string empty = write("empty.ini", "workers = 2\n");
    ASSERT_EQ(syncline({"config", "check", empty}, out), 2) << out;
    EXPECT_NE(out.find(empty + ": key 'log': required but missing\n"), std::string::npos) << out;
    EXPECT_NE(out.find(empty + ": key 'state': required but missing\n"), std::string::npos) << out;
    ASSERT_EQ(syncline({"run", "--config", ini2}, out), 2) << out;
    EXPECT_NE(out.find(ini2 + ":3: key 'pipeline': invalid name"), std::string::npos) << out;
}

TEST_F(config_check_test, paths_that_cannot_work_are_errors) {
    write("file", "x");
    const std::string ini = write("paths.ini",
                                  "log = " + (dir / "file") + "\n"
                                  "state = " + (dir / "file") + "/state\n"
                                  "target = sqlite:" + (dir / "no-such-dir") + "/t.db\n");
    std::string out;
    ASSERT_EQ(syncline({"config", "check", ini}, out), 2) << out;
    EXPECT_NE(out.find(ini + ":1: key 'log': '" + (dir / "file") + "' is not a directory"), std::string::npos) << out;
    EXPECT_NE(out.find(ini + ":2: key 'state': cannot be created: '" + (dir / "file") + "' is not a directory"),
              std::string::npos) << out;
    EXPECT_NE(out.find(ini + ":3: key 'target': directory '" + (dir / "no-such-dir") + "' does not exist"),
              std::string::npos) << out;
}

TEST_F(config_check_test, valid_config_prints_effective_values_and_origins) {
    const std::string ini = write("good.ini",
                                  "log = " + (dir / "log") + "\n"
                                  "state = " + (dir / "state") + "\n"
                                  "pipeline = orders\n"
                                  "target = sqlite:" + (dir / "t.db") + "\n"
                                  "workers = 2\n");
    ::setenv("SYNCLINE_WORKERS", "6", 1);
    std::string out;
    const int code = syncline({"config", "check", ini}, out);
    ::unsetenv("SYNCLINE_WORKERS");
    ASSERT_EQ(code, 0) << out;
    EXPECT_NE(out.find(ini + ": valid."), std::string::npos) << out;
    auto line_of = [&](const std::string& key) {
        std::istringstream in(out);
        for (std::string line; std::getline(in, line);)
            if (line.rfind("  " + key + " ", 0) == 0) return line;
        return std::string();
    };
    EXPECT_NE(line_of("workers").find("= 6"), std::string::npos) << out;
    EXPECT_NE(line_of("workers").find("# env SYNCLINE_WORKERS"), std::string::npos) << out;
    EXPECT_NE(line_of("pipeline").find("# file " + ini + ":3"), std::string::npos) << out;
    EXPECT_NE(line_of("progress").find("# default"), std::string::npos) << out;
    // The log does not exist yet: a warning, not an error.
    EXPECT_NE(out.find("does not exist yet"), std::string::npos) << out;

    // --connect: the target opens; the missing log is reported unreachable (exit 1).
    ASSERT_EQ(syncline({"config", "check", ini, "--connect"}, out), 1) << out;
    EXPECT_NE(out.find("target  ok"), std::string::npos) << out;
    EXPECT_NE(out.find("log     FAILED"), std::string::npos) << out;
    ASSERT_EQ(syncline({"generate", "--log", dir / "log", "--records", "10"}, out), 0) << out;
    ASSERT_EQ(syncline({"config", "check", ini, "--connect"}, out), 0) << out;
    EXPECT_NE(out.find("log     ok: opened, last offset 10"), std::string::npos) << out;
    EXPECT_NE(out.find("state   ok: not created yet"), std::string::npos) << out;
}

// Every examples/*.ini passes the check. Examples keep their files under /tmp/syncline-example
// (examples/README.md); the test moves that into its temp dir, so nothing outside it is needed.
TEST_F(config_check_test, every_example_config_is_valid) {
    const std::string examples = SYNCLINE_EXAMPLES_DIR;
    std::size_t checked = 0;
    for (const auto& entry : fs::directory_iterator(examples)) {
        if (entry.path().extension() != ".ini") continue;
        std::string text = read_file(entry.path());
        const std::string from = "/tmp/syncline-example";
        for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at))
            text.replace(at, from.size(), dir.path());
        // A secret file an example names is the operator's to create; here, a stand-in.
        for (const std::string secret_option : {"secret_file=", "password_file="}) {
            for (auto at = text.find(secret_option); at != std::string::npos; at = text.find(secret_option, at + 1)) {
                const auto start = at + secret_option.size();
                const std::string secret_path = text.substr(start, text.find_first_of("&\n", start) - start);
                std::ofstream(secret_path) << "example-secret\n";
            }
        }
        const std::string copy = write(entry.path().filename(), text);
        std::string out;
        EXPECT_EQ(syncline({"config", "check", copy}, out), 0) << entry.path() << ":\n" << out;
        ++checked;
    }
    EXPECT_GE(checked, 1u);
}

}  // namespace
}  // namespace syncline::testing
