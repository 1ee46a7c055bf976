// jsonl:PATH on real files: line format, reader-side fencing, torn lines, concurrent appenders.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "targets/target.h"
#include "targets/tests/test_util.h"

namespace syncline::targets {
namespace {

using json = nlohmann::json;
using testing::del;
using testing::temp_dir;
using testing::upsert;
using testing::views;

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

void append_raw(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << bytes;
}

std::unique_ptr<target> open_jsonl(const std::string& path) {
    auto t = open_target("jsonl:" + path);
    if (!t.ok()) {
        ADD_FAILURE() << t.get_status().to_string();
        return nullptr;
    }
    return std::move(t).value();
}

void deliver_ok(target& t, const std::vector<record>& rs) {
    auto v = views(rs);
    auto out = t.deliver(v);
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    ASSERT_TRUE(out.failures.empty());
}

TEST(jsonl_target, writes_one_json_line_per_change) {
    temp_dir dir;
    const std::string path = dir.file("out.jsonl");
    auto t = open_jsonl(path);
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(1, "users", "alice", R"({"name": "Alice", "tags": [1, 2]})"),
                    upsert(2, "users", "bob", "not json \"quoted\"\n"),
                    upsert(3, "users", "multi", "{\n  \"a\": 1\n}"),
                    del(4, "users", "alice"),
                    upsert(5, "bin", std::string("k\xff\x01", 3), "42")});
    auto lines = lines_of(path);
    ASSERT_EQ(lines.size(), 5u);
    std::vector<json> j;
    for (const auto& l : lines) {
        j.push_back(json::parse(l, nullptr, false));
        ASSERT_FALSE(j.back().is_discarded()) << l;
    }
    EXPECT_EQ(j[0]["offset"], 1);
    EXPECT_EQ(j[0]["ts"], 1'700'000'000'001);
    EXPECT_EQ(j[0]["collection"], "users");
    EXPECT_EQ(j[0]["key"], "alice");
    EXPECT_EQ(j[0]["op"], "upsert");
    EXPECT_EQ(j[0]["value"], json::parse(R"({"name":"Alice","tags":[1,2]})"));
    EXPECT_EQ(j[1]["value"], "not json \"quoted\"\n");
    EXPECT_EQ(j[2]["value"], json::parse(R"({"a":1})"));
    EXPECT_EQ(j[3]["op"], "delete");
    EXPECT_TRUE(j[3]["value"].is_null());
    EXPECT_EQ(j[4]["key"], "k\xEF\xBF\xBD\x01");  // Not UTF-8: U+FFFD per bad byte.
    EXPECT_EQ(j[4]["value"], 42);
}

TEST(jsonl_target, reader_fences_by_offset) {
    temp_dir dir;
    auto t = open_jsonl(dir.file("out.jsonl"));
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(5, "c", "k", R"({"v":5})"), upsert(7, "c", "gone", "1")});
    deliver_ok(*t, {upsert(3, "c", "k", R"({"v":3})"), del(8, "c", "gone")});
    deliver_ok(*t, {upsert(5, "c", "k", R"({"v":5})"), upsert(6, "c", "gone", "2")});  // Redelivery, stale.
    auto st = t->read_state();
    ASSERT_TRUE(st.ok()) << st.get_status().to_string();
    ASSERT_TRUE(st->has_value());
    EXPECT_EQ(**st, (state_map{{{"c", "k"}, {R"({"v":5})", 5, false}}, {{"c", "gone"}, {"", 8, true}}}));
}

TEST(jsonl_target, torn_lines_are_ignored_and_later_appends_stay_readable) {
    temp_dir dir;
    const std::string path = dir.file("out.jsonl");
    auto t = open_jsonl(path);
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(1, "c", "a", "1")});
    append_raw(path, R"({"offset":2,"ts":1,"collection":"c","key":"b","op":"ups)");  // A crash mid-write.
    {
        auto st = t->read_state();
        ASSERT_TRUE(st.ok()) << st.get_status().to_string();
        EXPECT_EQ(**st, (state_map{{{"c", "a"}, {"1", 1, false}}}));
    }
    // The batch is redelivered after the crash: its lines start on a fresh line.
    deliver_ok(*t, {upsert(2, "c", "b", "2")});
    auto lines = lines_of(path);
    ASSERT_EQ(lines.size(), 3u);
    auto st = t->read_state();
    ASSERT_TRUE(st.ok()) << st.get_status().to_string();
    EXPECT_EQ(**st, (state_map{{{"c", "a"}, {"1", 1, false}}, {{"c", "b"}, {"2", 2, false}}}));
}

TEST(jsonl_target, json_line_of_the_wrong_shape_is_corruption) {
    temp_dir dir;
    const std::string path = dir.file("out.jsonl");
    append_raw(path, "{\"offset\":\"one\"}\n");
    auto t = open_jsonl(path);
    ASSERT_TRUE(t);
    auto st = t->read_state();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.get_status().code(), errc::corruption);
    EXPECT_NE(st.get_status().message().find("line 1"), std::string::npos);
}

TEST(jsonl_target, concurrent_processes_never_interleave_lines) {
    temp_dir dir;
    const std::string path = dir.file("out.jsonl");
    constexpr int processes = 4, batches = 100, per_batch = 20;
    // ~2 KiB per line, ~40 KiB per write: far above PIPE_BUF, so only the lock keeps lines whole.
    const std::string payload(2000, 'x');
    std::vector<pid_t> pids;
    for (int p = 0; p < processes; ++p) {
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            auto t = open_target("jsonl:" + path);
            if (!t.ok()) ::_exit(2);
            for (int b = 0; b < batches; ++b) {
                std::vector<record> rs;
                for (int i = 0; i < per_batch; ++i) {
                    auto off = static_cast<std::uint64_t>(1 + (p * batches + b) * per_batch + i);
                    rs.push_back(upsert(off, "c", "k" + std::to_string(off), "{\"p\":\"" + payload + "\"}"));
                }
                auto v = views(rs);
                if (!(*t)->deliver(v).transient.ok()) ::_exit(3);
            }
            ::_exit(0);
        }
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int wstatus = 0;
        ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
        ASSERT_TRUE(WIFEXITED(wstatus));
        EXPECT_EQ(WEXITSTATUS(wstatus), 0);
    }
    auto lines = lines_of(path);
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(processes * batches * per_batch));
    for (const auto& l : lines) ASSERT_TRUE(json::accept(l)) << l.substr(0, 100);
    auto t = open_jsonl(path);
    auto st = t->read_state();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ((*st)->size(), static_cast<std::size_t>(processes * batches * per_batch));
}

}  // namespace
}  // namespace syncline::targets
