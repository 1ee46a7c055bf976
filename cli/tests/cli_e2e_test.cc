// End-to-end tests of the `syncline` binary (path from CMake): each test runs the real program
// against stores in its own temp directory and checks exit codes, stdout and stderr, as an
// operator or a script would see them. Every child is bounded in time and killed if it hangs.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "store/change_log.h"
#include "store/state_store.h"

extern char** environ;

namespace syncline::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct run_result {
    int code = -1;
    std::string out;
    std::string err;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class cli_e2e : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "syncline-cli-e2e-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir = tmpl;
        log = (dir / "log").string();
        state = (dir / "state").string();
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    // Runs `syncline args...` with `input` on stdin; kills it after `timeout`.
    run_result run(const std::vector<std::string>& args, const std::string& input = "",
                   std::chrono::milliseconds timeout = 60s) {
        const fs::path in = dir / "stdin", out = dir / "stdout", err = dir / "stderr";
        std::ofstream(in, std::ios::binary | std::ios::trunc) << input;
        std::vector<std::string> storage{SYNCLINE_CLI_BIN};
        storage.insert(storage.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : storage) argv.push_back(a.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        pid_t pid = -1;
        const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        run_result r;
        if (rc != 0) {
            ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(rc);
            return r;
        }
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        int wstatus = 0;
        for (;;) {
            const pid_t done = ::waitpid(pid, &wstatus, WNOHANG);
            if (done == pid) break;
            if (std::chrono::steady_clock::now() > deadline) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, &wstatus, 0);
                ADD_FAILURE() << "syncline " << (args.empty() ? "" : args[0]) << " did not finish in time";
                break;
            }
            std::this_thread::sleep_for(5ms);
        }
        r.code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
        r.out = slurp(out);
        r.err = slurp(err);
        return r;
    }

    std::string write_file(const std::string& name, const std::string& text) {
        const fs::path p = dir / name;
        std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
        return p.string();
    }

    std::uint64_t log_count() {
        auto r = run({"log", "stats", "--log", log, "--json"});
        EXPECT_EQ(r.code, 0) << r.err;
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        return j.is_discarded() ? ~0ull : j["count"].get<std::uint64_t>();
    }

    std::vector<nlohmann::json> show_json() {
        auto r = run({"log", "show", "--log", log, "--json"});
        EXPECT_EQ(r.code, 0) << r.err;
        std::vector<nlohmann::json> out;
        std::istringstream in(r.out);
        for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
        return out;
    }

    void commit_offset(const std::string& pipeline, std::uint64_t offset) {
        auto s = store::state_store::open({.root = state, .pipeline = pipeline, .sync = true});
        ASSERT_TRUE(s.ok()) << s.get_status().message();
        ASSERT_TRUE((*s)->commit(offset).ok());
    }

    std::optional<std::uint64_t> committed(const std::string& pipeline) {
        auto s = store::state_store::open_reader(state, pipeline);
        EXPECT_TRUE(s.ok()) << s.get_status().message();
        if (!s.ok()) return std::nullopt;
        auto c = (*s)->committed();
        EXPECT_TRUE(c.ok());
        return c.ok() ? *c : std::nullopt;
    }

    fs::path dir;
    std::string log, state;
};

const std::string three_lines =
    R"({"collection":"users","key":"1","value":{"name":"Ada"}})"
    "\n"
    R"({"collection":"users","key":2,"op":"delete"})"
    "\n\n"
    R"({"collection":"orders","key":"o1","value":"plain\ttext","headers":{"src":"test"}})"
    "\n";

TEST_F(cli_e2e, append_from_file_and_stdin_then_show_and_stats) {
    auto a = run({"append", "--log", log, write_file("in.jsonl", three_lines)});
    ASSERT_EQ(a.code, 0) << a.err;
    EXPECT_EQ(a.out, "appended 3 records: offsets 1..3\n");
    auto b = run({"append", "--log", log}, R"({"collection":"users","key":"3","value":[1,2]})" "\n");
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_EQ(b.out, "appended 1 record: offsets 4..4\n");
    auto c = run({"append", "--log", log, "-"}, R"({"collection":"users","key":"4","value":"x"})");  // No final newline.
    ASSERT_EQ(c.code, 0) << c.err;
    EXPECT_EQ(c.out, "appended 1 record: offsets 5..5\n");

    auto show = run({"log", "show", "--log", log});
    ASSERT_EQ(show.code, 0) << show.err;
    std::istringstream lines(show.out);
    std::vector<std::string> rows;
    for (std::string line; std::getline(lines, line);) rows.push_back(line);
    ASSERT_EQ(rows.size(), 5u) << show.out;
    EXPECT_NE(rows[0].find("users  upsert  1  {\"name\":\"Ada\"}"), std::string::npos) << rows[0];
    EXPECT_NE(rows[1].find("users  delete  2  -"), std::string::npos) << rows[1];
    EXPECT_NE(rows[2].find("orders  upsert  o1  plain\\ttext  {src=test}"), std::string::npos) << rows[2];

    auto limited = run({"log", "show", "--log", log, "--from", "2", "--limit", "2"});
    ASSERT_EQ(limited.code, 0);
    EXPECT_EQ(std::count(limited.out.begin(), limited.out.end(), '\n'), 2);
    EXPECT_TRUE(limited.out.starts_with("2  ")) << limited.out;
    EXPECT_NE(limited.out.find("\n3  "), std::string::npos) << limited.out;

    auto records = show_json();
    ASSERT_EQ(records.size(), 5u);
    EXPECT_EQ(records[0]["offset"], 1);
    EXPECT_EQ(records[0]["value"]["name"], "Ada");
    EXPECT_TRUE(records[1]["value"].is_null());
    EXPECT_EQ(records[1]["op"], "delete");
    EXPECT_EQ(records[2]["value"], "plain\ttext");
    EXPECT_EQ(records[2]["headers"]["src"], "test");
    EXPECT_EQ(records[3]["value"], nlohmann::json::array({1, 2}));

    auto stats = run({"log", "stats", "--log", log});
    ASSERT_EQ(stats.code, 0) << stats.err;
    EXPECT_NE(stats.out.find("records       5"), std::string::npos) << stats.out;
    EXPECT_NE(stats.out.find("offsets       1..5"), std::string::npos) << stats.out;
    EXPECT_NE(stats.out.find("size on disk"), std::string::npos) << stats.out;
    EXPECT_NE(stats.out.find("  users   4"), std::string::npos) << stats.out;
    EXPECT_NE(stats.out.find("  orders  1"), std::string::npos) << stats.out;
    auto sj = nlohmann::json::parse(run({"log", "stats", "--log", log, "--json"}).out);
    EXPECT_EQ(sj["first_offset"], 1);
    EXPECT_EQ(sj["last_offset"], 5);
    EXPECT_EQ(sj["collections"]["users"], 4);
    EXPECT_GT(sj["disk_bytes"].get<std::uint64_t>(), 0u);
}

TEST_F(cli_e2e, show_json_output_can_be_appended_again) {
    ASSERT_EQ(run({"append", "--log", log, write_file("in.jsonl", three_lines)}).code, 0);
    const std::string dump = run({"log", "show", "--log", log, "--json"}).out;
    const std::string copy = (dir / "copy").string();
    auto again = run({"append", "--log", copy}, dump);
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_EQ(run({"log", "show", "--log", copy, "--json"}).out.size(), dump.size());
}

TEST_F(cli_e2e, one_bad_line_appends_nothing) {
    std::string text = three_lines + R"({"collection":"users","value":1})" "\n" + three_lines;
    auto r = run({"append", "--log", log, write_file("bad.jsonl", text)});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("bad.jsonl:5: missing \"key\""), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nothing appended"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(log_count(), 0u);

    auto not_json = run({"append", "--log", log}, "{\"collection\":\n");
    EXPECT_EQ(not_json.code, 1);
    EXPECT_NE(not_json.err.find("<stdin>:1: not JSON: "), std::string::npos) << not_json.err;
    auto bad_op = run({"append", "--log", log}, "\n\n" R"({"collection":"c","key":"k","op":"upsrt","value":1})");
    EXPECT_NE(bad_op.err.find("<stdin>:3: unknown op \"upsrt\""), std::string::npos) << bad_op.err;
    EXPECT_EQ(log_count(), 0u);
}

TEST_F(cli_e2e, above_the_atomic_limit_batches_are_appended_until_the_bad_one) {
    std::string text;
    for (int i = 1; i <= 25; ++i)
        text += R"({"collection":"c","key":")" + std::to_string(i) + R"(","value":)" + std::to_string(i) + "}\n";
    text += "oops\n";
    auto r = run({"append", "--log", log, "--batch-size", "10", "--atomic-limit", "100", write_file("big.jsonl", text)});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("big.jsonl:26: not JSON"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("already appended 20 records: offsets 1..20"), std::string::npos) << r.err;
    EXPECT_EQ(log_count(), 20u);  // The failing batch (21..25 and the bad line) appended nothing.
}

// An atomic input of many batches is staged while it is parsed: a bad last line still appends
// nothing, and what was staged never shows up (the next append starts at offset 1).
TEST_F(cli_e2e, staged_atomic_input_with_a_bad_last_line_appends_nothing) {
    std::string text;
    for (int i = 1; i <= 2500; ++i)
        text += R"({"collection":"c","key":")" + std::to_string(i) + R"(","value":)" + std::to_string(i) + "}\n";
    const std::string good = write_file("good.jsonl", text);
    auto r = run({"append", "--log", log, "--batch-size", "100", write_file("bad.jsonl", text + "{\"collection\":\"c\"}\n")});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("bad.jsonl:2501: missing \"key\""), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nothing appended"), std::string::npos) << r.err;
    EXPECT_EQ(log_count(), 0u);
    auto a = run({"append", "--log", log, write_file("in.jsonl", three_lines)});
    ASSERT_EQ(a.code, 0) << a.err;
    EXPECT_EQ(a.out, "appended 3 records: offsets 1..3\n");
    auto b = run({"append", "--log", log, "--batch-size", "100", good});
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_EQ(b.out, "appended 2500 records: offsets 4..2503\n");
    EXPECT_EQ(log_count(), 2503u);
    auto records = show_json();
    ASSERT_EQ(records.size(), 2503u);
    EXPECT_EQ(records[3]["key"], "1");
    EXPECT_EQ(records[2502]["key"], "2500");
}

// A pipe that crosses --atomic-limit after some batches were staged: those become visible with
// the first streamed batch, and the count and offsets cover every line.
TEST_F(cli_e2e, a_pipe_crossing_the_atomic_limit_appends_what_was_staged_too) {
    std::string text;
    for (int i = 1; i <= 60; ++i)
        text += R"({"collection":"c","key":")" + std::to_string(i) + R"(","value":)" + std::to_string(i) + "}\n";
    const std::string in = write_file("pipe.jsonl", text), out = (dir / "pipe.out").string(), err = (dir / "pipe.err").string();
    const std::string command = "cat " + in + " | " + std::string(SYNCLINE_CLI_BIN) + " append --log " + log +
                                " --batch-size 10 --atomic-limit 1000 > " + out + " 2> " + err;
    ASSERT_EQ(std::system(command.c_str()), 0) << slurp(err);
    EXPECT_NE(slurp(err).find("larger than --atomic-limit (1000 bytes): appending batch by batch from line 2"), std::string::npos) << slurp(err);
    EXPECT_EQ(slurp(out), "appended 60 records: offsets 1..60\n");
    EXPECT_EQ(log_count(), 60u);
}

TEST_F(cli_e2e, skip_invalid_appends_the_good_lines_and_reports_the_bad) {
    std::string text = three_lines + "not json\n" + R"({"collection":"c","key":"k","op":"drop"})" "\n" + three_lines;
    auto r = run({"append", "--log", log, "--skip-invalid", write_file("mixed.jsonl", text)});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "appended 6 records: offsets 1..6; skipped 2 invalid lines\n");
    EXPECT_NE(r.err.find("mixed.jsonl:5: not JSON"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("mixed.jsonl:6: unknown op \"drop\""), std::string::npos) << r.err;
    EXPECT_EQ(log_count(), 6u);
}

// The issue's reproduction: three records, the middle one with 300 headers. append names the
// line and appends nothing (the log would otherwise take a record no worker can decode).
TEST_F(cli_e2e, a_line_over_the_record_limits_is_refused_with_its_line_number) {
    std::string headers;
    for (int h = 0; h < 300; ++h) headers += (h ? ",\"h" : "\"h") + std::to_string(h) + "\":\"v\"";
    const std::string text = R"({"collection":"c","key":"1","value":1})" "\n"
                             R"({"collection":"c","key":"2","value":1,"headers":{)" + headers + "}}\n" +
                             R"({"collection":"c","key":"3","value":1})" "\n";
    auto r = run({"append", "--log", log, write_file("headers.jsonl", text)});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("headers.jsonl:2: 300 headers, more than the limit of 256"), std::string::npos) << r.err;
    EXPECT_EQ(log_count(), 0u);
}

TEST_F(cli_e2e, log_locked_by_a_writer_is_a_clear_error_and_readers_still_work) {
    ASSERT_EQ(run({"append", "--log", log, write_file("in.jsonl", three_lines)}).code, 0);
    auto writer = store::change_log::open_writer({.path = log});
    ASSERT_TRUE(writer.ok()) << writer.get_status().message();
    auto r = run({"append", "--log", log}, three_lines);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("syncline append: error: log " + log + " is locked by another writer"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    auto g = run({"generate", "--log", log, "--records", "10"});
    EXPECT_EQ(g.code, 1);
    EXPECT_NE(g.err.find("is locked by another writer"), std::string::npos) << g.err;

    // Readers open a secondary instance: they see what the writer appends.
    std::vector<record> more(2);
    for (auto& m : more) m = record{0, 0, "users", "w", op::upsert, "1", {}};
    ASSERT_TRUE((*writer)->append(more).ok());
    auto show = run({"log", "show", "--log", log, "--json"});
    EXPECT_EQ(show.code, 0) << show.err;
    EXPECT_EQ(std::count(show.out.begin(), show.out.end(), '\n'), 5);
}

TEST_F(cli_e2e, not_a_log_and_missing_log_are_clear_errors) {
    fs::create_directories(dir / "other");
    std::ofstream(dir / "other" / "notes.txt") << "hello";
    const std::string other = (dir / "other").string();
    auto a = run({"append", "--log", other}, three_lines);
    EXPECT_EQ(a.code, 1);
    EXPECT_NE(a.err.find("log " + other + " is not a syncline change log"), std::string::npos) << a.err;
    auto s = run({"log", "show", "--log", other});
    EXPECT_EQ(s.code, 1);
    EXPECT_NE(s.err.find("is not a syncline change log"), std::string::npos) << s.err;
    auto m = run({"log", "stats", "--log", (dir / "missing").string()});
    EXPECT_EQ(m.code, 1);
    EXPECT_NE(m.err.find("does not exist"), std::string::npos) << m.err;
    EXPECT_FALSE(fs::exists(dir / "missing"));
}

TEST_F(cli_e2e, offsets_set_prints_a_plan_and_changes_only_with_execute) {
    ASSERT_EQ(run({"generate", "--log", log, "--records", "5000", "--no-sync"}).code, 0);
    commit_offset("p1", 1000);

    auto plan = run({"offsets", "set", "--state", state, "--pipeline", "p1", "--to-offset", "500", "--log", log});
    ASSERT_EQ(plan.code, 0) << plan.err;
    EXPECT_NE(plan.out.find("current committed:  1000 (resumes at offset 1001)"), std::string::npos) << plan.out;
    EXPECT_NE(plan.out.find("new committed:      499 (resume at offset 500)"), std::string::npos) << plan.out;
    EXPECT_NE(plan.out.find("replays 501 records"), std::string::npos) << plan.out;
    EXPECT_NE(plan.out.find("dry run: nothing changed"), std::string::npos) << plan.out;
    EXPECT_EQ(committed("p1"), 1000u);

    auto done = run({"offsets", "set", "--state", state, "--pipeline", "p1", "--shift-by", "-300", "--execute"});
    ASSERT_EQ(done.code, 0) << done.err;
    EXPECT_NE(done.out.find("committed offset is now 700; it resumes at offset 701"), std::string::npos) << done.out;
    EXPECT_EQ(committed("p1"), 700u);

    ASSERT_EQ(run({"offsets", "set", "--state", state, "--pipeline", "p1", "--to-latest", "--log", log, "--execute"}).code, 0);
    EXPECT_EQ(committed("p1"), 5000u);
    ASSERT_EQ(run({"offsets", "set", "--state", state, "--pipeline", "p1", "--to-time", "1970-01-01T00:00:00Z", "--log",
                   log, "--execute"})
                  .code,
              0);
    EXPECT_EQ(committed("p1"), 0u);  // Every record was appended after 1970: resume at offset 1.

    auto show = run({"offsets", "show", "--state", state, "--log", log});
    ASSERT_EQ(show.code, 0) << show.err;
    EXPECT_NE(show.out.find("PIPELINE"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("p1"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("5000"), std::string::npos) << show.out;
    auto js = nlohmann::json::parse(run({"offsets", "show", "--state", state, "--pipeline", "p1", "--log", log, "--json"}).out);
    EXPECT_EQ(js["committed"], 0);
    EXPECT_EQ(js["lag"], 5000);
}

TEST_F(cli_e2e, offsets_set_is_refused_while_the_pipeline_runs) {
    commit_offset("p1", 10);
    auto sink = store::state_store::open({.root = state, .pipeline = "p1", .sync = true});
    ASSERT_TRUE(sink.ok()) << sink.get_status().message();
    auto r = run({"offsets", "set", "--state", state, "--pipeline", "p1", "--to-offset", "1", "--execute"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("syncline offsets set: error: pipeline p1 is running (its state is locked): stop it first"),
              std::string::npos)
        << r.err;
    // The dry run still shows the plan, and says it cannot be applied now.
    auto dry = run({"offsets", "set", "--state", state, "--pipeline", "p1", "--to-offset", "1"});
    EXPECT_EQ(dry.code, 0) << dry.err;
    EXPECT_NE(dry.out.find("is running"), std::string::npos) << dry.out;
    auto show = run({"offsets", "show", "--state", state, "--pipeline", "p1"});
    EXPECT_EQ(show.code, 0) << show.err;
    EXPECT_NE(show.out.find("p1        10"), std::string::npos) << show.out;
    sink = status{errc::cancelled, "closed"};  // Release the lock.
    EXPECT_EQ(run({"offsets", "set", "--state", state, "--pipeline", "p1", "--to-offset", "1", "--execute"}).code, 0);
    EXPECT_EQ(committed("p1"), 0u);
}

TEST_F(cli_e2e, offsets_for_a_pipeline_without_state) {
    auto dry = run({"offsets", "set", "--state", state, "--pipeline", "fresh", "--to-offset", "7"});
    EXPECT_EQ(dry.code, 0) << dry.err;
    EXPECT_NE(dry.out.find("never committed"), std::string::npos) << dry.out;
    EXPECT_FALSE(fs::exists(fs::path(state) / "fresh"));  // A dry run creates nothing.
    ASSERT_EQ(run({"offsets", "set", "--state", state, "--pipeline", "fresh", "--to-offset", "7", "--execute"}).code, 0);
    EXPECT_EQ(committed("fresh"), 6u);
    auto missing = run({"offsets", "show", "--state", state, "--pipeline", "nope"});
    EXPECT_EQ(missing.code, 1);
    EXPECT_NE(missing.err.find("pipeline nope has no state"), std::string::npos) << missing.err;
}

TEST_F(cli_e2e, bad_usage_exits_2_with_one_line) {
    auto expect_usage = [&](const std::vector<std::string>& args, std::string_view needle) {
        auto r = run(args);
        EXPECT_EQ(r.code, 2) << args[0] << ": " << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    };
    expect_usage({"append"}, "syncline append: error: ");
    expect_usage({"append", "--log", log, "--batch-size", "0"}, "--batch-size");
    expect_usage({"append", "--log", log, "--atomic-limit", "lots"}, "--atomic-limit: invalid size 'lots'");
    // Never above the record limit every reader accepts (common/record.h): 64 MiB.
    expect_usage({"append", "--log", log, "--max-value-bytes", "65MiB"}, "--max-value-bytes must be between 1 and 64MiB");
    expect_usage({"offsets", "set", "--state", state, "--pipeline", "p"}, "give exactly one of");
    expect_usage({"offsets", "set", "--state", state, "--pipeline", "p", "--to-offset", "1", "--to-earliest"},
                 "conflicting targets");
    expect_usage({"offsets", "set", "--state", state, "--pipeline", "p", "--to-latest"}, "--to-latest needs --log");
    expect_usage({"offsets", "set", "--state", state, "--pipeline", "p", "--to-time", "yesterday", "--log", log},
                 "--to-time: invalid time 'yesterday'");
    expect_usage({"offsets", "set", "--state", state, "--pipeline", "p", "--to-offset", "-3"}, "--to-offset");
    expect_usage({"offsets", "set", "--state", state, "--pipeline", "../x", "--to-offset", "3"}, "--pipeline");
    expect_usage({"generate", "--log", log, "--records", "10", "--delete-ratio", "2"}, "--delete-ratio");
    // A name colliding with another pipeline's run directory (STATE/orders.run).
    expect_usage({"run", "--log", log, "--state", state, "--pipeline", "orders.run", "--target", "null:"},
                 "is the run directory of pipeline 'orders'");
    // Nor with replay's temporary pipeline (replay of orders resets and deletes STATE/orders.replay).
    expect_usage({"run", "--log", log, "--state", state, "--pipeline", "orders.replay", "--target", "null:"},
                 "is the temporary pipeline `syncline replay` uses for 'orders'");
    expect_usage({"replay", "--log", log, "--state", state, "--pipeline", "orders.replay", "--from", "1", "--target",
                  "null:"},
                 "is the temporary pipeline `syncline replay` uses for 'orders'");
    expect_usage({"log", "show", "--log", log, "--limit", "0"}, "--limit");
    expect_usage({"frobnicate"}, "unknown command 'frobnicate'");
    expect_usage({"log", "tail"}, "unknown subcommand 'tail'");

    auto help = run({"--help"});
    EXPECT_EQ(help.code, 0);
    for (const char* name : {"append", "log show", "log stats", "offsets show", "offsets set", "generate"})
        EXPECT_NE(help.out.find(name), std::string::npos) << name;
    auto cmd_help = run({"offsets", "set", "--help"});
    EXPECT_EQ(cmd_help.code, 0);
    EXPECT_NE(cmd_help.out.find("--to-time"), std::string::npos);
    EXPECT_EQ(run({"--version"}).code, 0);
}

TEST_F(cli_e2e, generate_and_append_draw_one_bar_on_a_terminal_and_plain_lines_otherwise) {
    std::string lines;
    for (int i = 0; i < 3000; ++i)
        lines += R"({"collection":"c","key":")" + std::to_string(i) + R"(","value":{"i":)" + std::to_string(i) + "}}\n";
    const std::string input = write_file("in.jsonl", lines);
    // Not a terminal (stderr is a file): generate's plain lines, append's summary only; no bar.
    auto g = run({"generate", "--log", log, "--records", "5000", "--batch-size", "500", "--no-sync"});
    ASSERT_EQ(g.code, 0) << g.err;
    EXPECT_NE(g.err.find("generate: 500/5000 records (10%)"), std::string::npos) << g.err;
    EXPECT_EQ(g.err.find('\r'), std::string::npos) << g.err;
    EXPECT_EQ(g.err.find("\033["), std::string::npos) << g.err;
    auto a = run({"append", "--no-sync", "--log", (dir / "plain").string(), input});
    ASSERT_EQ(a.code, 0) << a.err;
    EXPECT_EQ(a.err, "");
    EXPECT_EQ(a.out, "appended 3000 records: offsets 1..3000\n");

    // A terminal: script(1) (util-linux, in every Debian) runs each command on a pty.
    if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "no script(1) to provide a terminal";
    auto on_tty = [&](const std::string& args) {
        const std::string out = (dir / "tty.txt").string();
        const std::string command = "script -qfec '" + std::string(SYNCLINE_CLI_BIN) + " " + args + "' /dev/null > " + out +
                                    " 2>&1 < /dev/null";
        EXPECT_EQ(std::system(command.c_str()), 0) << command << "\n" << slurp(out);
        return slurp(out);
    };
    const std::string gt = on_tty("generate --no-sync --log " + (dir / "tty-gen").string() + " --records 5000 --batch-size 500");
    // One line redrawn in place (\r ... clear to the end of the line), ending complete.
    EXPECT_NE(gt.find("\rgenerate ["), std::string::npos) << gt;
    EXPECT_NE(gt.find("[##############################] 100%  5,000/5,000"), std::string::npos) << gt;
    EXPECT_NE(gt.find("done\033[K"), std::string::npos) << gt;
    EXPECT_EQ(gt.find("generate: 500/5000 records"), std::string::npos) << "plain lines on a terminal:\n" << gt;
    EXPECT_NE(gt.find("appended 5000 records: offsets 1..5000"), std::string::npos) << gt;
    const std::string at = on_tty("append --no-sync --log " + (dir / "tty-append").string() + " " + input);
    EXPECT_NE(at.find("\rappend ["), std::string::npos) << at;
    EXPECT_NE(at.find("100%  3,000/3,000"), std::string::npos) << at;
    EXPECT_NE(at.find("appended 3000 records: offsets 1..3000"), std::string::npos) << at;
}

TEST_F(cli_e2e, generate_appends_deletes_and_repeated_keys) {
    auto g = run({"generate", "--log", log, "--records", "3000", "--keys", "50", "--delete-ratio", "0.2",
                  "--collections", "a,b", "--seed", "7", "--batch-size", "700"});
    ASSERT_EQ(g.code, 0) << g.err;
    EXPECT_EQ(g.out, "appended 3000 records: offsets 1..3000\n");
    EXPECT_NE(g.err.find("generate: 700/3000 records (23%)"), std::string::npos) << g.err;  // Per batch.
    auto records = show_json();
    ASSERT_EQ(records.size(), 3000u);
    std::size_t deletes = 0;
    std::set<std::pair<std::string, std::string>> keys;
    for (const auto& r : records) {
        deletes += r["op"] == "delete";
        keys.insert({r["collection"].get<std::string>(), r["key"].get<std::string>()});
        if (r["op"] == "upsert") {
            EXPECT_TRUE(r["value"].is_object()) << r;
        }
    }
    EXPECT_GT(deletes, 400u);
    EXPECT_LT(deletes, 800u);
    EXPECT_LE(keys.size(), 100u);
    // Deterministic: the same options give the same records in a second log.
    const std::string second = (dir / "second").string();
    ASSERT_EQ(run({"generate", "--log", second, "--records", "3000", "--keys", "50", "--delete-ratio", "0.2",
                   "--collections", "a,b", "--seed", "7"})
                  .code,
              0);
    auto other = run({"log", "show", "--log", second, "--json", "--limit", "50"});
    std::istringstream in(other.out);
    std::size_t i = 0;
    for (std::string line; std::getline(in, line); ++i) {
        auto j = nlohmann::json::parse(line);
        EXPECT_EQ(j["key"], records[i]["key"]);
        EXPECT_EQ(j["value"], records[i]["value"]);
    }
    EXPECT_EQ(i, 50u);
}

}  // namespace
}  // namespace syncline::cli
