// Mobile push end to end: the real sink, ventilator and four workers delivering a change log to
// the local FCM/APNs receiver (tests/support/push_receiver.h), one worker SIGKILLed mid-run.
// A push cannot be read back, so the check is the receiver's record: every upsert's offset was
// accepted at least once, no delete was sent (deletes=skip), every request carried the id derived
// from its own offset (so duplicates carry the same id), every request had the service's shape,
// and the one record whose token the service calls unregistered is the one dead letter.
#include <csignal>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/change_log.h"
#include "tests/support/harness.h"
#include "tests/support/pipeline.h"
#include "tests/support/push_receiver.h"
#include "targets/push_format.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::uint64_t record_count = 10'000;
constexpr std::uint64_t unregistered_offset = 3'333;  // Its token is "unregistered-...": a dead letter.
constexpr std::uint64_t unavailable_offset = 6'001;   // Answered 503 once: its batch is sent again.

enum class service { fcm, apns };

class push_test : public pipeline_fixture, public ::testing::WithParamInterface<service> {
protected:
    void TearDown() override {
        receiver.stop();
        pipeline_fixture::TearDown();
    }
    std::string on_failure() override { return "receiver log:\n" + receiver.log(); }

    // Offsets 1..n; every 10th a delete; the device token is the key.
    void append_records() {
        std::vector<record> batch;
        for (std::uint64_t offset = 1; offset <= record_count; ++offset) {
            record r;
            r.collection = offset % 2 ? "users" : "orders";
            r.key = offset == unregistered_offset   ? "unregistered-" + std::to_string(offset)
                    : offset == unavailable_offset ? "unavailable-" + std::to_string(offset)
                                                   : "device-" + std::to_string(offset % 500);
            if (offset % 10 == 0) r.operation = op::del;
            else r.value = R"({"name":"user )" + std::to_string(offset) + R"(","note":"line\nbreak \"quoted\""})";
            batch.push_back(std::move(r));
            if (batch.size() == 1000) {
                ASSERT_TRUE(writer->append(batch).ok());
                batch.clear();
            }
        }
    }

    std::string target() const {
        const std::string common = "device_token={key}&title={value.name}&body={value.note}&endpoint=" + receiver.endpoint() +
                                   "&ca_file=" + receiver.ca_file() + "&timeout_ms=5000";
        if (GetParam() == service::fcm)
            return "fcm://sync-test?token_file=" + receiver.fcm_token_file() + "&data={\"offset\":\"{offset}\"}&" + common;
        return std::string("apns://com.example.app?key_file=") + receiver.apns_key_file() + "&key_id=" +
               push_receiver::apns_key_id + "&team_id=" + push_receiver::apns_team_id + "&data={\"offset\":{offset}}&" + common;
    }

    std::vector<nlohmann::json> dead_letters() {
        const std::string out = dir / "dlq.log";
        EXPECT_EQ(run_to_exit("syncline", {"dlq", "list", "--state", state, "--pipeline", "p1", "--json"}, out, seconds(30)), 0);
        std::vector<nlohmann::json> rows;
        std::istringstream in(read_file(out));
        for (std::string line; std::getline(in, line);)
            if (!line.empty() && line.front() == '{') rows.push_back(nlohmann::json::parse(line));
        return rows;
    }

    push_receiver receiver;
    std::string work = "ipc://" + (dir / "work.sock");
    std::string acks = "ipc://" + (dir / "acks.sock");
    std::string control = "ipc://" + (dir / "control.sock");
};

TEST_P(push_test, a_killed_worker_loses_nothing_and_every_duplicate_carries_the_same_id) {
    append_records();
    // The daemons' command lines are their to_argv (tests/support/pipeline.h).
    const pipeline_spec spec{.pipeline = "p1", .log = log_dir, .state = state, .work = work, .acks = acks,
                             .control = control, .target = target()};
    auto s = spec.sink();
    s.log = log_dir;
    auto sink = launch(s, dir / "sink.log");
    std::vector<child_process> workers;
    for (int i = 1; i <= 4; ++i) workers.push_back(launch(spec.worker(i), dir / ("worker-" + std::to_string(i) + ".log")));
    auto v = spec.ventilator();
    v.window.ack_timeout = std::chrono::milliseconds(8000);
    v.batch_records = 200;
    v.window.max_batches = 8;
    auto ventilator = launch(v, dir / "ventilator.log");
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 2'000; }, seconds(60))) << committed(state, "p1");
    workers[0].signal(SIGKILL);
    EXPECT_TRUE(workers[0].wait_for(seconds(5)).has_value());
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= record_count; }, seconds(120))) << committed(state, "p1");

    std::vector<bool> accepted(record_count + 1, false);
    std::map<std::uint64_t, int> sent;
    std::size_t wrong_ids = 0, problems = 0;
    for (const auto& r : receiver.requests()) {
        for (const auto& p : r.problems)
            if (++problems <= 5) ADD_FAILURE() << r.path << ": " << p;
        const auto body = nlohmann::json::parse(r.body);
        const std::uint64_t offset = GetParam() == service::fcm ? std::stoull(body["message"]["data"]["offset"].get<std::string>())
                                                                : body["offset"].get<std::uint64_t>();
        ASSERT_TRUE(offset >= 1 && offset <= record_count) << offset;
        const std::string expected_id = GetParam() == service::fcm ? targets::push::message_id("p1", offset)
                                                                   : targets::push::apns_id("p1", offset);
        if (r.id != expected_id && ++wrong_ids <= 5) ADD_FAILURE() << "offset " << offset << " sent with id " << r.id;
        ++sent[offset];
        if (r.status == 200) accepted[offset] = true;
    }
    std::size_t missing = 0, deletes_sent = 0, repeated = 0;
    for (std::uint64_t o = 1; o <= record_count; ++o) {
        if (o % 10 == 0) {
            if (sent.count(o)) ++deletes_sent;
            continue;
        }
        if (sent[o] > 1) ++repeated;
        if (o != unregistered_offset && !accepted[o] && ++missing <= 5) ADD_FAILURE() << "offset " << o << " never accepted";
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(deletes_sent, 0u);
    EXPECT_EQ(wrong_ids, 0u);
    EXPECT_EQ(problems, 0u);
    EXPECT_GE(sent[unavailable_offset], 2) << "the record answered 503 was not sent again";
    EXPECT_GE(repeated, 1u);

    const auto letters = dead_letters();
    ASSERT_EQ(letters.size(), 1u);
    EXPECT_EQ(letters[0]["offset"], unregistered_offset);
    const std::string error = letters[0]["error"];
    EXPECT_NE(error.find(GetParam() == service::fcm ? "HTTP 404 UNREGISTERED" : "HTTP 410 Unregistered"), std::string::npos) << error;
    std::fprintf(stderr, "requests=%zu offsets sent more than once=%zu\n", receiver.requests().size(), repeated);
}

INSTANTIATE_TEST_SUITE_P(services, push_test, ::testing::Values(service::fcm, service::apns),
                         [](const auto& info) { return info.param == service::fcm ? "fcm" : "apns"; });

}  // namespace
}  // namespace syncline::testing
