// redis:// against a real redis-server started here (tests/support/redis_server.h): fencing,
// tombstones, the key layout and read_state, per-record refusals, a restart of the server
// (transient failure, then reconnect and a lost script), AUTH and SELECT, and URI checks.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstdlib>

#include "tests/support/redis_server.h"
#include "targets/target.h"
#include "targets/redis_target.h"
#include "targets/tests/target_checks.h"

namespace syncline::targets {
namespace {

using testing::del;
using testing::deliver;
using testing::deliver_ok;
using testing::live;
using testing::read_state_of;
using testing::tombstone;
using testing::upsert;

// A plain connection for looking at and tampering with what the target wrote.
class raw_redis {
public:
    explicit raw_redis(int port) : _c(redisConnect("127.0.0.1", port)) {
        if (_c == nullptr || _c->err != 0) ADD_FAILURE() << "cannot connect to redis on " << port;
    }
    ~raw_redis() {
        if (_c) redisFree(_c);
    }
    // The reply as text: strings and errors as they are, integers in decimal, nil as "<nil>".
    std::string run(std::initializer_list<std::string> args) {
        std::vector<const char*> a;
        std::vector<std::size_t> l;
        for (const auto& s : args) a.push_back(s.data()), l.push_back(s.size());
        auto* r = static_cast<redisReply*>(redisCommandArgv(_c, static_cast<int>(a.size()), a.data(), l.data()));
        if (r == nullptr) return "<io error>";
        std::string out = r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer)
                          : r->type == REDIS_REPLY_NIL   ? "<nil>"
                          : r->str != nullptr           ? std::string(r->str, r->len)
                                                        : "<array>";
        freeReplyObject(r);
        return out;
    }

private:
    redisContext* _c;
};

class redis_target_test : public ::testing::Test {
protected:
    std::unique_ptr<target> open(const std::string& uri) {
        auto t = open_target(uri);
        if (!t.ok()) {
            ADD_FAILURE() << t.get_status().to_string();
            return nullptr;
        }
        return std::move(t).value();
    }

    ::syncline::testing::redis_server server;
};

TEST_F(redis_target_test, fences_upserts_and_deletes_by_offset_and_keeps_tombstones) {
    auto t = open(server.uri());
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(5, "accounts", "a", "v5"), upsert(6, "accounts", "b", "b6"), del(7, "orders", "o")});
    deliver_ok(*t, {upsert(3, "accounts", "a", "v3"), upsert(5, "accounts", "a", "v5-again"),
                    upsert(4, "orders", "o", "resurrected?")});
    deliver_ok(*t, {upsert(9, "accounts", "b", "b9"), del(10, "accounts", "a")});
    deliver_ok(*t, {upsert(8, "accounts", "a", "late")});
    // Within one batch, in any order.
    deliver_ok(*t, {upsert(20, "c", "k", "twenty"), upsert(11, "c", "k", "eleven"), del(12, "c", "k")});
    const state_map expected = {
        {{"accounts", "a"}, tombstone(10)},
        {{"accounts", "b"}, live("b9", 9)},
        {{"c", "k"}, live("twenty", 20)},
        {{"orders", "o"}, tombstone(7)},
    };
    EXPECT_EQ(read_state_of(*t), expected);

    raw_redis raw(server.port());
    EXPECT_EQ(raw.run({"HGET", "accounts:b", "v"}), "b9");
    EXPECT_EQ(raw.run({"HGET", "accounts:b", "o"}), "9");
    EXPECT_EQ(raw.run({"HGET", "accounts:a", "d"}), "1");
}

TEST_F(redis_target_test, offsets_beyond_two_to_the_53_compare_exactly) {
    auto t = open(server.uri());
    ASSERT_TRUE(t);
    const std::uint64_t big = (std::uint64_t{1} << 53) + 1;
    deliver_ok(*t, {upsert(big + 1, "c", "k", "newer")});
    deliver_ok(*t, {upsert(big, "c", "k", "older by one")});  // Equal as doubles, not as integers.
    deliver_ok(*t, {upsert(999, "c", "k", "shorter")});
    EXPECT_EQ(read_state_of(*t).at({"c", "k"}), live("newer", big + 1));
}

// Redis keys are bytes: collections that differ only in case never share a hash.
TEST_F(redis_target_test, collections_differing_only_in_case_stay_apart) {
    auto t = open(server.uri());
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(1, "users", "k", "a"), upsert(2, "USERS", "k", "b")});
    const state_map expected = {{{"USERS", "k"}, live("b", 2)}, {{"users", "k"}, live("a", 1)}};
    EXPECT_EQ(read_state_of(*t), expected);
}

TEST_F(redis_target_test, odd_collections_and_binary_keys_round_trip_through_the_key_layout) {
    auto t = open(server.uri(0, "prefix=sl:"));
    ASSERT_TRUE(t);
    const std::string binary_key("a:b\0%3A\xff", 8);
    deliver_ok(*t, {upsert(1, "a:b", "c", "1"), upsert(2, "a", "b:c", "2"), upsert(3, "100%", binary_key, "3"),
                    upsert(4, "accounts", "k", "")});
    raw_redis raw(server.port());
    // Collections are escaped, keys are not: "a:b" + "c" and "a" + "b:c" stay two keys.
    EXPECT_EQ(raw.run({"HGET", "sl:a%3Ab:c", "v"}), "1");
    EXPECT_EQ(raw.run({"HGET", "sl:a:b:c", "v"}), "2");
    EXPECT_EQ(redis_target::redis_key("sl:", "100%", binary_key), "sl:100%25:" + binary_key);
    // Keys of others in the same database are not part of the state.
    raw.run({"SET", "sl:plain-string", "x"});
    raw.run({"HSET", "sl:users-hash", "name", "x"});
    raw.run({"HSET", "other:k", "v", "x", "o", "1", "d", "0"});
    const state_map expected = {
        {{"a", "b:c"}, live("2", 2)},
        {{"a:b", "c"}, live("1", 1)},
        {{"100%", binary_key}, live("3", 3)},
        {{"accounts", "k"}, live("", 4)},
    };
    EXPECT_EQ(read_state_of(*t), expected);
}

TEST_F(redis_target_test, a_key_of_another_type_fails_that_record_alone_in_any_chunk) {
    raw_redis raw(server.port());
    raw.run({"SET", "c:k1203", "a string someone else wrote"});
    auto t = open(server.uri(0, "chunk_records=500"));
    ASSERT_TRUE(t);
    std::vector<record> batch;
    for (std::uint64_t i = 1; i <= 1500; ++i) batch.push_back(upsert(i, "c", "k" + std::to_string(i), "v"));
    auto out = deliver(*t, batch);
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].offset, 1203u);
    EXPECT_NE(out.failures[0].reason.find("WRONGTYPE"), std::string::npos) << out.failures[0].reason;
    EXPECT_EQ(read_state_of(*t).size(), 1499u);
}

TEST_F(redis_target_test, a_server_restart_is_transient_then_the_target_reconnects) {
    auto t = open(server.uri(0, "connect_timeout_ms=500&timeout_ms=2000"));
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(1, "c", "k", "one")});
    server.stop();
    auto down = deliver(*t, {upsert(2, "c", "k", "two")});
    EXPECT_EQ(down.transient.code(), errc::unavailable) << down.transient.to_string();
    EXPECT_TRUE(down.failures.empty());
    auto again = deliver(*t, {upsert(2, "c", "k", "two")});  // Still down: refused at connect.
    EXPECT_EQ(again.transient.code(), errc::unavailable);
    server.start();
    // The AOF kept offset 1; the new server has no scripts: the reconnect loads it again.
    deliver_ok(*t, {upsert(2, "c", "k", "two"), upsert(3, "c", "j", "three")});
    const state_map expected = {{{"c", "j"}, live("three", 3)}, {{"c", "k"}, live("two", 2)}};
    EXPECT_EQ(read_state_of(*t), expected);
}

TEST_F(redis_target_test, a_flushed_script_cache_is_reloaded_and_the_batch_sent_again) {
    auto t = open(server.uri());
    ASSERT_TRUE(t);
    deliver_ok(*t, {upsert(1, "c", "k", "one")});
    raw_redis raw(server.port());
    EXPECT_EQ(raw.run({"SCRIPT", "FLUSH"}), "OK");
    deliver_ok(*t, {upsert(2, "c", "k", "two")});
    EXPECT_EQ(read_state_of(*t).at({"c", "k"}), live("two", 2));
}

TEST_F(redis_target_test, selects_the_database_and_authenticates_from_an_environment_variable) {
    auto in_db3 = open(server.uri(3));
    ASSERT_TRUE(in_db3);
    deliver_ok(*in_db3, {upsert(1, "c", "k", "three")});
    auto in_db0 = open(server.uri(0));
    ASSERT_TRUE(in_db0);
    EXPECT_TRUE(read_state_of(*in_db0).empty());
    EXPECT_EQ(read_state_of(*in_db3).size(), 1u);

    auto no_such_db = open_target(server.uri(99));
    ASSERT_FALSE(no_such_db.ok());
    EXPECT_EQ(no_such_db.get_status().code(), errc::invalid_argument) << no_such_db.get_status().to_string();

    raw_redis raw(server.port());
    const std::string secret = "s3cret-Pa55";
    EXPECT_EQ(raw.run({"CONFIG", "SET", "requirepass", secret}), "OK");
    ::setenv("SYNCLINE_TEST_REDIS_PASSWORD", secret.c_str(), 1);
    ::setenv("SYNCLINE_TEST_REDIS_WRONG", "not-it", 1);
    auto authed = open(server.uri(3, "password_env=SYNCLINE_TEST_REDIS_PASSWORD"));
    ASSERT_TRUE(authed);
    deliver_ok(*authed, {upsert(2, "c", "k", "two")});
    EXPECT_EQ(read_state_of(*authed).at({"c", "k"}), live("two", 2));

    auto wrong = open_target(server.uri(0, "password_env=SYNCLINE_TEST_REDIS_WRONG"));
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.get_status().code(), errc::invalid_argument) << wrong.get_status().to_string();
    EXPECT_EQ(wrong.get_status().message().find("not-it"), std::string::npos);
    auto none = open_target(server.uri(0));
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.get_status().code(), errc::invalid_argument) << none.get_status().to_string();
}

TEST(redis_open, an_unreachable_server_is_unavailable) {
    const int port = ::syncline::testing::free_tcp_port();
    auto t = open_target("redis://127.0.0.1:" + std::to_string(port) + "?connect_timeout_ms=300");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.get_status().code(), errc::unavailable) << t.get_status().to_string();
}

}  // namespace
}  // namespace syncline::targets
