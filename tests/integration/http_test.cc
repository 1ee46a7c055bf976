// Webhooks end to end: the real sink, ventilator and workers delivering to an HTTP receiver in
// this process (tests/support/http_receiver.h). A webhook cannot be read back, so the check is
// the receiver's record: every offset arrived at least once in an accepted request with a valid
// signature, and every request that carried an offset carried the same Idempotency-Key.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/change_log.h"
#include "tests/support/harness.h"
#include "tests/support/http_receiver.h"
#include "tests/support/pipeline.h"

namespace syncline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string secret = "whsec_integration-0123456789";

class http_test : public pipeline_fixture {
protected:
    void SetUp() override {
        std::ofstream(secret_file) << secret << "\n";
        pipeline_fixture::SetUp();
    }

    void TearDown() override {
        receiver.stop();
        pipeline_fixture::TearDown();
    }

    std::string target(const std::string& extra = "") const {
        return receiver.url("/hook?tenant=t1") + "&syncline.secret_file=" + secret_file + "&syncline.timeout_ms=1000" + extra;
    }
    // The daemons' command lines are their to_argv (tests/support/pipeline.h).
    pipeline_spec spec(const std::string& extra = "") const {
        return {.pipeline = "p1", .log = log_dir, .state = state, .work = work, .acks = acks, .control = control,
                .target = target(extra)};
    }
    child_process start_sink() {
        auto s = spec().sink();
        s.log = log_dir;
        return launch(s, dir / "sink.log");
    }
    child_process start_ventilator() {
        auto v = spec().ventilator();
        v.window.ack_timeout = milliseconds(3000);
        return launch(v, dir / "ventilator.log");
    }
    std::vector<child_process> start_workers(int n, const std::string& extra = "") {
        std::vector<child_process> out;
        for (int i = 1; i <= n; ++i) out.push_back(launch(spec(extra).worker(i), dir / ("worker-" + std::to_string(i) + ".log")));
        return out;
    }
    bool wait_committed(std::uint64_t offset, milliseconds timeout = seconds(90)) {
        return eventually([&] { return committed(state, "p1") >= offset; }, timeout);
    }
    std::size_t worker_log_lines_with(const std::string& needle, int workers) const {
        std::size_t n = 0;
        for (int i = 1; i <= workers; ++i) n += count_lines_with(dir / ("worker-" + std::to_string(i) + ".log"), needle);
        return n;
    }

    // `syncline dlq list --json`, one object per dead letter.
    std::vector<nlohmann::json> dead_letters() {
        const std::string out = dir / ("dlq-" + std::to_string(++_calls) + ".log");
        EXPECT_EQ(run_to_exit("syncline", {"dlq", "list", "--state", state, "--pipeline", "p1", "--json"}, out, seconds(30)), 0);
        std::vector<nlohmann::json> rows;
        std::istringstream in(read_file(out));
        for (std::string line; std::getline(in, line);)
            if (!line.empty() && line.front() == '{') rows.push_back(nlohmann::json::parse(line));
        return rows;
    }

    // Every offset in 1..last reached the receiver in an accepted (2xx) request, every request
    // was signed with the shared secret, and each offset always travelled under one key.
    // Returns how many offsets arrived more than once.
    std::size_t expect_every_offset_received(std::uint64_t last) {
        std::vector<bool> accepted(last + 1, false);
        std::map<std::uint64_t, std::set<std::string>> keys;
        std::map<std::uint64_t, int> deliveries;
        std::size_t bad_signatures = 0;
        for (const auto& r : receiver.requests()) {
            if (!r.signature_valid) ++bad_signatures;
            EXPECT_EQ(r.path, "/hook?tenant=t1");
            for (std::uint64_t o : r.offsets) {
                if (o > last) continue;
                if (r.answered / 100 == 2) accepted[o] = true;
                keys[o].insert(r.idempotency_key);
                ++deliveries[o];
            }
        }
        EXPECT_EQ(bad_signatures, 0u);
        std::size_t missing = 0, split_keys = 0, repeated = 0;
        for (std::uint64_t o = 1; o <= last; ++o) {
            if (!accepted[o] && ++missing <= 5) ADD_FAILURE() << "offset " << o << " never accepted by the receiver";
            if (keys[o].size() > 1 && ++split_keys <= 5) ADD_FAILURE() << "offset " << o << " sent under " << keys[o].size() << " keys";
            if (deliveries[o] > 1) ++repeated;
        }
        EXPECT_EQ(missing, 0u);
        EXPECT_EQ(split_keys, 0u);
        return repeated;
    }

    void expect_secret_never_logged(int workers) {
        for (int i = 1; i <= workers; ++i)
            EXPECT_EQ(read_file(dir / ("worker-" + std::to_string(i) + ".log")).find(secret), std::string::npos) << "worker " << i;
    }

    std::string secret_file = dir / "webhook.secret";
    std::string work = "ipc://" + (dir / "work.sock");
    std::string acks = "ipc://" + (dir / "acks.sock");
    std::string control = "ipc://" + (dir / "control.sock");
    http_receiver receiver{secret};
    int _calls = 0;
};

TEST_F(http_test, a_killed_worker_loses_nothing_and_every_redelivery_keeps_its_idempotency_key) {
    constexpr std::uint64_t n = 100'000;
    append_sample(*writer, n, 5'000, 11);  // Repeated keys and ~10% deletes.
    // One request is answered too late (the worker gives up after 1 s and sends it again): a
    // redelivery that happens on every run, whatever the kill below hits.
    auto slowed = std::make_shared<bool>(false);
    receiver.answer_when([slowed](const received_request& r) -> std::optional<answer> {
        if (*slowed || r.offsets.empty() || r.offsets.front() > 50'000 || r.offsets.back() < 50'000) return std::nullopt;
        *slowed = true;
        return answer::with(200).after(milliseconds(2500));
    });
    auto sink = start_sink();
    auto workers = start_workers(4);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(20'000)) << "committed " << committed(state, "p1");
    workers[0].signal(SIGKILL);
    EXPECT_TRUE(workers[0].wait_for(seconds(5)).has_value());
    ASSERT_TRUE(wait_committed(n)) << "committed " << committed(state, "p1");

    const std::size_t repeated = expect_every_offset_received(n);
    EXPECT_GE(repeated, 1u) << "the slowed request was not sent again";
    EXPECT_TRUE(dead_letters().empty());
    expect_secret_never_logged(4);
    std::fprintf(stderr, "requests=%zu offsets received more than once=%zu\n", receiver.request_count(), repeated);
}

TEST_F(http_test, an_outage_stalls_the_pipeline_which_then_completes_with_nothing_lost) {
    constexpr std::uint64_t n = 30'000, before = 3'000;
    append_sample(*writer, before, 2'000, 12);
    auto sink = start_sink();
    auto workers = start_workers(2);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(before));

    // The receiver goes away: connections are refused until the workers have retried a while.
    // The rest of the log is appended only now, so the outage is always mid-run (appending it all
    // up front let a fast pipeline finish before the receiver stopped).
    receiver.stop();
    append_sample(*writer, n - before, 2'000, 13);
    ASSERT_TRUE(eventually([&] { return worker_log_lines_with("target unavailable, retrying", 2) >= 4; }, seconds(30)));
    const auto during = committed(state, "p1");
    EXPECT_LT(during, n) << "the pipeline did not stall";
    receiver.start();

    // Then it answers 503 for a few seconds: stalls again, retries again.
    receiver.answer_for(seconds(3), answer::with(503, "maintenance"));
    ASSERT_TRUE(eventually([&] {
        const auto got = receiver.requests();
        return std::count_if(got.begin(), got.end(), [](const received_request& r) { return r.answered == 503; }) >= 2;
    }, seconds(30)));
    ASSERT_TRUE(wait_committed(n)) << "committed " << committed(state, "p1");

    expect_every_offset_received(n);
    EXPECT_TRUE(dead_letters().empty());
}

TEST_F(http_test, retry_after_is_the_least_wait_before_the_worker_tries_again) {
    constexpr std::uint64_t n = 2'000;
    append_sample(*writer, n, 200, 13);
    receiver.answer_next(1, answer::with(429, "slow down").retry_after(2));
    auto sink = start_sink();
    auto workers = start_workers(1);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(n)) << "committed " << committed(state, "p1");

    auto got = receiver.requests();
    ASSERT_GE(got.size(), 2u);
    ASSERT_EQ(got[0].answered, 429);
    const auto retry = std::find_if(got.begin() + 1, got.end(), [&](const received_request& r) { return r.idempotency_key == got[0].idempotency_key; });
    ASSERT_NE(retry, got.end());
    EXPECT_GE(retry->at - got[0].at, milliseconds(1900)) << "Retry-After: 2 not honoured";
    expect_every_offset_received(n);
    EXPECT_TRUE(dead_letters().empty());
}

TEST_F(http_test, refused_requests_are_dead_lettered_with_the_status_and_the_rest_delivered) {
    constexpr std::uint64_t n = 10'000;
    append_sample(*writer, n, 1'000, 14);
    receiver.answer_when([](const received_request& r) -> std::optional<answer> {
        for (std::uint64_t o : r.offsets)
            if (o == 4'321) return answer::with(400, "invalid payload: amount missing");
        return std::nullopt;
    });
    auto sink = start_sink();
    auto workers = start_workers(2);
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(n)) << "committed " << committed(state, "p1");

    std::set<std::uint64_t> refused;
    for (const auto& r : receiver.requests())
        if (r.answered == 400) refused.insert(r.offsets.begin(), r.offsets.end());
    ASSERT_TRUE(refused.count(4'321));
    auto letters = dead_letters();
    std::set<std::uint64_t> lettered;
    for (const auto& d : letters) {
        lettered.insert(d["offset"].get<std::uint64_t>());
        const std::string error = d["error"];
        EXPECT_NE(error.find("HTTP 400"), std::string::npos) << error;
        EXPECT_NE(error.find("invalid payload: amount missing"), std::string::npos) << error;
    }
    EXPECT_EQ(lettered, refused) << "the whole refused batch, and nothing else";
    // Everything else was accepted.
    std::set<std::uint64_t> accepted;
    for (const auto& r : receiver.requests())
        if (r.answered == 200) accepted.insert(r.offsets.begin(), r.offsets.end());
    for (std::uint64_t o = 1; o <= n; ++o) {
        if (!refused.count(o)) {
            ASSERT_TRUE(accepted.count(o)) << o;
        }
    }
}

TEST_F(http_test, in_record_mode_only_the_refused_record_is_dead_lettered) {
    constexpr std::uint64_t n = 2'000;
    append_sample(*writer, n, 500, 15);
    receiver.answer_when([](const received_request& r) -> std::optional<answer> {
        if (r.offsets == std::vector<std::uint64_t>{777}) return answer::with(422, "unprocessable");
        return std::nullopt;
    });
    auto sink = start_sink();
    auto workers = start_workers(2, "&syncline.mode=record");
    auto ventilator = start_ventilator();
    ASSERT_TRUE(wait_committed(n)) << "committed " << committed(state, "p1");

    auto letters = dead_letters();
    ASSERT_EQ(letters.size(), 1u);
    EXPECT_EQ(letters[0]["offset"], 777);
    EXPECT_NE(letters[0]["error"].get<std::string>().find("HTTP 422"), std::string::npos);
    for (const auto& r : receiver.requests()) EXPECT_EQ(r.offsets.size(), 1u);
}

}  // namespace
}  // namespace syncline::testing
