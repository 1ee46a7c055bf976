// rocksdb:PATH on real RocksDB directories: fencing of upserts and deletes (tombstones) across
// and within batches, one column family per collection, persistence, the one-writer lock, URIs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "targets/target.h"
#include "targets/tests/target_checks.h"

namespace syncline::targets {
namespace {

using testing::del;
using testing::deliver;
using testing::deliver_ok;
using testing::live;
using testing::read_state_of;
using testing::temp_dir;
using testing::tombstone;
using testing::upsert;

class rocksdb_target_test : public ::testing::Test {
protected:
    std::unique_ptr<target> open(const std::string& query = "") {
        auto t = open_target("rocksdb:" + path + query);
        if (!t.ok()) {
            ADD_FAILURE() << t.get_status().to_string();
            return nullptr;
        }
        return std::move(t).value();
    }

    temp_dir dir;
    std::string path = dir.file("mirror");
};

TEST_F(rocksdb_target_test, applies_only_newer_offsets_for_upserts_and_deletes) {
    auto t = open();
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(5, "accounts", "a", "v5"), upsert(6, "accounts", "b", "b6"), del(7, "orders", "o")});
    // Redelivered and older changes: nothing moves backwards, the delete's tombstone holds.
    deliver_ok(*t, {upsert(3, "accounts", "a", "v3"), upsert(5, "accounts", "a", "v5-again"),
                    upsert(4, "orders", "o", "resurrected?")});
    deliver_ok(*t, {upsert(9, "accounts", "b", "b9"), del(10, "accounts", "a")});
    deliver_ok(*t, {upsert(8, "accounts", "a", "late")});
    const state_map expected = {
        {{"accounts", "a"}, tombstone(10)},
        {{"accounts", "b"}, live("b9", 9)},
        {{"orders", "o"}, tombstone(7)},
    };
    EXPECT_EQ(read_state_of(*t), expected);
}

TEST_F(rocksdb_target_test, repeats_of_a_key_within_one_batch_are_fenced_in_any_order) {
    auto t = open();
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(20, "c", "k", "twenty"), upsert(11, "c", "k", "eleven"), del(12, "c", "k"),
                    upsert(21, "c", "j", "j21"), upsert(22, "c", "j", "j22")});
    const state_map expected = {{{"c", "k"}, live("twenty", 20)}, {{"c", "j"}, live("j22", 22)}};
    EXPECT_EQ(read_state_of(*t), expected);
}

// Column family names are bytes: collections that differ only in case never share a family.
TEST_F(rocksdb_target_test, collections_differing_only_in_case_stay_apart) {
    auto t = open();
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(1, "users", "k", "a"), upsert(2, "USERS", "k", "b")});
    const state_map expected = {{{"USERS", "k"}, live("b", 2)}, {{"users", "k"}, live("a", 1)}};
    EXPECT_EQ(read_state_of(*t), expected);
}

TEST_F(rocksdb_target_test, keeps_collections_in_their_own_column_families_across_reopen) {
    {
        auto t = open();
        ASSERT_TRUE(t);
        // "default" maps to RocksDB's default family; odd names are fine as family names.
        deliver_ok(*t, {upsert(1, "default", "k", "d"), upsert(2, "with space/and:colon", std::string("k\0x", 3), "s"),
                        upsert(3, "accounts", "k", "a"), del(4, "gone", "k")});
    }
    auto t = open();
    ASSERT_TRUE(t);
    const state_map expected = {
        {{"accounts", "k"}, live("a", 3)},
        {{"default", "k"}, live("d", 1)},
        {{"gone", "k"}, tombstone(4)},
        {{"with space/and:colon", std::string("k\0x", 3)}, live("s", 2)},
    };
    EXPECT_EQ(read_state_of(*t), expected);
    // Fencing survives the reopen.
    deliver_ok(*t, {upsert(2, "accounts", "k", "older")});
    EXPECT_EQ(read_state_of(*t).at({"accounts", "k"}), live("a", 3));
    EXPECT_TRUE(std::filesystem::exists(path + "/CURRENT"));
}

TEST_F(rocksdb_target_test, a_second_writer_waits_as_unavailable_until_the_first_closes) {
    auto first = open("?sync=false");
    ASSERT_TRUE(first);
    deliver_ok(*first, {upsert(1, "c", "k", "v")});
    auto second = open_target("rocksdb:" + path);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.get_status().code(), errc::unavailable) << second.get_status().to_string();
    EXPECT_NE(second.get_status().message().find("one worker at a time"), std::string::npos)
        << second.get_status().message();
    first.reset();
    auto third = open();
    ASSERT_TRUE(third);
    EXPECT_EQ(read_state_of(*third).size(), 1u);
}

TEST_F(rocksdb_target_test, an_empty_batch_writes_nothing_and_large_batches_apply_whole) {
    auto t = open();
    ASSERT_TRUE(t);
    auto out = deliver(*t, {});
    EXPECT_TRUE(out.transient.ok());
    std::vector<record> batch;
    for (std::uint64_t i = 1; i <= 5000; ++i) batch.push_back(upsert(i, "c" + std::to_string(i % 3), "k" + std::to_string(i % 1000), "v" + std::to_string(i)));
    deliver_ok(*t, batch);
    const auto state = read_state_of(*t);
    EXPECT_EQ(state.size(), 3000u);  // (i % 3, i % 1000) repeats every 3000.
    EXPECT_EQ(state.at({"c2", "k999"}), live("v2999", 2999));
}

TEST(rocksdb_uri, validates_without_creating_anything) {
    temp_dir dir;
    EXPECT_TRUE(check_target_uri("rocksdb:" + dir.file("m") + "?sync=false").ok());
    EXPECT_FALSE(std::filesystem::exists(dir.file("m")));
    auto bad = check_target_uri("rocksdb:" + dir.file("m") + "?sync=maybe");
    EXPECT_EQ(bad.code(), errc::invalid_argument);
    EXPECT_NE(bad.message().find("sync must be true or false"), std::string::npos) << bad.message();
    EXPECT_EQ(check_target_uri("rocksdb:").code(), errc::invalid_argument);
    EXPECT_EQ(check_target_uri("rocksdb:" + dir.file("m") + "?colour=red").code(), errc::invalid_argument);
    auto missing = open_target("rocksdb:" + dir.file("no/such/dir"));
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.get_status().code(), errc::invalid_argument);
    { std::ofstream(dir.file("a-file")) << "x"; }
    auto file = open_target("rocksdb:" + dir.file("a-file"));
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.get_status().code(), errc::invalid_argument) << file.get_status().to_string();
}

}  // namespace
}  // namespace syncline::targets
