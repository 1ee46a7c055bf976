// verify_target against a real change log and real targets: clean runs, rows past the watermark,
// and every kind of difference after tampering with the SQLite tables directly.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/change_log.h"
#include "targets/target.h"
#include "targets/tests/test_util.h"
#include "targets/verify.h"

namespace syncline::targets {
namespace {

using testing::del;
using testing::temp_dir;
using testing::upsert;
using testing::views;
using kind = difference::kind;

class verify_test : public ::testing::Test {
protected:
    void SetUp() override {
        auto log = store::change_log::open_writer({.path = _dir.file("log")});
        ASSERT_TRUE(log.ok()) << log.get_status().to_string();
        _log = std::move(log).value();
    }

    // Appends to the log (which assigns offsets) and returns the records with their offsets.
    std::vector<record> append(std::vector<record> rs) {
        for (auto& r : rs) r.offset = 0;
        auto range = _log->append(rs);
        EXPECT_TRUE(range.ok()) << range.get_status().to_string();
        return rs;
    }

    std::unique_ptr<target> open(const std::string& uri) {
        auto t = open_target(uri);
        EXPECT_TRUE(t.ok()) << t.get_status().to_string();
        return t.ok() ? std::move(t).value() : nullptr;
    }

    static void deliver_ok(target& t, const std::vector<record>& rs) {
        auto v = views(rs);
        auto out = t.deliver(v);
        ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
        ASSERT_TRUE(out.failures.empty());
    }

    verify_report verify(target& t, std::uint64_t committed) {
        auto r = verify_target(*_log, committed, t, "test-target");
        EXPECT_TRUE(r.ok()) << r.get_status().to_string();
        return r.ok() ? *r : verify_report{};
    }

    void sql(const std::string& path, const std::string& statement) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        EXPECT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        sqlite3_close(db);
    }

    // A small history: updates, a delete, a re-created key, two collections.
    std::vector<record> history() {
        return append({upsert(0, "users", "alice", R"({"v":1})"), upsert(0, "users", "bob", R"({"v":1})"),
                       upsert(0, "users", "carol", R"({"v":1})"), upsert(0, "users", "alice", R"({"v":2})"),
                       del(0, "users", "bob"), upsert(0, "orders", "o1", "plain text"),
                       upsert(0, "users", "dave", R"({"v":1})"), del(0, "users", "dave"),
                       upsert(0, "users", "dave", R"({"v":3})")});
    }

    temp_dir _dir;
    std::unique_ptr<store::change_log> _log;
};

TEST_F(verify_test, clean_target_verifies) {
    auto rs = history();
    ASSERT_EQ(rs.back().offset, 9u);
    auto t = open("sqlite:" + _dir.file("t.db"));
    deliver_ok(*t, rs);
    auto report = verify(*t, 9);
    EXPECT_TRUE(report.clean()) << format_report(report);
    EXPECT_EQ(report.committed, 9u);
    EXPECT_EQ(report.keys_expected, 4u);  // alice, carol, dave, o1 (bob is deleted).
    EXPECT_EQ(report.keys_checked, 5u);
    EXPECT_EQ(format_report(report).rfind("verify: OK", 0), 0u) << format_report(report);
}

// SQLite refuses a collection that differs only in case from one it holds: verify reports the
// refused collection's keys as missing and finds the other one intact (no merged rows).
TEST_F(verify_test, sqlite_collections_differing_only_in_case_are_reported_not_merged) {
    auto rs = append({upsert(0, "users", "k", R"({"v":1})"), upsert(0, "USERS", "k", R"({"v":2})")});
    auto t = open("sqlite:" + _dir.file("t.db"));
    auto v = views(rs);
    auto out = t->deliver(v);
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    auto report = verify(*t, 2);
    ASSERT_EQ(report.differences.size(), 1u) << format_report(report);
    EXPECT_EQ(report.differences[0].collection, "USERS");
    EXPECT_EQ(report.differences[0].what, difference::kind::missing) << format_report(report);
}

TEST_F(verify_test, rows_past_the_watermark_must_match_the_log) {
    auto rs = history();
    auto t = open("sqlite:" + _dir.file("t.db"));
    deliver_ok(*t, rs);
    // Committed is 5, but everything up to 9 was applied already: that is fine.
    auto report = verify(*t, 5);
    EXPECT_TRUE(report.clean()) << format_report(report);
    // At 5 the log says dave does not exist yet and o1 neither: they are not expected.
    EXPECT_EQ(report.keys_expected, 2u);

    // A row past the watermark that the log does not hold at its offset is reported.
    sql(_dir.file("t.db"), R"(UPDATE orders SET value = 'forged' WHERE key = 'o1')");
    report = verify(*t, 5);
    ASSERT_EQ(report.differences.size(), 1u) << format_report(report);
    EXPECT_EQ(report.differences[0].what, kind::unexpected);
    EXPECT_EQ(report.differences[0].key, "o1");
    EXPECT_NE(report.differences[0].detail.find("forged"), std::string::npos);

    report = verify(*t, 9);
    ASSERT_EQ(report.differences.size(), 1u) << format_report(report);
    EXPECT_EQ(report.differences[0].what, kind::stale);
}

TEST_F(verify_test, each_kind_of_difference_is_reported) {
    auto rs = history();
    const std::string db = _dir.file("t.db");
    auto t = open("sqlite:" + db);
    deliver_ok(*t, rs);
    sql(db, R"(DELETE FROM users WHERE key = 'carol')");                                   // missing
    sql(db, R"(UPDATE users SET "offset" = 1, value = '{"v":1}' WHERE key = 'alice')");     // stale
    sql(db, R"(UPDATE users SET deleted = 0, value = '{"zombie":1}' WHERE key = 'bob')");   // resurrected
    sql(db, R"(INSERT INTO users VALUES ('eve', '{"v":1}', 3, 0, 0))");                     // unexpected
    sql(db, R"(UPDATE orders SET deleted = 1, value = NULL WHERE key = 'o1')");             // missing (tombstone)
    sql(db, R"(UPDATE users SET value = '{"v":4}' WHERE key = 'dave')");                    // stale (same offset)

    auto report = verify(*t, 9);
    ASSERT_EQ(report.differences.size(), 6u) << format_report(report);
    auto expect = [&](std::size_t i, kind k, const std::string& coll, const std::string& key) {
        EXPECT_EQ(report.differences[i].what, k) << i << ": " << report.differences[i].detail;
        EXPECT_EQ(report.differences[i].collection, coll) << i;
        EXPECT_EQ(report.differences[i].key, key) << i;
    };
    // Sorted by (collection, key).
    expect(0, kind::missing, "orders", "o1");
    expect(1, kind::stale, "users", "alice");
    expect(2, kind::resurrected, "users", "bob");
    expect(3, kind::missing, "users", "carol");
    expect(4, kind::stale, "users", "dave");
    expect(5, kind::unexpected, "users", "eve");
    EXPECT_NE(report.differences[1].detail.find("expected offset 4"), std::string::npos)
        << report.differences[1].detail;
    EXPECT_NE(report.differences[1].detail.find("offset 1"), std::string::npos);

    std::string text = format_report(report, 2);
    EXPECT_EQ(text.rfind("verify: DIFFERENT", 0), 0u) << text;
    EXPECT_NE(text.find("missing=2 stale=2 resurrected=1 unexpected=1"), std::string::npos) << text;
    EXPECT_NE(text.find("users/alice"), std::string::npos) << text;
    EXPECT_NE(text.find("... and 4 more"), std::string::npos) << text;
}

TEST_F(verify_test, tombstones_for_deleted_keys_are_fine_whatever_their_offset) {
    auto rs = history();
    auto t = open("sqlite:" + _dir.file("t.db"));
    deliver_ok(*t, rs);
    // bob's tombstone is at 5; an older tombstone (a target restored from a backup) is fine too.
    sql(_dir.file("t.db"), R"(UPDATE users SET "offset" = 2 WHERE key = 'bob')");
    auto report = verify(*t, 9);
    EXPECT_TRUE(report.clean()) << format_report(report);
}

TEST_F(verify_test, jsonl_target_verifies_by_json_value) {
    auto rs = append({upsert(0, "c", "a", "{ \"x\" : [1, 2],\n \"y\": null }"), upsert(0, "c", "b", "plain"),
                      upsert(0, "c", "b", "\"quoted\""), del(0, "c", "d"), upsert(0, "c", "e", "not json")});
    auto t = open("jsonl:" + _dir.file("t.jsonl"));
    deliver_ok(*t, rs);
    deliver_ok(*t, rs);  // At-least-once: duplicates are harmless.
    auto report = verify(*t, rs.back().offset);
    EXPECT_TRUE(report.clean()) << format_report(report);
}

TEST_F(verify_test, rows_older_than_a_trimmed_log_are_unverifiable_not_unexpected) {
    auto rs = history();
    auto t = open("sqlite:" + _dir.file("t.db"));
    deliver_ok(*t, rs);
    auto trimmed = _log->trim_below(6);
    ASSERT_TRUE(trimmed.ok()) << trimmed.get_status().to_string();
    auto report = verify(*t, 9);
    EXPECT_TRUE(report.clean()) << format_report(report);
    EXPECT_EQ(report.log_first_offset, 6u);
    EXPECT_EQ(report.unverifiable, 3u);  // alice@4, bob's tombstone@5, carol@3.
    EXPECT_NE(format_report(report).find("unverifiable=3 (log trimmed below 6)"), std::string::npos)
        << format_report(report);
}

TEST_F(verify_test, null_target_cannot_be_verified) {
    history();
    auto t = open("null:");
    auto r = verify_target(*_log, 9, *t, "null:");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.get_status().code(), errc::invalid_argument);
    EXPECT_NE(r.get_status().message().find("cannot be read back for verification"), std::string::npos);
}

TEST_F(verify_test, empty_target_misses_every_live_key) {
    history();
    auto t = open("sqlite:" + _dir.file("t.db"));
    auto report = verify(*t, 9);
    ASSERT_EQ(report.differences.size(), 4u) << format_report(report);
    for (const auto& d : report.differences) EXPECT_EQ(d.what, kind::missing);
}

}  // namespace
}  // namespace syncline::targets
