// Multi-process tests: a writer killed mid-append, and a reader tailing a writer in another
// process. The child is store_test_appender (path from CMake), always killed and reaped.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/codec.h"
#include "store/change_log.h"
#include "store/tests/test_util.h"
#include "store/wal_watch.h"

extern char** environ;

namespace syncline::store {
namespace {

using namespace std::chrono_literals;
using testing::temp_dir;

// Parses the appender's {"b":B,"i":I,...} value.
bool parse_value(std::string_view v, std::uint64_t& b, std::uint64_t& i) {
    std::string s(v);
    return std::sscanf(s.c_str(), "{\"b\":%" SCNu64 ",\"i\":%" SCNu64, &b, &i) == 2;
}

class change_log_process_test : public ::testing::Test {
protected:
    void TearDown() override { kill_child(); }

    void spawn_appender(const std::string& path, std::size_t batch, std::uint64_t batches, int delay_ms) {
        std::vector<std::string> args{SYNCLINE_STORE_TEST_APPENDER, path, std::to_string(batch),
                                      std::to_string(batches), std::to_string(delay_ms)};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        int rc = ::posix_spawn(&_child, argv[0], nullptr, nullptr, argv.data(), environ);
        ASSERT_EQ(rc, 0) << "posix_spawn " << argv[0] << ": " << std::strerror(rc);
    }

    // Waits for the child to exit on its own; returns its wait status, or -1 on timeout.
    int wait_child(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (_child > 0) {
            int st = 0;
            pid_t r = ::waitpid(_child, &st, WNOHANG);
            if (r == _child) {
                _child = -1;
                return st;
            }
            if (std::chrono::steady_clock::now() > deadline) return -1;
            std::this_thread::sleep_for(5ms);
        }
        return -1;
    }

    void kill_child() {
        if (_child <= 0) return;
        ::kill(_child, SIGKILL);
        int st = 0;
        ::waitpid(_child, &st, 0);
        _child = -1;
    }

    static void create_log(const std::string& path) {
        auto w = change_log::open_writer({.path = path});
        ASSERT_RESULT_OK(w);
    }

    temp_dir _dir;
    pid_t _child = -1;
};

TEST_F(change_log_process_test, killed_writer_leaves_whole_batches) {
    constexpr std::size_t batch = 1000;
    std::mt19937 rng(20240611);
    std::uniform_int_distribution<int> delay_ms(400, 900);
    for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const std::string path = _dir.file("log" + std::to_string(round));
        create_log(path);  // So the kill always lands in an append, never in creation.
        spawn_appender(path, batch, 0, 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
        ASSERT_EQ(wait_child(0ms), -1) << "the appender exited early";
        kill_child();

        auto opened = change_log::open_writer({.path = path});
        ASSERT_RESULT_OK(opened);
        auto& log = **opened;
        const std::uint64_t last = log.last_offset();
        ASSERT_GT(last, 0u) << "nothing appended before the kill";
        EXPECT_EQ(last % batch, 0u) << "a partial batch survived: last offset " << last;

        std::uint64_t expected = 1;
        bool failed = false;
        auto visited = log.scan(1, SIZE_MAX, SIZE_MAX, [&](std::uint64_t offset, std::string_view bytes) {
            auto rv = codec::decode_record(bytes);
            std::uint64_t b = 0, i = 0;
            if (offset != expected || !rv.ok() || rv->offset != offset || !parse_value(rv->value, b, i) ||
                b * batch + i + 1 != offset) {
                ADD_FAILURE() << "bad record at offset " << offset << " (expected " << expected << ")";
                failed = true;
                return false;
            }
            ++expected;
            return true;
        });
        ASSERT_RESULT_OK(visited);
        ASSERT_FALSE(failed);
        EXPECT_EQ(*visited, last);  // Dense 1..last.
        auto st = log.stats();
        ASSERT_RESULT_OK(st);
        EXPECT_EQ(st->count, last);

        // The recovered log keeps working where it stopped.
        std::vector<record> more(1);
        more[0].collection = "c";
        more[0].key = "k";
        auto range = log.append(more);
        ASSERT_RESULT_OK(range);
        EXPECT_EQ(range->first, last + 1);
    }
}

TEST_F(change_log_process_test, reader_tails_a_writer_process) {
    constexpr std::size_t batch = 500;
    constexpr std::uint64_t batches = 20;
    const std::string path = _dir.file("log");
    create_log(path);
    auto opened = change_log::open_reader(path);  // Before anything is appended.
    ASSERT_RESULT_OK(opened);
    auto& reader = **opened;
    ASSERT_EQ(reader.last_offset(), 0u);

    spawn_appender(path, batch, batches, 25);
    std::uint64_t next = 1;
    std::size_t catch_ups_with_news = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (next <= batch * batches && std::chrono::steady_clock::now() < deadline) {
        ASSERT_OK(reader.catch_up());
        auto n = reader.scan(next, 300, SIZE_MAX, [&](std::uint64_t offset, std::string_view bytes) {
            EXPECT_EQ(offset, next);
            auto rv = codec::decode_record(bytes);
            EXPECT_TRUE(rv.ok());
            std::uint64_t b = 0, i = 0;
            EXPECT_TRUE(rv.ok() && parse_value(rv->value, b, i) && b * batch + i + 1 == offset) << offset;
            next = offset + 1;
            return true;
        });
        ASSERT_RESULT_OK(n);
        if (*n > 0) {
            ++catch_ups_with_news;
        } else {
            std::this_thread::sleep_for(2ms);
        }
    }
    EXPECT_EQ(next, batch * batches + 1) << "the reader did not see every record in time";
    EXPECT_EQ(reader.last_offset(), batch * batches);
    // Seen over many polls while the writer was running, not in one read at the end.
    EXPECT_GT(catch_ups_with_news, batches / 2);
    int st = wait_child(10s);
    ASSERT_NE(st, -1) << "the appender did not finish";
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

// The ventilator's tailing (store/wal_watch.h): a reader that catches up only when the watch
// reports a WAL write by the writer process still sees every record, in order; writes to other
// files of the directory (RocksDB's info LOG) are not reported.
TEST_F(change_log_process_test, wal_watch_wakes_a_reader_for_every_append_of_a_writer_process) {
    constexpr std::size_t batch = 200;
    constexpr std::uint64_t batches = 10;
    const std::string path = _dir.file("log");
    create_log(path);
    auto watch = wal_watch::open(path);
    ASSERT_RESULT_OK(watch);
    auto opened = change_log::open_reader(path);
    ASSERT_RESULT_OK(opened);
    auto& reader = **opened;
    watch->consume();  // Whatever opening the log wrote.
    {
        std::FILE* info = std::fopen((path + "/LOG").c_str(), "a");
        ASSERT_NE(info, nullptr);
        std::fputs("not a WAL write\n", info);
        std::fclose(info);
    }
    EXPECT_FALSE(watch->consume()) << "a write to LOG (not a WAL file) was reported";

    spawn_appender(path, batch, batches, 20);
    std::uint64_t next = 1;
    while (next <= batch * batches) {
        // No event within 30 s means an append was not notified (the appender needs < 1 s).
        ASSERT_TRUE(watch->wait(30s)) << "no notification while records up to " << next << " were missing";
        ASSERT_OK(reader.catch_up());
        auto n = reader.scan(next, SIZE_MAX, SIZE_MAX, [&](std::uint64_t offset, std::string_view) {
            EXPECT_EQ(offset, next);
            next = offset + 1;
            return true;
        });
        ASSERT_RESULT_OK(n);
    }
    EXPECT_EQ(reader.last_offset(), batch * batches);
    int st = wait_child(10s);
    ASSERT_NE(st, -1) << "the appender did not finish";
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

}  // namespace
}  // namespace syncline::store
