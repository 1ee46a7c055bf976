// Recovery end to end (issue 4): the recipe "restore a target from a copy, replay from the copy's
// offset, verify", replay beside a running pipeline, dead letters (list/show/retry/purge), log
// retention (trim and the trimmed-gap error), and the `stop` failure policy. Everything runs
// the real `syncline` binary and the processes it launches, on temp dirs and ipc sockets.
#include <csignal>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/change_log.h"
#include "store/state_store.h"
#include "tests/support/harness.h"

namespace syncline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct cli_result {
    int code = -1;
    std::string out;  // stdout and stderr together.
};

class recovery_test : public pipeline_fixture {
protected:
    // Runs `syncline args...` to completion; output in one file per call.
    cli_result syncline(const std::vector<std::string>& args, milliseconds timeout = seconds(60)) {
        const std::string out = dir / ("cmd-" + std::to_string(++_calls) + ".log");
        cli_result r;
        r.code = run_to_exit("syncline", args, out, timeout);
        r.out = read_file(out);
        return r;
    }

    std::vector<std::string> run_args(const std::string& pipeline, const std::string& target_uri) {
        return {"run", "--log", log_dir, "--state", state, "--pipeline", pipeline, "--target", target_uri,
                "--workers", "2"};
    }

    cli_result run_until_caught_up(const std::string& pipeline = "p1", std::vector<std::string> extra = {}) {
        auto args = run_args(pipeline, target);
        args.push_back("--until-caught-up");
        args.insert(args.end(), extra.begin(), extra.end());
        return syncline(args, seconds(120));
    }

    int verify(const std::string& pipeline = "p1") {
        auto r = syncline({"verify", "--log", log_dir, "--state", state, "--pipeline", pipeline, "--target", target});
        last_verify = r.out;
        return r.code;
    }

    // Appends `collection`/`key` with a JSON value: the offset it got.
    std::uint64_t append_one(const std::string& collection, const std::string& key, const std::string& value) {
        std::vector<record> batch(1);
        batch[0].collection = collection;
        batch[0].key = key;
        batch[0].value = value;
        auto appended = writer->append(batch);
        EXPECT_TRUE(appended.ok()) << appended.get_status().message();
        return appended.ok() ? appended->first : 0;
    }

    std::vector<nlohmann::json> json_lines(const std::string& text) {
        std::vector<nlohmann::json> out;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) {
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (!j.is_discarded()) out.push_back(std::move(j));
        }
        return out;
    }

    std::string db = dir / "target.db";
    std::string target = "sqlite:" + db;
    std::string last_verify;
    int _calls = 0;
};

void copy_sqlite(const std::string& from, const std::string& to) {
    for (const char* suffix : {"-wal", "-shm"}) {
        std::error_code ec;
        fs::remove(to + suffix, ec);
        if (fs::exists(from + suffix)) fs::copy_file(from + suffix, to + suffix, fs::copy_options::overwrite_existing);
    }
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

TEST_F(recovery_test, restore_a_copy_taken_at_offset_b_then_replay_from_b_plus_1_is_exact) {
    append_sample(*writer, 20'000, 2'000, 11);
    auto first = run_until_caught_up();
    ASSERT_EQ(first.code, 0) << first.out;
    const std::uint64_t b = committed(state, "p1");
    ASSERT_EQ(b, 20'000u);
    // The pipeline is stopped: the copy holds exactly offsets 1..B.
    copy_sqlite(db, dir / "backup.db");

    // Life goes on: more changes (updates and deletes of the same keys) are delivered.
    append_sample(*writer, 20'000, 2'000, 12);
    auto second = run_until_caught_up();
    ASSERT_EQ(second.code, 0) << second.out;
    ASSERT_EQ(committed(state, "p1"), 40'000u);

    // The target is lost and restored from the copy: it is behind the committed offset.
    copy_sqlite(dir / "backup.db", db);
    EXPECT_EQ(verify(), 1) << last_verify;

    auto replay = syncline({"replay", "--log", log_dir, "--state", state, "--pipeline", "p1", "--from",
                            std::to_string(b + 1), "--target", target, "--progress"},
                           seconds(120));
    ASSERT_EQ(replay.code, 0) << replay.out;
    EXPECT_NE(replay.out.find("replayed 20000 records (offsets 20001..40000)"), std::string::npos) << replay.out;
    EXPECT_EQ(verify(), 0) << last_verify;
    // The temporary pipeline is gone and the pipeline itself did not move.
    EXPECT_FALSE(fs::exists(state + "/p1.replay"));
    EXPECT_FALSE(fs::exists(state + "/p1.replay.run"));
    EXPECT_EQ(committed(state, "p1"), 40'000u);
}

TEST_F(recovery_test, replay_runs_beside_the_running_pipeline_into_the_same_target) {
    append_sample(*writer, 30'000, 3'000, 21);
    auto running = start("syncline", run_args("p1", target), dir / "run.log");
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 30'000; }, seconds(60))) << read_file(dir / "run.log");

    // Replay an old range while the pipeline keeps following the log (and new appends arrive).
    std::thread producer([&] {
        for (int i = 0; i < 5; ++i) {
            append_sample(*writer, 2'000, 3'000, 200 + i);
            std::this_thread::sleep_for(milliseconds(100));
        }
    });
    auto replay = syncline({"replay", "--log", log_dir, "--state", state, "--pipeline", "p1", "--from", "1", "--to",
                            "25000", "--target", target, "--workers", "2", "--keep-state"},
                           seconds(120));
    producer.join();
    ASSERT_EQ(replay.code, 0) << replay.out;
    EXPECT_NE(replay.out.find("replayed 25000 records (offsets 1..25000)"), std::string::npos) << replay.out;
    // --keep-state leaves the temporary pipeline for inspection: committed at its --to.
    EXPECT_EQ(committed(state, "p1.replay"), 25'000u);
    EXPECT_TRUE(running.running());

    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 40'000; }, seconds(60))) << read_file(dir / "run.log");
    running.signal(SIGTERM);
    ASSERT_EQ(running.wait_for(seconds(30)), 0) << read_file(dir / "run.log");
    // Fencing: the replayed (older) changes did not overwrite newer ones.
    EXPECT_EQ(verify(), 0) << last_verify;

    // A second replay while the kept state exists reuses it; refused only while one runs.
    auto again = syncline({"replay", "--log", log_dir, "--state", state, "--pipeline", "p1", "--from", "39001",
                           "--target", target});
    ASSERT_EQ(again.code, 0) << again.out;
    EXPECT_FALSE(fs::exists(state + "/p1.replay"));

    // Bad ranges are usage errors, with the reason.
    auto past = syncline({"replay", "--log", log_dir, "--state", state, "--pipeline", "p1", "--from", "5", "--to",
                          "99999", "--target", target});
    EXPECT_EQ(past.code, 2);
    EXPECT_NE(past.out.find("syncline replay: error: --to 99999 is past the end of the log (last offset 40000)"),
              std::string::npos)
        << past.out;
}

TEST_F(recovery_test, refused_records_are_dead_lettered_and_can_be_listed_shown_retried_and_purged) {
    append_sample(*writer, 5'000, 500, 31);
    // SQLite refuses these for good: table names starting with sqlite_ are reserved.
    const auto bad1 = append_one("sqlite_stats", "k1", R"({"n":1})");
    append_sample(*writer, 5'000, 500, 32);
    const auto bad2 = append_one("sqlite_stats", "k2", R"({"n":2})");
    const auto bad3 = append_one("sqlite_master", "k3", R"({"n":3})");
    append_sample(*writer, 2'000, 500, 33);
    const std::uint64_t last = writer->last_offset();

    auto run = run_until_caught_up();
    ASSERT_EQ(run.code, 0) << run.out;
    // The watermark moved past the refused records: everything is committed.
    EXPECT_EQ(committed(state, "p1"), last);
    auto offsets = syncline({"offsets", "show", "--state", state, "--log", log_dir, "--json"});
    ASSERT_EQ(offsets.code, 0) << offsets.out;
    auto shown = json_lines(offsets.out);
    ASSERT_EQ(shown.size(), 1u) << offsets.out;
    EXPECT_EQ(shown[0]["committed"], last);
    EXPECT_EQ(shown[0]["lag"], 0);

    auto list = syncline({"dlq", "list", "--state", state, "--pipeline", "p1"});
    ASSERT_EQ(list.code, 0) << list.out;
    EXPECT_EQ(count_lines_with(dir / ("cmd-" + std::to_string(_calls) + ".log"), "reserved by SQLite"), 3u) << list.out;
    EXPECT_NE(list.out.find(std::to_string(bad1) + "  "), std::string::npos) << list.out;
    auto list_json = json_lines(syncline({"dlq", "list", "--state", state, "--pipeline", "p1", "--json"}).out);
    ASSERT_EQ(list_json.size(), 3u);
    EXPECT_EQ(list_json[0]["offset"], bad1);
    EXPECT_EQ(list_json[1]["offset"], bad2);
    EXPECT_EQ(list_json[2]["offset"], bad3);
    EXPECT_EQ(list_json[2]["collection"], "sqlite_master");
    const int attempts_before = list_json[0]["attempts"];

    auto show = syncline({"dlq", "show", "--state", state, "--pipeline", "p1", "--offset", std::to_string(bad2)});
    ASSERT_EQ(show.code, 0) << show.out;
    EXPECT_NE(show.out.find("collection      sqlite_stats"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("key             k2"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find(R"(value           {"n":2})"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("reserved by SQLite"), std::string::npos) << show.out;
    auto missing = syncline({"dlq", "show", "--state", state, "--pipeline", "p1", "--offset", "1"});
    EXPECT_EQ(missing.code, 1);
    EXPECT_NE(missing.out.find("no dead letter at offset 1"), std::string::npos) << missing.out;

    // Retry into the same target: refused again, attempts counted, nothing removed.
    auto retry_same = syncline({"dlq", "retry", "--state", state, "--pipeline", "p1", "--target", target});
    EXPECT_EQ(retry_same.code, 1) << retry_same.out;
    EXPECT_NE(retry_same.out.find("0 delivered and removed, 3 refused again"), std::string::npos) << retry_same.out;
    list_json = json_lines(syncline({"dlq", "list", "--state", state, "--pipeline", "p1", "--json"}).out);
    ASSERT_EQ(list_json.size(), 3u);
    EXPECT_EQ(list_json[0]["attempts"], attempts_before + 1);

    // Retry one into a target that takes it: delivered and removed.
    const std::string jsonl = dir / "fixed.jsonl";
    auto retry_ok = syncline({"dlq", "retry", "--state", state, "--pipeline", "p1", "--target", "jsonl:" + jsonl,
                              "--offset", std::to_string(bad1)});
    ASSERT_EQ(retry_ok.code, 0) << retry_ok.out;
    EXPECT_NE(retry_ok.out.find("1 delivered and removed, 0 refused again"), std::string::npos) << retry_ok.out;
    EXPECT_NE(read_file(jsonl).find("sqlite_stats"), std::string::npos);
    EXPECT_EQ(json_lines(syncline({"dlq", "list", "--state", state, "--pipeline", "p1", "--json"}).out).size(), 2u);

    // Purge: explicit, and refused while the pipeline's state is locked (its sink runs).
    auto no_choice = syncline({"dlq", "purge", "--state", state, "--pipeline", "p1"});
    EXPECT_EQ(no_choice.code, 2) << no_choice.out;
    {
        auto locked = store::state_store::open({.root = state, .pipeline = "p1"});
        ASSERT_TRUE(locked.ok()) << locked.get_status().message();
        auto refused = syncline({"dlq", "purge", "--state", state, "--pipeline", "p1", "--all"});
        EXPECT_EQ(refused.code, 1);
        EXPECT_NE(refused.out.find("pipeline p1 is running"), std::string::npos) << refused.out;
        // Reading works while it runs.
        EXPECT_EQ(syncline({"dlq", "list", "--state", state, "--pipeline", "p1"}).code, 0);
    }
    auto purge_one = syncline({"dlq", "purge", "--state", state, "--pipeline", "p1", "--offset", std::to_string(bad2)});
    ASSERT_EQ(purge_one.code, 0) << purge_one.out;
    EXPECT_NE(purge_one.out.find("removed 1 dead letter"), std::string::npos) << purge_one.out;
    auto purge_all = syncline({"dlq", "purge", "--state", state, "--pipeline", "p1", "--all"});
    ASSERT_EQ(purge_all.code, 0) << purge_all.out;
    auto empty = syncline({"dlq", "list", "--state", state, "--pipeline", "p1"});
    EXPECT_NE(empty.out.find("no dead letters for pipeline p1"), std::string::npos) << empty.out;
    EXPECT_EQ(committed(state, "p1"), last);  // Dead-letter commands never move the watermark.

    // A replay over refused records keeps its temporary state so they can be seen.
    auto replay = syncline({"replay", "--log", log_dir, "--state", state, "--pipeline", "p1", "--from", "1",
                            "--target", target});
    ASSERT_EQ(replay.code, 0) << replay.out;
    EXPECT_NE(replay.out.find("3 records were refused by the target and dead-lettered in p1.replay"), std::string::npos)
        << replay.out;
    EXPECT_EQ(json_lines(syncline({"dlq", "list", "--state", state, "--pipeline", "p1.replay", "--json"}).out).size(), 3u);
    EXPECT_FALSE(fs::exists(state + "/p1.replay.run"));
}

TEST_F(recovery_test, a_dead_letter_without_a_copy_is_read_back_from_the_log) {
    append_sample(*writer, 100, 10, 41);
    {
        auto st = store::state_store::open({.root = state, .pipeline = "p1"});
        ASSERT_TRUE(st.ok()) << st.get_status().message();
        // What a sink running without --log stores: no copy of the record.
        std::vector<store::dead_letter> dead{{.offset = 42, .record = "", .error = "http 400", .attempts = 2, .ts_ms = 1}};
        ASSERT_TRUE((*st)->commit(100, dead).ok());
    }
    auto without_log = syncline({"dlq", "show", "--state", state, "--pipeline", "p1", "--offset", "42"});
    ASSERT_EQ(without_log.code, 0) << without_log.out;
    EXPECT_NE(without_log.out.find("give --log DIR"), std::string::npos) << without_log.out;
    auto with_log = syncline({"dlq", "show", "--state", state, "--pipeline", "p1", "--offset", "42", "--log", log_dir,
                              "--json"});
    ASSERT_EQ(with_log.code, 0) << with_log.out;
    auto j = json_lines(with_log.out);
    ASSERT_EQ(j.size(), 1u) << with_log.out;
    EXPECT_EQ(j[0]["record"]["offset"], 42);
    EXPECT_EQ(j[0]["error"], "http 400");
    auto retried = syncline({"dlq", "retry", "--state", state, "--pipeline", "p1", "--log", log_dir, "--target",
                             "jsonl:" + (dir / "out.jsonl")});
    ASSERT_EQ(retried.code, 0) << retried.out;
    EXPECT_NE(read_file(dir / "out.jsonl").find("\"offset\":42"), std::string::npos);
}

TEST_F(recovery_test, trim_plans_deletes_below_the_lowest_committed_and_a_pipeline_in_the_gap_is_refused) {
    append_sample(*writer, 20'000, 2'000, 51);
    ASSERT_EQ(run_until_caught_up("p1").code, 0);
    // A lagging pipeline at 5000, and one that never committed.
    {
        auto lagging = store::state_store::open({.root = state, .pipeline = "p2"});
        ASSERT_TRUE(lagging.ok());
        ASSERT_TRUE((*lagging)->reset(5'000).ok());
        auto fresh = store::state_store::open({.root = state, .pipeline = "p3"});
        ASSERT_TRUE(fresh.ok());
    }
    auto blocked = syncline({"log", "trim", "--log", log_dir, "--state", state});
    EXPECT_EQ(blocked.code, 1) << blocked.out;
    EXPECT_NE(blocked.out.find("pipeline p3 has never committed"), std::string::npos) << blocked.out;
    ASSERT_TRUE(store::state_store::remove_pipeline(state, "p3").ok());

    // Dry run while the producer holds the log: the plan, a note, nothing deleted. The run
    // directory p1.run in the state root is not taken for a pipeline.
    ASSERT_TRUE(fs::exists(state + "/p1.run"));
    auto plan = syncline({"log", "trim", "--log", log_dir, "--state", state});
    ASSERT_EQ(plan.code, 0) << plan.out;
    EXPECT_NE(plan.out.find("delete offsets below 5001 (set by pipeline p2)"), std::string::npos) << plan.out;
    EXPECT_NE(plan.out.find("deletes 5000 records (offsets 1..5000); 15000 remain"), std::string::npos) << plan.out;
    EXPECT_NE(plan.out.find("locked by a writer"), std::string::npos) << plan.out;
    EXPECT_EQ(plan.out.find("p1.run"), std::string::npos) << plan.out;
    auto locked = syncline({"log", "trim", "--log", log_dir, "--state", state, "--execute"});
    EXPECT_EQ(locked.code, 1);
    EXPECT_NE(locked.out.find("is locked by another writer"), std::string::npos) << locked.out;

    writer.reset();
    auto trimmed = syncline({"log", "trim", "--log", log_dir, "--state", state, "--execute"});
    ASSERT_EQ(trimmed.code, 0) << trimmed.out;
    EXPECT_NE(trimmed.out.find("deleted 5000 records; the log now starts at offset 5001"), std::string::npos)
        << trimmed.out;
    auto stats = syncline({"log", "stats", "--log", log_dir, "--json"});
    auto j = json_lines(stats.out);
    ASSERT_EQ(j.size(), 1u) << stats.out;
    EXPECT_EQ(j[0]["first_offset"], 5'001);
    EXPECT_EQ(j[0]["count"], 15'000);
    // The pipeline that needs 5001.. still finishes.
    ASSERT_EQ(run_until_caught_up("p2").code, 0);
    EXPECT_EQ(committed(state, "p2"), 20'000u);

    // A pipeline rewound into the trimmed range is refused with the gap named, not skipped.
    auto rewind = syncline({"offsets", "set", "--state", state, "--pipeline", "p2", "--to-offset", "1000", "--execute"});
    ASSERT_EQ(rewind.code, 0) << rewind.out;
    auto gap = run_until_caught_up("p2");
    EXPECT_EQ(gap.code, 1) << gap.out;
    EXPECT_NE(gap.out.find("no longer holds offsets 1000..5000 (trimmed) that pipeline p2 has not committed"),
              std::string::npos)
        << gap.out;
    EXPECT_GE(count_lines_with(state + "/p2.run/ventilator.log", "no longer holds offsets 1000..5000"), 1u);
    EXPECT_EQ(committed(state, "p2"), 999u);  // Nothing was skipped.
    // replay names the gap too.
    auto replay = syncline({"replay", "--log", log_dir, "--state", state, "--pipeline", "p2", "--from", "10", "--target",
                            target});
    EXPECT_EQ(replay.code, 1);
    EXPECT_NE(replay.out.find("offsets 10..5000 were trimmed from the log"), std::string::npos) << replay.out;
}

TEST_F(recovery_test, policy_stop_halts_at_the_refused_offset_until_an_operator_skips_it) {
    append_sample(*writer, 5'000, 500, 61);
    const auto bad = append_one("sqlite_x", "k", R"({"n":1})");
    append_sample(*writer, 5'000, 500, 62);
    const std::uint64_t last = writer->last_offset();
    const std::vector<std::string> policy = {"--sink-args", "--on-failure stop", "--ventilator-args",
                                             "--ack-timeout-ms 300 --drain-timeout-ms 500 --batch-records 500"};

    auto args = run_args("p1", target);
    args.insert(args.end(), policy.begin(), policy.end());
    auto running = start("syncline", args, dir / "run.log");
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") == bad - 1; }, seconds(60))) << committed(state, "p1");
    const std::string sink_log = state + "/p1.run/sink.log";
    ASSERT_TRUE(eventually([&] { return count_lines_with(sink_log, "stopped at offset " + std::to_string(bad)) > 0; },
                           seconds(10)));
    // It stays there: redelivered with backoff, never acknowledged, never dead-lettered.
    std::this_thread::sleep_for(seconds(3));
    EXPECT_EQ(committed(state, "p1"), bad - 1);
    running.signal(SIGTERM);
    ASSERT_EQ(running.wait_for(seconds(30)), 0) << read_file(dir / "run.log");
    // Not spinning: a handful of redeliveries of the stuck batch in those seconds (backoff from 300 ms).
    const std::string sink_text = read_file(sink_log);
    const auto acks_at = sink_text.rfind(" acks=");
    ASSERT_NE(acks_at, std::string::npos) << sink_text;
    EXPECT_LT(std::stoul(sink_text.substr(acks_at + 6)), 60u) << sink_text;
    EXPECT_NE(syncline({"dlq", "list", "--state", state, "--pipeline", "p1"}).out.find("no dead letters"),
              std::string::npos);

    // The operator skips the record and the pipeline finishes.
    auto skip = syncline({"offsets", "set", "--state", state, "--pipeline", "p1", "--to-offset",
                          std::to_string(bad + 1), "--execute"});
    ASSERT_EQ(skip.code, 0) << skip.out;
    auto finish = run_until_caught_up("p1", policy);
    ASSERT_EQ(finish.code, 0) << finish.out;
    EXPECT_EQ(committed(state, "p1"), last);
}

}  // namespace
}  // namespace syncline::testing
