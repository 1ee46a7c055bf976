#pragma once
// Shared by the target tests: deliver a batch (expecting success), read a target's state back,
// and the fixture of the SQL targets' tests against a real server (one server, a database a test).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "targets/target.h"
#include "targets/tests/test_util.h"

namespace syncline::targets::testing {

inline delivery_outcome deliver(target& t, const std::vector<record>& rs) {
    auto v = views(rs);
    return t.deliver(v);
}

inline void deliver_ok(target& t, const std::vector<record>& rs) {
    auto out = deliver(t, rs);
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    ASSERT_TRUE(out.failures.empty()) << out.failures.front().reason;
}

inline state_map read_state_of(target& t) {
    auto st = t.read_state();
    EXPECT_TRUE(st.ok()) << st.get_status().to_string();
    if (!st.ok() || !st->has_value()) return {};
    return **st;
}

// One server for the whole test binary (starting one costs seconds: initdb, install-db), started
// again when a test stopped it; each test works in its own database `db`, which the fixture
// creates with create_database(). Server: postgres_server or mysql_server (tests/support/).
template <typename Server>
class database_per_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (server == nullptr) server = new Server();
    }
    static void TearDownTestSuite() {
        delete server;
        server = nullptr;
    }

    void SetUp() override {
        if (!server->running()) server->start();
        db = "t" + std::to_string(++databases);
        create_database(db);
    }
    virtual void create_database(const std::string& name) = 0;

    // The target on the test's database, pipeline p1; nullptr (and a failure) when it cannot open.
    std::unique_ptr<target> open(const std::string& query = "") {
        auto t = open_target(server->uri(db, query), {"p1"});
        EXPECT_TRUE(t.ok()) << t.get_status().message();
        return t.ok() ? std::move(t.value()) : nullptr;
    }

    static inline Server* server = nullptr;
    static inline int databases = 0;
    std::string db;
};

inline row_state live(std::string value, std::uint64_t offset) { return {std::move(value), offset, false}; }
inline row_state tombstone(std::uint64_t offset) { return {"", offset, true}; }

}  // namespace syncline::targets::testing
