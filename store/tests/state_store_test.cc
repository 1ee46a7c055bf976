#include "store/state_store.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "store/tests/test_util.h"

namespace syncline::store {
namespace {

using testing::temp_dir;

class state_store_test : public ::testing::Test {
protected:
    void SetUp() override { reopen(); }
    void reopen() {
        _store.reset();
        auto opened = state_store::open({.root = root(), .pipeline = "orders-to-pg"});
        ASSERT_RESULT_OK(opened);
        _store = std::move(opened).value();
    }
    std::string root() const { return _dir.file("state"); }
    std::optional<std::uint64_t> committed(const state_store& s) {
        auto c = s.committed();
        EXPECT_TRUE(c.ok()) << c.get_status().to_string();
        return c.ok() ? *c : std::nullopt;
    }

    temp_dir _dir;
    std::unique_ptr<state_store> _store;
};

dead_letter make_dead(std::uint64_t offset, std::string error) {
    return dead_letter{.offset = offset,
                       .record = std::string("\x97\x01rec", 5) + std::to_string(offset),
                       .error = std::move(error),
                       .attempts = static_cast<std::uint32_t>(offset % 7),
                       .ts_ms = 1'700'000'000'000 + static_cast<std::int64_t>(offset)};
}

TEST_F(state_store_test, commit_and_reopen) {
    EXPECT_EQ(committed(*_store), std::nullopt);
    ASSERT_OK(_store->commit(10));
    EXPECT_EQ(committed(*_store), 10u);
    ASSERT_OK(_store->commit(10));  // Same offset again: fine (a commit with only dead letters).
    ASSERT_OK(_store->commit(25));
    reopen();
    EXPECT_EQ(committed(*_store), 25u);
}

TEST_F(state_store_test, backwards_commit_refused_reset_allowed) {
    ASSERT_OK(_store->commit(100));
    status s = _store->commit(99);
    EXPECT_EQ(s.code(), errc::invalid_argument);
    EXPECT_NE(s.message().find("below the committed offset 100"), std::string::npos) << s.message();
    EXPECT_EQ(committed(*_store), 100u);
    ASSERT_OK(_store->reset(3));
    EXPECT_EQ(committed(*_store), 3u);
    ASSERT_OK(_store->reset(5000));
    reopen();
    EXPECT_EQ(committed(*_store), 5000u);
}

TEST_F(state_store_test, dead_letters_round_trip) {
    std::vector<dead_letter> first{make_dead(3, "http 400: bad field"), make_dead(7, std::string("bin\0ary", 7))};
    ASSERT_OK(_store->commit(8, first));
    std::vector<dead_letter> second{make_dead(12, "constraint violation")};
    ASSERT_OK(_store->commit(20, second));
    // A refused commit stores none of its dead letters.
    std::vector<dead_letter> refused{make_dead(4, "never stored")};
    EXPECT_FALSE(_store->commit(1, refused).ok());
    reopen();

    auto all = _store->dead_letters();
    ASSERT_RESULT_OK(all);
    ASSERT_EQ(all->size(), 3u);
    const dead_letter* expected[] = {&first[0], &first[1], &second[0]};
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ((*all)[i].offset, expected[i]->offset);
        EXPECT_EQ((*all)[i].record, expected[i]->record);
        EXPECT_EQ((*all)[i].error, expected[i]->error);
        EXPECT_EQ((*all)[i].attempts, expected[i]->attempts);
        EXPECT_EQ((*all)[i].ts_ms, expected[i]->ts_ms);
    }
    auto some = _store->dead_letters(5, 1);
    ASSERT_RESULT_OK(some);
    ASSERT_EQ(some->size(), 1u);
    EXPECT_EQ((*some)[0].offset, 7u);
    auto count = _store->dead_letter_count();
    ASSERT_RESULT_OK(count);
    EXPECT_EQ(*count, 3u);

    std::vector<std::uint64_t> gone{3, 12, 999};
    ASSERT_OK(_store->remove_dead_letters(gone));
    all = _store->dead_letters();
    ASSERT_RESULT_OK(all);
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ((*all)[0].offset, 7u);
}

TEST_F(state_store_test, list_pipelines) {
    auto other = state_store::open({.root = root(), .pipeline = "a.cache_1"});
    ASSERT_RESULT_OK(other);
    std::filesystem::create_directories(root() + "/not-a-pipeline");  // No database inside.
    std::ofstream(root() + "/stray.txt") << "x";
    // `syncline run` keeps its run directory (logs, PID files, sockets) in the state root.
    std::filesystem::create_directories(root() + "/orders-to-pg.run");
    std::ofstream(root() + "/orders-to-pg.run/sink.log") << "log";
    auto names = state_store::list_pipelines(root());
    ASSERT_RESULT_OK(names);
    EXPECT_EQ(*names, (std::vector<std::string>{"a.cache_1", "orders-to-pg"}));

    auto none = state_store::list_pipelines(_dir.file("missing-root"));
    ASSERT_RESULT_OK(none);
    EXPECT_TRUE(none->empty());
}

TEST_F(state_store_test, remove_pipeline_refused_while_locked) {
    ASSERT_OK(_store->commit(7));
    status busy = state_store::remove_pipeline(root(), "orders-to-pg");
    EXPECT_EQ(busy.code(), errc::busy) << busy.message();
    _store.reset();
    ASSERT_OK(state_store::remove_pipeline(root(), "orders-to-pg"));
    EXPECT_FALSE(std::filesystem::exists(root() + "/orders-to-pg"));
    auto names = state_store::list_pipelines(root());
    ASSERT_RESULT_OK(names);
    EXPECT_TRUE(names->empty());
    ASSERT_OK(state_store::remove_pipeline(root(), "orders-to-pg"));  // Already gone: fine.
    EXPECT_EQ(state_store::remove_pipeline(root(), "..").code(), errc::invalid_argument);
}

TEST_F(state_store_test, reader_sees_commits_after_refresh) {
    ASSERT_OK(_store->commit(5));
    auto opened = state_store::open_reader(root(), "orders-to-pg");  // While the writer holds the lock.
    ASSERT_RESULT_OK(opened);
    auto& reader = **opened;
    EXPECT_EQ(committed(reader), 5u);

    std::vector<dead_letter> dl{make_dead(6, "nope")};
    ASSERT_OK(_store->commit(9, dl));
    ASSERT_OK(reader.catch_up());
    EXPECT_EQ(committed(reader), 9u);
    auto letters = reader.dead_letters();
    ASSERT_RESULT_OK(letters);
    ASSERT_EQ(letters->size(), 1u);
    EXPECT_EQ((*letters)[0].error, "nope");

    ASSERT_OK(_store->reset(2));
    ASSERT_OK(reader.catch_up());
    EXPECT_EQ(committed(reader), 2u);

    EXPECT_EQ(reader.commit(50).code(), errc::invalid_argument);  // Read-only view.
}

TEST_F(state_store_test, second_writer_is_busy) {
    auto second = state_store::open({.root = root(), .pipeline = "orders-to-pg"});
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.get_status().code(), errc::busy);
    EXPECT_EQ(second.get_status().message(),
              "pipeline orders-to-pg state is locked (is its sink or another command running?)");
    // Another pipeline under the same root has its own lock.
    auto other = state_store::open({.root = root(), .pipeline = "other"});
    ASSERT_RESULT_OK(other);
}

TEST_F(state_store_test, pipeline_names_validated) {
    for (std::string bad : std::vector<std::string>{"", "a/b", "..", ".", "with space", std::string(129, 'x'), "caf\xc3\xa9"}) {
        auto s = state_store::open({.root = root(), .pipeline = bad});
        ASSERT_FALSE(s.ok()) << bad;
        EXPECT_EQ(s.get_status().code(), errc::invalid_argument) << bad;
        auto r = state_store::open_reader(root(), bad);
        EXPECT_FALSE(r.ok());
    }
    auto ok = state_store::open({.root = root(), .pipeline = std::string(128, 'x')});
    ASSERT_RESULT_OK(ok);
}

TEST_F(state_store_test, reader_of_missing_pipeline) {
    auto r = state_store::open_reader(root(), "never-ran");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.get_status().code(), errc::not_found);
    EXPECT_NE(r.get_status().message().find("never-ran"), std::string::npos);
}

}  // namespace
}  // namespace syncline::store
