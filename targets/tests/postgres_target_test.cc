// The postgresql:// target against a real PostgreSQL started by the test (tests/support/
// postgres_server.h): upserts, fencing, tombstones, dead-lettering rows the server refuses,
// a connection killed mid-batch, reconnecting after a server restart, read_state, and URIs.
#include <libpq-fe.h>
#include <stdlib.h>

#include <thread>

#include <gtest/gtest.h>

#include "common/cli_options.h"
#include "tests/support/harness.h"
#include "tests/support/postgres_server.h"
#include "targets/target.h"
#include "targets/tests/target_checks.h"
#include "targets/tests/test_util.h"

namespace syncline::testing {
namespace {

using std::chrono::seconds;
using targets::testing::del;
using targets::testing::deliver;
using targets::testing::read_state_of;
using targets::testing::upsert;
using targets::testing::views;

class postgres_target_test : public targets::testing::database_per_test<postgres_server> {
protected:
    void create_database(const std::string& name) override { sql("CREATE DATABASE " + name, "postgres"); }

    // Runs `command` on `database` (default: the test's); the first row's first column ("" if none).
    std::string sql(const std::string& command, const std::string& database = "") {
        PGconn* c = PQconnectdb(server->conninfo(database.empty() ? db : database).c_str());
        EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
        PGresult* r = PQexec(c, command.c_str());
        const auto st = PQresultStatus(r);
        EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << command << ": " << PQresultErrorMessage(r);
        std::string out = st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
        PQclear(r);
        PQfinish(c);
        return out;
    }
};

TEST_F(postgres_target_test, upserts_create_one_table_per_collection_and_read_back) {
    auto t = open();
    ASSERT_TRUE(t);
    auto out = deliver(*t, {upsert(1, "accounts", "a1", R"({"n":1})"), upsert(2, "orders", "o1", R"({"n":2})"),
                            upsert(3, "accounts", "a2", R"({"n":3})"),
                            upsert(4, "odd \"name\"; DROP TABLE x", "k", R"([1,2])"), del(5, "orders", "o2")});
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_TRUE(out.failures.empty());

    // The values are jsonb: PostgreSQL's own operators work on them.
    EXPECT_EQ(sql("SELECT value->>'n' FROM accounts WHERE key = 'a2'"), "3");
    EXPECT_EQ(sql("SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 'accounts'::regclass"
                  " AND attname = 'value'"),
              "jsonb");
    EXPECT_EQ(sql("SELECT count(*) FROM \"odd \"\"name\"\"; DROP TABLE x\""), "1");
    EXPECT_EQ(sql("SELECT (extract(epoch FROM updated_at) * 1000)::bigint FROM accounts WHERE key = 'a1'"),
              std::to_string(1'700'000'000'001));
    // A table that is not ours is ignored by read_state.
    sql("CREATE TABLE unrelated (id int)");

    const auto state = read_state_of(*t);
    ASSERT_EQ(state.size(), 5u);
    EXPECT_EQ(state.at({"accounts", "a2"}), (targets::row_state{R"({"n": 3})", 3, false}));
    EXPECT_EQ(state.at({"odd \"name\"; DROP TABLE x", "k"}).value, "[1, 2]");
    EXPECT_EQ(state.at({"orders", "o2"}), (targets::row_state{"", 5, true}));
}

// Quoted identifiers are case-sensitive in PostgreSQL: collections that differ only in case are
// tables of their own (the SQLite merge of issue 13 has no counterpart here).
TEST_F(postgres_target_test, collections_differing_only_in_case_are_separate_tables) {
    auto t = open();
    ASSERT_TRUE(t);
    auto out = deliver(*t, {upsert(1, "users", "k", R"({"n":1})"), upsert(2, "USERS", "k", R"({"n":2})"),
                            upsert(3, "Users", "k", R"({"n":3})")});
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_TRUE(out.failures.empty());
    const auto state = read_state_of(*t);
    EXPECT_EQ(state.at({"users", "k"}).offset, 1u);
    EXPECT_EQ(state.at({"USERS", "k"}).offset, 2u);
    EXPECT_EQ(state.at({"Users", "k"}).offset, 3u);
}

TEST_F(postgres_target_test, fencing_keeps_the_newest_offset_and_tombstones_fence_older_upserts) {
    auto t = open();
    ASSERT_TRUE(t);
    ASSERT_TRUE(deliver(*t, {upsert(10, "c", "k", R"({"v":"new"})")}).transient.ok());
    // An older change arriving late (another worker, a redelivery, a replay) is ignored.
    ASSERT_TRUE(deliver(*t, {upsert(5, "c", "k", R"({"v":"old"})")}).transient.ok());
    EXPECT_EQ(sql("SELECT value->>'v' || ' ' || \"offset\" FROM c WHERE key = 'k'"), "new 10");

    // A delete leaves a tombstone that still fences an older upsert arriving after it.
    ASSERT_TRUE(deliver(*t, {del(20, "c", "k")}).transient.ok());
    ASSERT_TRUE(deliver(*t, {upsert(15, "c", "k", R"({"v":"late"})")}).transient.ok());
    EXPECT_EQ(read_state_of(*t).at({"c", "k"}), (targets::row_state{"", 20, true}));

    // A newer upsert revives the key. Several changes of one key in a batch: the last one wins.
    ASSERT_TRUE(deliver(*t, {upsert(21, "c", "k", R"({"v":"a"})"), del(22, "c", "k2"), upsert(23, "c", "k", R"({"v":"b"})"),
                             upsert(24, "c", "k2", R"({"v":"c"})")})
                    .transient.ok());
    // Redelivering the same batch changes nothing.
    ASSERT_TRUE(deliver(*t, {upsert(21, "c", "k", R"({"v":"a"})"), del(22, "c", "k2"), upsert(23, "c", "k", R"({"v":"b"})"),
                             upsert(24, "c", "k2", R"({"v":"c"})")})
                    .transient.ok());
    const auto state = read_state_of(*t);
    EXPECT_EQ(state.at({"c", "k"}), (targets::row_state{R"({"v": "b"})", 23, false}));
    EXPECT_EQ(state.at({"c", "k2"}), (targets::row_state{R"({"v": "c"})", 24, false}));
}

TEST_F(postgres_target_test, rows_the_server_refuses_are_dead_lettered_with_its_message_and_the_rest_delivered) {
    auto t = open();
    ASSERT_TRUE(t);
    std::vector<record> batch;
    for (std::uint64_t i = 1; i <= 50; ++i) batch.push_back(upsert(i, "c", "k" + std::to_string(i), R"({"n":1})"));
    batch[9].value = "not json";                // offset 10
    batch[29].value = R"({"s":"nul\u0000"})";   // offset 30: JSON, but jsonb cannot hold \u0000
    batch[39] = upsert(40, std::string(64, 'x'), "k", "{}");  // offset 40: too long for a table name
    auto out = deliver(*t, batch);
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    ASSERT_EQ(out.failures.size(), 3u);
    std::sort(out.failures.begin(), out.failures.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
    EXPECT_EQ(out.failures[0].offset, 10u);
    EXPECT_NE(out.failures[0].reason.find("invalid input syntax for type json"), std::string::npos) << out.failures[0].reason;
    EXPECT_NE(out.failures[0].reason.find("key 'k10'"), std::string::npos) << out.failures[0].reason;
    EXPECT_EQ(out.failures[1].offset, 30u);
    EXPECT_NE(out.failures[1].reason.find("unsupported Unicode escape sequence"), std::string::npos) << out.failures[1].reason;
    EXPECT_EQ(out.failures[2].offset, 40u);
    EXPECT_NE(out.failures[2].reason.find("longer than 63 bytes"), std::string::npos) << out.failures[2].reason;
    EXPECT_EQ(sql("SELECT count(*) FROM c"), "47");  // 50 less offsets 10, 30 and 40

    // A user's constraint refusing a row: the same, and the batch after it takes the fast path again.
    sql("ALTER TABLE c ADD CONSTRAINT small CHECK ((value->>'n')::int < 100)");
    out = deliver(*t, {upsert(60, "c", "k1", R"({"n":2})"), upsert(61, "c", "k2", R"({"n":500})")});
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].offset, 61u);
    EXPECT_NE(out.failures[0].reason.find("violates check constraint \"small\""), std::string::npos) << out.failures[0].reason;
    EXPECT_EQ(sql("SELECT value->>'n' FROM c WHERE key = 'k1'"), "2");
    out = deliver(*t, {upsert(62, "c", "k3", R"({"n":3})")});
    EXPECT_TRUE(out.failures.empty());
    EXPECT_EQ(sql("SELECT \"offset\" FROM c WHERE key = 'k3'"), "62");
}

TEST_F(postgres_target_test, a_role_without_create_privilege_writes_into_existing_tables) {
    sql("CREATE TABLE c (\"key\" text PRIMARY KEY, \"value\" jsonb, \"offset\" bigint NOT NULL,"
        " \"deleted\" boolean NOT NULL DEFAULT false, \"updated_at\" timestamptz NOT NULL)");
    sql("DROP ROLE IF EXISTS writer; CREATE ROLE writer LOGIN PASSWORD 'w'");
    sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT SELECT, INSERT, UPDATE ON c TO writer");
    ::setenv("SYNCLINE_PG_TEST_WRITER", "w-pass", 1);
    sql("ALTER ROLE writer PASSWORD 'w-pass'");
    auto t = targets::open_target("postgresql://writer@127.0.0.1:" + std::to_string(server->port()) + "/" + db +
                                      "?password_env=SYNCLINE_PG_TEST_WRITER",
                                  {"p1"});
    ASSERT_TRUE(t.ok()) << t.get_status().message();
    auto out = (*t)->deliver(views({upsert(1, "c", "k", "{}"), del(2, "c", "k2")}));
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_EQ(sql("SELECT count(*) FROM c"), "2");
    // A new collection needs CREATE: transient (the pipeline waits for the grant), nothing lost.
    out = (*t)->deliver(views({upsert(3, "new_one", "k", "{}")}));
    EXPECT_FALSE(out.transient.ok());
    EXPECT_NE(out.transient.message().find("permission denied"), std::string::npos) << out.transient.message();
}

TEST_F(postgres_target_test, text_and_bytea_values_keep_their_bytes) {
    auto text = open("value=text&schema=plain");
    ASSERT_TRUE(text);
    auto out = deliver(*text, {upsert(1, "c", "k1", "not json at all"), upsert(2, "c", "k2", "bad \xff utf8")});
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_NE(out.failures[0].reason.find("invalid byte sequence for encoding \"UTF8\""), std::string::npos)
        << out.failures[0].reason;
    EXPECT_EQ(read_state_of(*text).at({"c", "k1"}).value, "not json at all");

    auto bytes = open("value=bytea&schema=raw");
    ASSERT_TRUE(bytes);
    const std::string binary("\x00\xff\x01 {", 5);
    ASSERT_TRUE(deliver(*bytes, {upsert(3, "c", "k", binary)}).transient.ok());
    EXPECT_EQ(read_state_of(*bytes).at({"c", "k"}).value, binary);
    // Each schema holds its own tables.
    EXPECT_EQ(read_state_of(*text).size(), 1u);
}

TEST_F(postgres_target_test, a_connection_killed_mid_batch_rolls_back_the_batch_and_the_next_deliver_reconnects) {
    auto t = open();
    ASSERT_TRUE(t);
    ASSERT_TRUE(deliver(*t, {upsert(1, "c", "k5", R"({"n":1})")}).transient.ok());

    // Another session holds the row of k5, so the batch blocks after writing k0..k4.
    PGconn* locker = PQconnectdb(server->conninfo(db).c_str());
    ASSERT_EQ(PQstatus(locker), CONNECTION_OK);
    PQclear(PQexec(locker, "BEGIN"));
    PQclear(PQexec(locker, "SELECT * FROM c WHERE key = 'k5' FOR UPDATE"));

    std::vector<record> batch;
    for (int i = 0; i < 10; ++i) batch.push_back(upsert(10 + i, "c", "k" + std::to_string(i), R"({"n":2})"));
    targets::delivery_outcome out;
    std::thread delivering([&] { out = deliver(*t, batch); });
    const std::string waiting =
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'syncline-p1' AND wait_event_type = 'Lock'";
    const bool blocked = eventually([&] { return !sql(waiting).empty(); }, seconds(30));
    if (blocked) sql("SELECT pg_terminate_backend(pid) FROM (" + waiting + ") w");
    delivering.join();
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    ASSERT_TRUE(blocked);

    EXPECT_FALSE(out.transient.ok());
    EXPECT_TRUE(out.failures.empty());
    // Nothing of the batch was applied (k0..k4 were written before the kill, and rolled back).
    EXPECT_EQ(sql("SELECT count(*) FROM c"), "1");
    EXPECT_EQ(sql("SELECT \"offset\" FROM c WHERE key = 'k5'"), "1");

    // The retry reconnects and applies the whole batch.
    out = deliver(*t, batch);
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_EQ(sql("SELECT count(*) FROM c WHERE value->>'n' = '2'"), "10");
}

TEST_F(postgres_target_test, a_server_restart_is_transient_and_the_target_reconnects) {
    auto t = open();
    ASSERT_TRUE(t);
    ASSERT_TRUE(deliver(*t, {upsert(1, "c", "k1", "{}")}).transient.ok());
    server->stop();
    auto out = deliver(*t, {upsert(2, "c", "k2", "{}")});
    EXPECT_FALSE(out.transient.ok());
    EXPECT_EQ(out.transient.code(), errc::busy);  // The server's state, never a record's.
    EXPECT_FALSE(t->read_state().ok());
    server->start();
    out = deliver(*t, {upsert(2, "c", "k2", "{}")});
    ASSERT_TRUE(out.transient.ok()) << out.transient.message();
    EXPECT_EQ(read_state_of(*t).size(), 2u);
}

TEST_F(postgres_target_test, passwords_come_from_a_file_the_environment_or_libpq_and_never_appear_in_messages) {
    const std::string base = "postgresql://syncline@127.0.0.1:" + std::to_string(server->port()) + "/" + db;
    // A password in the URI is refused at config time, like every target's (the URI travels on
    // the workers' command lines, which `ps` shows to every local user), without showing it.
    for (const auto& inline_pw : {"postgresql://syncline:Secr3tInline@127.0.0.1:" + std::to_string(server->port()) + "/" + db,
                                  std::string("postgres://u:Secr3tInline@h/db?schema=s")}) {
        status s = targets::check_target_uri(inline_pw);
        EXPECT_EQ(s.code(), errc::invalid_argument) << inline_pw;
        EXPECT_NE(s.message().find("password_env=VAR or password_file=PATH"), std::string::npos) << s.message();
        EXPECT_EQ(s.message().find("Secr3tInline"), std::string::npos) << s.message();
    }
    // A wrong password (from the environment): unavailable (the worker waits), and the message does not show it.
    ::setenv("SYNCLINE_PG_TEST_WRONG", "Secr3tWrong", 1);
    auto bad = targets::open_target(base + "?password_env=SYNCLINE_PG_TEST_WRONG", {"p1"});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.get_status().code(), errc::unavailable);
    EXPECT_EQ(bad.get_status().message().find("Secr3tWrong"), std::string::npos) << bad.get_status().message();
    EXPECT_NE(bad.get_status().message().find("password authentication failed"), std::string::npos)
        << bad.get_status().message();
    // A missing password file is a config error naming the option.
    status missing = targets::check_target_uri(base + "?password_file=/nonexistent/pw");
    EXPECT_EQ(missing.code(), errc::invalid_argument);
    EXPECT_NE(missing.message().find("password_file"), std::string::npos) << missing.message();

    // From a file (the test server's uri()).
    auto from_file = targets::open_target(server->uri(db), {"p1"});
    ASSERT_TRUE(from_file.ok()) << from_file.get_status().message();
    // No password option: libpq takes PGPASSWORD (and ~/.pgpass, PGPASSFILE).
    ::setenv("PGPASSWORD", postgres_server::password, 1);
    auto from_env = targets::open_target(server->uri_without_password(db), {"p1"});
    ::unsetenv("PGPASSWORD");
    ASSERT_TRUE(from_env.ok()) << from_env.get_status().message();
    EXPECT_TRUE((*from_env)->deliver(views({upsert(1, "c", "k", "{}")})).transient.ok());
}

TEST(postgres_uri, is_shown_without_its_password) {
    EXPECT_EQ(cli::redact_secrets("target", "postgresql://u:p%40ss/w@h:5432/db?schema=s"), "postgresql://u:***@h:5432/db?schema=s");
    EXPECT_EQ(cli::redact_secrets("target", "postgres://u@h/db"), "postgres://u@h/db");
    EXPECT_EQ(cli::redact_secrets("target", "sqlite:/tmp/a:b@c.db"), "sqlite:/tmp/a:b@c.db");
}

TEST(postgres_uri, is_checked_without_connecting) {
    // Port 1 has no server: checking does not connect.
    ::setenv("SYNCLINE_PG_TEST_ANY", "any-password", 1);
    EXPECT_TRUE(targets::check_target_uri(
                    "postgresql://u@127.0.0.1:1/db?schema=s&value=text&sslmode=disable&password_env=SYNCLINE_PG_TEST_ANY")
                    .ok());
    EXPECT_TRUE(targets::check_target_uri("postgres://u@localhost/db").ok());
    EXPECT_TRUE(targets::check_target_uri("postgresql://u@[::1]:5432/db?connect_timeout=3").ok());
    for (const char* bad : {"postgresql:db", "postgresql://u@h:99999/db", "postgresql://u@h:x/db",
                            "postgresql://u@h/db?schema=", "postgresql://u@h/db?value=xml", "postgresql://u@h/db?sslmode=on",
                            "postgresql://u@h/db?connect_timeout=0", "postgresql://u@h/db?bogus=1", "postgresql://u@[::1/db"}) {
        status s = targets::check_target_uri(bad);
        EXPECT_EQ(s.code(), errc::invalid_argument) << bad;
        EXPECT_NE(s.message().find("postgresql://USER"), std::string::npos) << s.message();
    }
}

}  // namespace
}  // namespace syncline::testing
