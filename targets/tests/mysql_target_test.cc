// The mysql:// target against a real MariaDB started by the test (tests/support/mysql_server.h):
// upserts, fencing, tombstones, redelivery, dead-lettering rows the server refuses (invalid
// JSON, invalid UTF-8, oversized values and keys), a server killed and restarted, read_state,
// passwords from a file or the environment.
#include <stdlib.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "tests/support/harness.h"
#include "tests/support/mysql_server.h"
#include "targets/target.h"
#include "targets/tests/target_checks.h"
#include "targets/tests/test_util.h"

namespace syncline::testing {
namespace {

using targets::testing::del;
using targets::testing::deliver;
using targets::testing::read_state_of;
using targets::testing::upsert;
using targets::testing::views;

class mysql_target_test : public targets::testing::database_per_test<mysql_server> {
protected:
    void create_database(const std::string& name) override { server->query("CREATE DATABASE " + name); }

    std::string sql(const std::string& command) { return server->query(command, db); }

    static void sort_failures(targets::delivery_outcome& out) {
        std::sort(out.failures.begin(), out.failures.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
    }
};

TEST_F(mysql_target_test, upserts_create_one_table_per_collection_and_read_back) {
    auto t = open();
    ASSERT_TRUE(t);
    const std::string binary_key("k\0\xff`'\\", 6);
    auto out = deliver(*t, {upsert(1, "accounts", "a1", R"({"n":1})"), upsert(2, "orders", "o1", R"({"n":2})"),
                            upsert(3, "accounts", "a2", R"({"n":3})"), upsert(4, "odd `name`'; DROP TABLE x", "k", "[1,2]"),
                            del(5, "orders", "o2"), upsert(6, "Accounts", binary_key, R"("é")")});
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_TRUE(out.failures.empty());

    // The values are JSON: MariaDB's JSON functions work on them.
    EXPECT_EQ(sql("SELECT JSON_VALUE(`value`, '$.n') FROM accounts WHERE `key` = 'a2'"), "3");
    EXPECT_EQ(sql("SELECT COUNT(*) FROM `odd ``name``'; DROP TABLE x`"), "1");
    EXPECT_EQ(sql("SELECT CAST(UNIX_TIMESTAMP(updated_at) * 1000 AS UNSIGNED) FROM accounts WHERE `key` = 'a1'"),
              std::to_string(1'700'000'000'001));
    // Keys are bytes: 'Accounts' is its own table, and 'A1' is not 'a1'.
    EXPECT_EQ(sql("SELECT COUNT(*) FROM accounts WHERE `key` = 'A1'"), "0");
    sql("CREATE TABLE unrelated (id INT)");  // Not ours: ignored by read_state.

    const auto state = read_state_of(*t);
    ASSERT_EQ(state.size(), 6u);
    EXPECT_EQ(state.at({"accounts", "a2"}), (targets::row_state{R"({"n":3})", 3, false}));
    EXPECT_EQ(state.at({"odd `name`'; DROP TABLE x", "k"}).value, "[1,2]");
    EXPECT_EQ(state.at({"orders", "o2"}), (targets::row_state{"", 5, true}));
    EXPECT_EQ(state.at({"Accounts", binary_key}), (targets::row_state{R"("é")", 6, false}));
}

TEST_F(mysql_target_test, fencing_keeps_the_newest_offset_and_tombstones_fence_older_upserts) {
    auto t = open();
    ASSERT_TRUE(t);
    ASSERT_TRUE(deliver(*t, {upsert(10, "c", "k", R"({"v":"new"})")}).transient.ok());
    // An older change arriving late (another worker, a redelivery, a replay) is ignored, every column.
    ASSERT_TRUE(deliver(*t, {upsert(5, "c", "k", R"({"v":"old"})")}).transient.ok());
    EXPECT_EQ(sql("SELECT CONCAT(`value`, ' ', `offset`, ' ', `deleted`, ' ', CAST(UNIX_TIMESTAMP(updated_at) * 1000 AS UNSIGNED)) FROM c"),
              R"({"v":"new"} 10 0 1700000000010)");

    // A delete leaves a tombstone that still fences an older upsert arriving after it.
    ASSERT_TRUE(deliver(*t, {del(20, "c", "k")}).transient.ok());
    ASSERT_TRUE(deliver(*t, {upsert(15, "c", "k", R"({"v":"late"})")}).transient.ok());
    EXPECT_EQ(read_state_of(*t).at({"c", "k"}), (targets::row_state{"", 20, true}));
    EXPECT_EQ(sql("SELECT `value` FROM c"), "NULL");

    // A newer upsert revives the key. Several changes of one key in a batch: the last one wins.
    const std::vector<record> batch = {upsert(21, "c", "k", R"({"v":"a"})"), del(22, "c", "k2"),
                                       upsert(23, "c", "k", R"({"v":"b"})"), upsert(24, "c", "k2", R"({"v":"c"})")};
    ASSERT_TRUE(deliver(*t, batch).transient.ok());
    // Redelivering the same batch, and an equal offset with another value, change nothing.
    ASSERT_TRUE(deliver(*t, batch).transient.ok());
    ASSERT_TRUE(deliver(*t, {upsert(24, "c", "k2", R"({"v":"other"})")}).transient.ok());
    const auto state = read_state_of(*t);
    EXPECT_EQ(state.at({"c", "k"}), (targets::row_state{R"({"v":"b"})", 23, false}));
    EXPECT_EQ(state.at({"c", "k2"}), (targets::row_state{R"({"v":"c"})", 24, false}));
}

TEST_F(mysql_target_test, rows_the_server_refuses_are_dead_lettered_with_its_message_and_the_rest_delivered) {
    auto t = open();
    ASSERT_TRUE(t);
    std::vector<record> batch;
    for (std::uint64_t i = 1; i <= 50; ++i) batch.push_back(upsert(i, "c", "k" + std::to_string(i), R"({"n":1})"));
    batch[9].value = "not json";                                        // offset 10
    batch[19].value = "\"bad \xff utf8\"";                              // offset 20
    batch[29].key = std::string(4000, 'x');                             // offset 30: over VARBINARY(3072)
    batch[39] = upsert(40, std::string(65, 'x'), "k", "{}");            // offset 40: too long for a table name
    batch[44].value = "\"" + std::string(mysql_server::max_packet_bytes, 'v') + "\"";  // offset 45: over max_allowed_packet
    auto out = deliver(*t, batch);
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    sort_failures(out);
    ASSERT_EQ(out.failures.size(), 5u);
    const std::pair<std::uint64_t, const char*> expected[] = {
        {10, "CONSTRAINT `c.value` failed"}, {20, "Incorrect string value"}, {30, "Data too long for column 'key'"},
        {40, "longer than 64 characters"}, {45, "does not fit the server's max_allowed_packet"}};
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(out.failures[i].offset, expected[i].first);
        EXPECT_NE(out.failures[i].reason.find(expected[i].second), std::string::npos) << out.failures[i].reason;
    }
    EXPECT_NE(out.failures[0].reason.find("key 'k10'"), std::string::npos) << out.failures[0].reason;
    EXPECT_EQ(sql("SELECT COUNT(*) FROM c"), "45");  // 50 less offsets 10, 20, 30, 40 and 45

    // The older change of a key whose last change is refused still applies.
    out = deliver(*t, {upsert(60, "c", "k1", R"({"n":2})"), upsert(61, "c", "k1", "{oops")});
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].offset, 61u);
    EXPECT_EQ(sql("SELECT `value` FROM c WHERE `key` = 'k1'"), R"({"n":2})");

    // A user's trigger refusing a row: the same, and the batch after it takes the fast path again.
    sql("CREATE TRIGGER small BEFORE INSERT ON c FOR EACH ROW IF NEW.`key` = 'forbidden' THEN "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'forbidden key'; END IF");
    out = deliver(*t, {upsert(70, "c", "k2", R"({"n":2})"), upsert(71, "c", "forbidden", "{}")});
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].offset, 71u);
    EXPECT_NE(out.failures[0].reason.find("forbidden key"), std::string::npos) << out.failures[0].reason;
    EXPECT_EQ(sql("SELECT `offset` FROM c WHERE `key` = 'k2'"), "70");
    out = deliver(*t, {upsert(72, "c", "k3", "{}")});
    EXPECT_TRUE(out.failures.empty());
    EXPECT_EQ(sql("SELECT `offset` FROM c WHERE `key` = 'k3'"), "72");
}

TEST_F(mysql_target_test, large_batches_are_split_to_fit_max_allowed_packet_in_one_transaction) {
    auto t = open();
    ASSERT_TRUE(t);
    // 12 values of 1 MB: three times the server's max_allowed_packet in total.
    std::vector<record> batch;
    for (std::uint64_t i = 1; i <= 12; ++i)
        batch.push_back(upsert(i, "big", "k" + std::to_string(i), "\"" + std::string(1 << 20, 'a') + "\""));
    auto out = deliver(*t, batch);
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_TRUE(out.failures.empty());
    EXPECT_EQ(sql("SELECT COUNT(*) FROM big"), "12");
}

TEST_F(mysql_target_test, text_and_blob_values_keep_their_bytes) {
    auto text = open("value=text");
    ASSERT_TRUE(text);
    auto out = deliver(*text, {upsert(1, "t", "k1", "not json at all"), upsert(2, "t", "k2", "bad \xff utf8")});
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_NE(out.failures[0].reason.find("Incorrect string value"), std::string::npos) << out.failures[0].reason;
    EXPECT_EQ(read_state_of(*text).at({"t", "k1"}).value, "not json at all");

    auto bytes = open("value=blob");
    ASSERT_TRUE(bytes);
    const std::string binary("\x00\xff\x01 '{\\", 7);
    ASSERT_TRUE(deliver(*bytes, {upsert(3, "b", "k", binary)}).transient.ok());
    EXPECT_EQ(read_state_of(*bytes).at({"b", "k"}).value, binary);
}

TEST_F(mysql_target_test, a_server_killed_mid_run_is_transient_and_the_target_reconnects) {
    auto t = open();
    ASSERT_TRUE(t);
    ASSERT_TRUE(deliver(*t, {upsert(1, "c", "k1", "{}")}).transient.ok());
    server->kill();
    const std::vector<record> batch = {upsert(2, "c", "k2", "{}"), del(3, "c", "k1")};
    auto out = deliver(*t, batch);
    EXPECT_FALSE(out.transient.ok());
    EXPECT_EQ(out.transient.code(), errc::busy);  // The server's state, never a record's.
    EXPECT_TRUE(out.failures.empty());
    out = deliver(*t, batch);  // Still down: cannot connect.
    EXPECT_FALSE(out.transient.ok());
    EXPECT_FALSE(t->read_state().ok());
    server->start();
    out = deliver(*t, batch);
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    const auto state = read_state_of(*t);
    ASSERT_EQ(state.size(), 2u);
    EXPECT_EQ(state.at({"c", "k1"}), (targets::row_state{"", 3, true}));
}

TEST_F(mysql_target_test, a_dropped_table_is_transient_and_created_again) {
    auto t = open();
    ASSERT_TRUE(t);
    ASSERT_TRUE(deliver(*t, {upsert(1, "c", "k1", "{}")}).transient.ok());
    sql("DROP TABLE c");
    auto out = deliver(*t, {upsert(2, "c", "k2", "{}")});
    EXPECT_FALSE(out.transient.ok());
    out = deliver(*t, {upsert(2, "c", "k2", "{}")});
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_EQ(sql("SELECT `offset` FROM c"), "2");
}

TEST_F(mysql_target_test, passwords_come_from_a_file_or_the_environment_and_never_appear_in_messages) {
    const std::string base = "mysql://syncline@127.0.0.1:" + std::to_string(server->port()) + "/" + db;
    ::setenv("SYNCLINE_TEST_MYSQL_PASSWORD", "Secr3tWrong", 1);
    auto bad = targets::open_target(base + "?password_env=SYNCLINE_TEST_MYSQL_PASSWORD", {"p1"});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.get_status().code(), errc::unavailable);
    EXPECT_EQ(bad.get_status().message().find("Secr3tWrong"), std::string::npos) << bad.get_status().message();
    EXPECT_NE(bad.get_status().message().find("Access denied"), std::string::npos) << bad.get_status().message();

    ::setenv("SYNCLINE_TEST_MYSQL_PASSWORD", mysql_server::password, 1);
    auto from_env = targets::open_target("mariadb://syncline@127.0.0.1:" + std::to_string(server->port()) + "/" + db +
                                             "?password_env=SYNCLINE_TEST_MYSQL_PASSWORD",
                                         {"p1"});
    ::unsetenv("SYNCLINE_TEST_MYSQL_PASSWORD");
    ASSERT_TRUE(from_env.ok()) << from_env.get_status().message();
    EXPECT_TRUE((*from_env)->deliver(views({upsert(1, "c", "k", "{}")})).transient.ok());

    // Over the unix socket, the password from a file.
    auto socket = targets::open_target(base + "?password_file=" + server->password_file() + "&socket=" + server->socket(), {"p1"});
    ASSERT_TRUE(socket.ok()) << socket.get_status().message();
    EXPECT_EQ(read_state_of(**socket).size(), 1u);
}

// The class of issue 13's SQLite case merge on MariaDB. By default on Linux
// (lower_case_table_names = 0) users and USERS are two tables.
TEST_F(mysql_target_test, collections_differing_only_in_case_are_two_tables_by_default) {
    auto t = open();
    ASSERT_TRUE(t);
    auto out = deliver(*t, {upsert(1, "users", "k", R"({"v":1})"), upsert(2, "USERS", "k", R"({"v":2})")});
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    EXPECT_TRUE(out.failures.empty());
    auto state = read_state_of(*t);
    EXPECT_EQ(state.at({"users", "k"}).offset, 1u);
    EXPECT_EQ(state.at({"USERS", "k"}).offset, 2u);
}

// On a server that folds table names (lower_case_table_names = 1, the default on Windows and
// macOS) they would be one table: the collection that is not its own lower case is refused, never
// merged. A second server, started with the option.
TEST(mysql_lower_case_table_names, a_collection_that_is_not_its_own_lower_case_is_refused_never_merged) {
    mysql_server own({"--lower-case-table-names=1"});
    own.query("CREATE DATABASE folding");
    auto t = targets::open_target(own.uri("folding"), {"p1"});
    ASSERT_TRUE(t.ok()) << t.get_status().message();
    const std::vector<record> batch{upsert(1, "users", "k", R"({"v":1})"), upsert(2, "USERS", "k", R"({"v":2})"),
                                    upsert(3, "données", "k", R"({"v":3})")};
    auto v = views(batch);
    auto out = (*t)->deliver(v);
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].offset, 2u);
    EXPECT_NE(out.failures[0].reason.find("lower_case_table_names"), std::string::npos) << out.failures[0].reason;
    auto state = (*t)->read_state();
    ASSERT_TRUE(state.ok()) << state.get_status().message();
    ASSERT_TRUE(state->has_value());
    EXPECT_EQ((*state)->at({"users", "k"}).offset, 1u);
    EXPECT_EQ((*state)->at({"données", "k"}).offset, 3u);
    EXPECT_FALSE((*state)->count({"USERS", "k"}));
}

}  // namespace
}  // namespace syncline::testing
