// The nats:// target end to end: the real sink, ventilator and 4 workers publishing 10,000
// records into a JetStream stream of a nats-server started by the test, one worker SIGKILLed
// mid-run. Checked by reading the stream back with a consumer: every offset is there, each
// message carries Nats-Msg-Id = pipeline:offset, and the stream holds each id once. A core
// subscription sees every publish, the repeated ones the stream dropped included: every
// repeat of an offset carried the same id.
#include <csignal>
#include <cstdio>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "tests/integration/target_pipeline.h"
#include "tests/support/nats_server.h"

namespace syncline::testing {
namespace {

using std::chrono::seconds;

class nats_test : public target_pipeline {
protected:
    nats_server server;
};

TEST_F(nats_test, a_killed_worker_loses_nothing_and_redeliveries_are_stored_once) {
    constexpr std::uint64_t n = 10'000;
    server.create_stream("SYNC", "sync.>");
    target = server.uri("sync", "ack_timeout_ms=2000");
    nats_recorder published(server.port(), "sync.>");
    append_sample(*writer, n, 2'000, 11);  // Collections a/b/c, repeated keys, ~10% deletes.
    auto sink = start_sink();
    auto workers = start_workers(4);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(n / 4)) << "committed " << committed_now();
    workers[0].signal(SIGKILL);
    EXPECT_TRUE(workers[0].wait_for(seconds(5)).has_value());
    ASSERT_TRUE(wait_committed(n, seconds(90))) << "committed " << committed_now();

    const auto stored = server.read_stream("SYNC");
    std::map<std::uint64_t, int> copies;
    std::size_t wrong_ids = 0, wrong_subjects = 0;
    for (const auto& m : stored) {
        const std::uint64_t offset = std::stoull(m.headers.at("Syncline-Offset"));
        ++copies[offset];
        if (m.headers.at("Nats-Msg-Id") != "p1:" + std::to_string(offset) && ++wrong_ids <= 5)
            ADD_FAILURE() << "offset " << offset << " under id " << m.headers.at("Nats-Msg-Id");
        if (m.subject != "sync." + m.headers.at("Syncline-Collection") && ++wrong_subjects <= 5)
            ADD_FAILURE() << "offset " << offset << " on " << m.subject;
    }
    std::size_t missing = 0, repeated = 0;
    for (std::uint64_t o = 1; o <= n; ++o) {
        if (copies[o] == 0 && ++missing <= 5) ADD_FAILURE() << "offset " << o << " not in the stream";
        if (copies[o] > 1) ++repeated;
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(wrong_ids, 0u);
    EXPECT_EQ(wrong_subjects, 0u);
    EXPECT_EQ(repeated, 0u) << "the duplicate window should hold each Nats-Msg-Id once";
    EXPECT_EQ(stored.size(), n);

    std::map<std::uint64_t, std::set<std::string>> ids;
    std::map<std::uint64_t, int> publishes;
    for (const auto& m : published.messages()) {
        const std::uint64_t offset = std::stoull(m.headers.at("Syncline-Offset"));
        ids[offset].insert(m.headers.at("Nats-Msg-Id"));
        ++publishes[offset];
    }
    std::size_t split_ids = 0, republished = 0;
    for (const auto& [offset, names] : ids) {
        if (names.size() > 1 && ++split_ids <= 5) ADD_FAILURE() << "offset " << offset << " published under " << names.size() << " ids";
        if (publishes[offset] > 1) ++republished;
    }
    EXPECT_EQ(split_ids, 0u);
    std::fprintf(stderr, "offsets published more than once=%zu (stored once)\n", republished);

    const auto dlq = syncline({"dlq", "list", "--state", state, "--pipeline", pipeline, "--json"});
    EXPECT_EQ(dlq.code, 0) << dlq.out;
    EXPECT_EQ(dlq.out.find('{'), std::string::npos) << dlq.out;
}

}  // namespace
}  // namespace syncline::testing
