// Processing (docs/processing.md) end to end through the real binaries: filters (--collections,
// --ops) at the ventilator, Lua transforms at the workers (a real SQLite target), and per-key
// ordering (--ordering key) against a webhook receiver while a worker is SIGKILLed and the
// receiver answers 503 at random.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/wire.h"
#include "common/zmq_util.h"
#include "store/change_log.h"
#include "tests/support/harness.h"
#include "tests/support/http_receiver.h"
#include "tests/support/pipeline.h"

namespace syncline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Rows of one SQLite query as text (NULL = "<null>").
std::vector<std::vector<std::string>> query(const std::string& db_path, const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return rows;
    }
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int i = 0; i < sqlite3_column_count(st); ++i) {
                const auto* t = sqlite3_column_text(st, i);
                row.emplace_back(t ? reinterpret_cast<const char*>(t) : "<null>");
            }
            rows.push_back(std::move(row));
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

std::set<std::string> tables(const std::string& db_path) {
    std::set<std::string> out;
    for (auto& row : query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")) out.insert(row[0]);
    return out;
}

// The value of `field=` in the last line of `log` holding `line_with`, or -1.
long long logged_number(const std::string& log, const std::string& line_with, const std::string& field) {
    long long value = -1;
    std::istringstream in(read_file(log));
    for (std::string line; std::getline(in, line);) {
        if (line.find(line_with) == std::string::npos) continue;
        const auto at = line.find(" " + field + "=");
        if (at != std::string::npos) value = std::stoll(line.substr(at + field.size() + 2));
    }
    return value;
}

class processing_test : public pipeline_fixture {
protected:
    // Writes a pipeline INI for `syncline run` and runs it until caught up; returns its exit code.
    int run_pipeline(const std::string& extra_ini, int workers = 2) {
        std::ofstream(ini) << "log = " << log_dir << "\nstate = " << state << "\npipeline = p1\ntarget = sqlite:" << db
                           << "\nworkers = " << workers << "\nmetrics-listen = off\n" << extra_ini;
        return run_to_exit("syncline", {"run", "--config", ini, "--until-caught-up"}, dir / "run.log", seconds(120));
    }
    std::string run_log(const std::string& child) const { return state + "/p1.run/" + child + ".log"; }

    std::string db = dir / "target.db";
    std::string ini = dir / "pipeline.ini";
};

void append_records(store::change_log& log, const std::vector<record>& records) {
    for (std::size_t i = 0; i < records.size(); i += 1000) {
        std::vector<record> part(records.begin() + static_cast<long>(i),
                                 records.begin() + static_cast<long>(std::min(records.size(), i + 1000)));
        auto appended = log.append(part);
        ASSERT_TRUE(appended.ok()) << appended.get_status().message();
    }
}

record make(std::string collection, std::string key, std::string value, op o = op::upsert) {
    record r;
    r.collection = std::move(collection);
    r.key = std::move(key);
    r.operation = o;
    if (o == op::upsert) r.value = std::move(value);
    return r;
}

// ---- Filters ----------------------------------------------------------------------------------

// 2,000 records of a filtered collection first (whole batches with nothing to send), then a mixed
// sample: only upserts of accounts and events reach the target, every offset is committed, and
// the ventilator's counts add up.
TEST_F(processing_test, filters_send_only_matching_records_and_the_watermark_passes_the_rest) {
    std::vector<record> skipped;
    for (int i = 0; i < 2000; ++i) skipped.push_back(make("skipme", "s" + std::to_string(i), "{}"));
    append_records(*writer, skipped);
    append_sample(*writer, 6000, 400, 3);
    const std::uint64_t total = writer->last_offset();

    // What the filter should let through, computed from the log itself.
    std::uint64_t expected_sent = 0;
    std::map<std::string, std::set<std::string>> expected_keys;
    auto reader = store::change_log::open_reader(log_dir);
    ASSERT_TRUE(reader.ok());
    ASSERT_TRUE((*reader)->scan(1, total, std::size_t(-1), [&](std::uint64_t, std::string_view bytes) {
        auto r = codec::decode_record(bytes);
        if (r.ok() && r->operation == op::upsert && (r->collection == "accounts" || r->collection == "events")) {
            ++expected_sent;
            expected_keys[std::string(r->collection)].insert(std::string(r->key));
        }
        return true;
    }).ok());
    ASSERT_GT(expected_sent, 0u);

    ASSERT_EQ(run_pipeline("collections = acc*, ev?nts\nops = upsert\n"), 0) << read_file(dir / "run.log");
    EXPECT_EQ(committed(state, "p1"), total);
    EXPECT_EQ(tables(db), (std::set<std::string>{"accounts", "events"}));
    for (const auto& [collection, keys] : expected_keys) {
        auto rows = query(db, "SELECT count(*), sum(deleted) FROM \"" + collection + "\"");
        ASSERT_EQ(rows.size(), 1u);
        EXPECT_EQ(rows[0][0], std::to_string(keys.size())) << collection;
        EXPECT_EQ(rows[0][1], "0") << collection << ": a delete was sent";
    }
    const auto vent = run_log("ventilator");
    EXPECT_EQ(logged_number(vent, "stopped", "records_filtered"), static_cast<long long>(total - expected_sent))
        << read_file(vent);
    EXPECT_GE(logged_number(vent, "stopped", "records_sent"), static_cast<long long>(expected_sent));
}

// The filter is not stored: a changed filter applies from the committed offset on. Records
// committed under the old filter are not sent again when it widens.
TEST_F(processing_test, a_filter_change_takes_effect_from_the_committed_offset) {
    append_records(*writer, {make("a", "1", "{}"), make("b", "1", "{}")});
    ASSERT_EQ(run_pipeline("collections = a\n"), 0) << read_file(dir / "run.log");
    EXPECT_EQ(committed(state, "p1"), 2u);
    append_records(*writer, {make("a", "2", "{}"), make("b", "2", "{}")});
    ASSERT_EQ(run_pipeline("collections = b\n"), 0) << read_file(dir / "run.log");
    EXPECT_EQ(committed(state, "p1"), 4u);
    EXPECT_EQ(query(db, "SELECT key FROM a ORDER BY key"), (std::vector<std::vector<std::string>>{{"1"}}));
    EXPECT_EQ(query(db, "SELECT key FROM b ORDER BY key"), (std::vector<std::vector<std::string>>{{"2"}}));
}

// `syncline status` shows the records sent and filtered, from the running ventilator's metrics.
TEST_F(processing_test, status_shows_records_sent_and_filtered) {
    std::vector<record> records;
    for (int i = 0; i < 30; ++i) records.push_back(make(i % 3 == 0 ? "keep" : "skip", std::to_string(i), "{}"));
    append_records(*writer, records);
    auto runner = start("syncline", {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--target",
                                     "sqlite:" + db, "--workers", "1", "--collections", "keep"},
                        dir / "run.log");
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") == 30; }, seconds(60))) << read_file(dir / "run.log");
    nlohmann::json shown;
    ASSERT_TRUE(eventually(
        [&] {
            if (run_to_exit("syncline", {"status", "--state", state, "--json", "--interval-ms", "100"}, dir / "status.log",
                            seconds(30)) != 0)
                return false;
            shown = nlohmann::json::parse(read_file(dir / "status.log"), nullptr, false);
            return !shown.is_discarded() && shown["records_filtered"].is_number() && shown["records_filtered"] == 20;
        },
        seconds(30)))
        << read_file(dir / "status.log");
    EXPECT_EQ(shown["records_sent"], 10);
    runner.signal(SIGTERM);
    EXPECT_EQ(runner.wait_or_kill(seconds(30)), 0);
}

TEST_F(processing_test, bad_filter_keys_are_config_errors_naming_the_key) {
    const std::string script = dir / "bad.lua";
    std::ofstream(script) << "function transform(rec)\n  return rec +\nend\n";
    std::ofstream(ini) << "log = " << log_dir << "\nstate = " << state << "\npipeline = p1\ncollections = a,,b\n"
                       << "ops = insert\nordering = fifo\ntransform = " << script << "\n";
    ASSERT_EQ(run_to_exit("syncline", {"config", "check", ini}, dir / "check.log", seconds(30)), 2);
    const std::string out = read_file(dir / "check.log");
    EXPECT_NE(out.find("key 'collections'"), std::string::npos) << out;
    EXPECT_NE(out.find("glob 2 '' is empty"), std::string::npos) << out;
    EXPECT_NE(out.find("'insert' is not an operation"), std::string::npos) << out;
    EXPECT_NE(out.find("'fifo' is not one of none, key"), std::string::npos) << out;
    EXPECT_NE(out.find(":7: key 'transform': --transform " + script + ": " + script + ":3:"), std::string::npos) << out;
    EXPECT_EQ(run_to_exit("syncline-ventilator", {"--log", log_dir, "--ops", "upsert,merge"}, dir / "vent.log",
                          seconds(30)),
              2);
    EXPECT_NE(read_file(dir / "vent.log").find("'merge' is not an operation"), std::string::npos);
}

// ---- Transforms ---------------------------------------------------------------------------------

// Masking, dropping and splitting verified at a SQLite target through `syncline run` (INI key
// `transform`), with records on which the script tries os.execute, io.open, require, loops
// forever or allocates without end: each is dead-lettered with a clear reason, the worker
// stays up, and every offset is committed.
TEST_F(processing_test, transforms_mask_drop_split_and_dead_letter_sandbox_violations) {
    const std::string script = dir / "t.lua";
    std::ofstream(script) << R"(hoard = {}
function transform(rec)
  if rec.collection == "audit" then return nil end
  if rec.key == "evil-os" then os.execute("touch /tmp/syncline-pwned") end
  if rec.key == "evil-io" then io.open("/etc/passwd") end
  if rec.key == "evil-require" then require("socket") end
  if rec.key == "loop" then while true do end end
  if rec.key == "bomb" then local s = "x" while true do s = s .. s; hoard[#hoard + 1] = s end end
  local v = rec.value
  if rec.collection == "users" and type(v) == "table" and v.email then
    v.email = string.sub(v.email, 1, 1) .. "***"
  end
  if rec.collection == "orders" and type(v) == "table" and v.region then
    return { rec, { collection = "orders_" .. v.region } }
  end
  return rec
end
)";
    std::vector<record> records;
    for (int i = 0; i < 20; ++i)
        records.push_back(make("users", "u" + std::to_string(i),
                               "{\"email\": \"user" + std::to_string(i) + "@example.com\", \"n\": " + std::to_string(i) + "}"));
    for (int i = 0; i < 10; ++i) records.push_back(make("audit", "a" + std::to_string(i), "{}"));
    for (int i = 0; i < 10; ++i)
        records.push_back(make("orders", "o" + std::to_string(i),
                               std::string("{\"region\":\"") + (i % 2 ? "eu" : "us") + "\",\"total\": " + std::to_string(i) + "}"));
    const std::string untouched = "{ \"spacing\" :  \"kept\" }";
    records.push_back(make("misc", "m1", untouched));
    for (const char* evil : {"evil-os", "evil-io", "evil-require", "loop", "bomb"}) records.push_back(make("misc", evil, "{}"));
    records.push_back(make("users", "u0", "", op::del));
    append_records(*writer, records);
    const std::uint64_t total = writer->last_offset();

    ASSERT_EQ(run_pipeline("transform = " + script +
                               "\nworker-args = --transform-max-instructions 200000 --transform-max-memory-mb 16\n",
                           1),
              0)
        << read_file(dir / "run.log");
    EXPECT_EQ(committed(state, "p1"), total);
    EXPECT_FALSE(fs::exists("/tmp/syncline-pwned"));
    EXPECT_EQ(tables(db), (std::set<std::string>{"users", "orders", "orders_eu", "orders_us", "misc"}));
    // Masked (u0 deleted afterwards: a tombstone).
    EXPECT_EQ(query(db, "SELECT value FROM users WHERE key = 'u7'"),
              (std::vector<std::vector<std::string>>{{R"({"email":"u***","n":7})"}}));
    EXPECT_EQ(query(db, "SELECT count(*) FROM users WHERE value LIKE '%example.com%'")[0][0], "0");
    EXPECT_EQ(query(db, "SELECT deleted FROM users WHERE key = 'u0'")[0][0], "1");
    // Split: every order in orders and in its region's collection, with the same offset, bytes as stored.
    EXPECT_EQ(query(db, "SELECT count(*) FROM orders")[0][0], "10");
    EXPECT_EQ(query(db, "SELECT count(*) FROM orders_eu")[0][0], "5");
    EXPECT_EQ(query(db, "SELECT count(*) FROM orders_us")[0][0], "5");
    EXPECT_EQ(query(db, "SELECT a.value = b.value AND a.\"offset\" = b.\"offset\" FROM orders a JOIN orders_eu b "
                        "ON a.key = b.key WHERE a.key = 'o3'")[0][0],
              "1");
    // Untouched bytes stay exact.
    EXPECT_EQ(query(db, "SELECT value FROM misc WHERE key = 'm1'")[0][0], untouched);
    EXPECT_EQ(query(db, "SELECT count(*) FROM misc")[0][0], "1");

    // Five dead letters, each with the Lua reason and line.
    ASSERT_EQ(run_to_exit("syncline", {"dlq", "list", "--config", ini, "--json"}, dir / "dlq.log", seconds(30)), 0);
    std::map<std::string, std::string> reasons;
    std::istringstream lines(read_file(dir / "dlq.log"));
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] != '{') continue;
        auto j = nlohmann::json::parse(line);
        reasons[j["key"].get<std::string>()] = j["error"].get<std::string>();
    }
    ASSERT_EQ(reasons.size(), 5u) << read_file(dir / "dlq.log");
    EXPECT_NE(reasons["evil-os"].find("t.lua:4: attempt to index a nil value (global 'os')"), std::string::npos)
        << reasons["evil-os"];
    EXPECT_NE(reasons["evil-io"].find("t.lua:5: attempt to index a nil value (global 'io')"), std::string::npos)
        << reasons["evil-io"];
    EXPECT_NE(reasons["evil-require"].find("t.lua:6: attempt to call a nil value (global 'require')"),
              std::string::npos)
        << reasons["evil-require"];
    EXPECT_NE(reasons["loop"].find("instruction budget"), std::string::npos) << reasons["loop"];
    EXPECT_NE(reasons["bomb"].find("not enough memory"), std::string::npos) << reasons["bomb"];
    // One worker, never restarted: it survived all five.
    EXPECT_EQ(count_lines_with(run_log("worker-1"), "worker started"), 1u) << read_file(run_log("worker-1"));
}

TEST_F(processing_test, a_transform_that_does_not_load_stops_the_worker_with_exit_2) {
    const std::string script = dir / "bad.lua";
    std::ofstream(script) << "function transform(rec)\n  return rec +\nend\n";
    EXPECT_EQ(run_to_exit("syncline-worker", {"--target", "sqlite:" + db, "--transform", script}, dir / "w.log",
                          seconds(30)),
              2);
    const std::string out = read_file(dir / "w.log");
    EXPECT_NE(out.find("--transform " + script + ": " + script + ":3:"), std::string::npos) << out;
}

// ---- Per-key ordering -----------------------------------------------------------------------------

class ordering_test : public pipeline_fixture {
protected:
    void SetUp() override {
        std::ofstream(secret_file) << secret << "\n";
        pipeline_fixture::SetUp();
    }
    void TearDown() override {
        receiver.stop();
        pipeline_fixture::TearDown();
    }

    // Runs the pipeline over the log with 4 workers while the receiver answers 503 to about a third
    // of the requests (a fixed seed) and worker 1 is SIGKILLed mid-run; returns how many times a
    // key's offset went down in what the receiver accepted (2xx), in arrival order. A redelivery
    // of the same change (equal offset) is not a violation. The ack timeout stays well above a
    // worker's whole retry time (docs/processing.md: otherwise two attempts of a batch can overlap).
    // Record-by-record isolation is off, so random 503s never dead-letter a record (every offset
    // must reach the receiver).
    std::size_t run_and_count_violations(const std::string& ordering, std::uint64_t total) {
        std::mt19937 rng(1234);
        std::mutex rng_mutex;
        receiver.answer_when([&](const received_request&) -> std::optional<answer> {
            std::lock_guard lock(rng_mutex);
            if (rng() % 3 == 0) return answer::with(503, "busy");
            return std::nullopt;
        });
        const std::string target = receiver.url("/hook") + "?syncline.secret_file=" + secret_file + "&syncline.timeout_ms=2000";
        const pipeline_spec spec{"p1", log_dir, state, work, acks, control, target};
        sink::sink_options sink_options = spec.sink();
        sink_options.log = log_dir;
        auto sink = launch(sink_options, dir / "sink.log");
        std::vector<child_process> workers;
        for (int i = 1; i <= 4; ++i) {
            syncline::workers::worker_options w = spec.worker(i);
            w.max_retries = 1;
            w.retry_backoff = milliseconds(5);
            w.coalesce_records = 1;
            w.isolate_after_attempts = 1000;
            workers.push_back(launch(w, dir / ("worker-" + std::to_string(i) + ".log")));
        }
        ventilator::ventilator_options v = spec.ventilator();
        v.window.ack_timeout = scaled(milliseconds(1500));
        v.batch_records = 4;
        auto parsed_ordering = ventilator::parse_ordering(ordering);
        EXPECT_TRUE(parsed_ordering.ok());
        v.order = *parsed_ordering;
        auto ventilator = launch(v, dir / "ventilator.log");
        EXPECT_TRUE(eventually([&] { return committed(state, "p1") >= total / 3; }, seconds(60)));
        workers[0].signal(SIGKILL);
        EXPECT_TRUE(eventually([&] { return committed(state, "p1") >= total; }, seconds(90)))
            << "committed " << committed(state, "p1") << " of " << total;
        ventilator.signal(SIGTERM);
        ventilator.wait_or_kill(seconds(10));
        for (auto& w : workers) {
            w.signal(SIGTERM);
            w.wait_or_kill(seconds(10));
        }
        sink.signal(SIGTERM);
        sink.wait_or_kill(seconds(10));

        std::map<std::string, std::uint64_t> last;
        std::set<std::uint64_t> seen;
        std::size_t violations = 0;
        for (const auto& r : receiver.requests()) {
            if (r.answered < 200 || r.answered >= 300) continue;
            auto body = nlohmann::json::parse(r.body, nullptr, false);
            if (body.is_discarded()) continue;
            for (const auto& rec : body["records"]) {
                const std::string key = rec["key"].get<std::string>();
                const std::uint64_t offset = rec["offset"].get<std::uint64_t>();
                seen.insert(offset);
                if (offset < last[key]) ++violations;
                last[key] = std::max(last[key], offset);
            }
        }
        EXPECT_EQ(seen.size(), total) << "every offset reached the receiver";
        return violations;
    }

    void append_keys(std::uint64_t total, int keys) {
        std::vector<record> records;
        for (std::uint64_t i = 0; i < total; ++i)
            records.push_back(make("things", "k" + std::to_string(i % static_cast<std::uint64_t>(keys)),
                                   "{\"n\":" + std::to_string(i) + "}"));
        append_records(*writer, records);
    }

    const std::string secret = "whsec_ordering-0123456789";
    std::string secret_file = dir / "secret";
    http_receiver receiver{secret};
    std::string work = "ipc://" + (dir / "work.sock");
    std::string acks = "ipc://" + (dir / "acks.sock");
    std::string control = "ipc://" + (dir / "control.sock");
};

TEST_F(ordering_test, with_ordering_key_each_key_arrives_in_offset_order_through_503s_and_a_worker_kill) {
    append_keys(600, 24);
    EXPECT_EQ(run_and_count_violations("key", 600), 0u);
}

// The same run without --ordering key does show violations, so the check above can fail.
TEST_F(ordering_test, without_ordering_key_the_same_run_shows_violations) {
    append_keys(600, 24);
    EXPECT_GT(run_and_count_violations("none", 600), 0u);
}

// A worker fed by the test: filtered batches (fewer records than offsets, or none) are acked
// whole; an undecodable record in a filtered batch cannot be placed, so that batch is
// dead-lettered whole (the ventilator sends such a record alone); a range wider than one batch
// can scan is dropped as a bad frame.
TEST_F(processing_test, a_worker_acks_filtered_batches_and_places_undecodable_records) {
    const std::string work = "ipc://" + (dir / "work.sock"), acks = "ipc://" + (dir / "acks.sock");
    zmq::context_t ctx(1);
    zmq::socket_t to_worker(ctx, zmq::socket_type::push);
    zmq::socket_t from_worker(ctx, zmq::socket_type::pull);
    to_worker.set(zmq::sockopt::linger, 0);
    from_worker.set(zmq::sockopt::linger, 0);
    to_worker.bind(work);
    from_worker.bind(acks);
    auto worker = launch(pipeline_spec{"p1", log_dir, state, work, acks, "", "sqlite:" + db}.worker(1), dir / "worker.log");
    auto encoded = [](std::uint64_t o) {
        record r;
        r.offset = o;
        r.collection = "things";
        r.key = "k" + std::to_string(o);
        r.value = "{}";
        return codec::encode_record(r);
    };
    auto send_batch = [&](wire::range offsets, const std::vector<std::string>& records) {
        codec::batch_body_builder builder;
        for (const auto& r : records) builder.add(r);
        wire::batch b;
        b.pipeline = "p1";
        b.batch_id = offsets.first;
        b.offsets = offsets;
        b.attempt = 1;
        b.count = static_cast<std::uint32_t>(records.size());
        ASSERT_TRUE(zmqx::send(to_worker, wire::encode_header(b), builder.finish(), seconds(5)));
    };
    const std::string junk = "\xc1";
    send_batch({60, 60 + 200'000}, {encoded(60)});            // Wider than a batch can scan: dropped.
    send_batch({20, 29}, {encoded(22), encoded(27)});         // Filtered.
    send_batch({30, 39}, {});                                 // All filtered.
    send_batch({40, 45}, {encoded(40), junk, encoded(44)});   // Undecodable in a filtered batch: offset unknown.
    send_batch({50, 50}, {junk});                             // Alone, as the ventilator sends it: offset known.

    std::map<std::uint64_t, wire::ack> acks_seen;
    ASSERT_TRUE(eventually([&] {
        auto got = zmqx::receive(from_worker, milliseconds(10));
        if (got.ok() && got->has_value()) {
            auto msg = wire::decode((*got)->header_view(), (*got)->body_view());
            if (msg.ok())
                if (auto* a = std::get_if<wire::ack>(&*msg)) acks_seen[a->offsets.first] = *a;
        }
        return acks_seen.size() >= 4;
    }, seconds(20)));
    ASSERT_EQ(acks_seen.size(), 4u);
    EXPECT_EQ(acks_seen[20].offsets, (wire::range{20, 29}));
    EXPECT_TRUE(acks_seen[20].failures.empty());
    EXPECT_EQ(acks_seen[30].offsets, (wire::range{30, 39}));
    EXPECT_TRUE(acks_seen[30].failures.empty());
    EXPECT_EQ(acks_seen[40].failures.size(), 6u);
    ASSERT_EQ(acks_seen[50].failures.size(), 1u);
    EXPECT_EQ(acks_seen[50].failures[0].offset, 50u);
    EXPECT_EQ(query(db, "SELECT key FROM things ORDER BY \"offset\""),
              (std::vector<std::vector<std::string>>{{"k22"}, {"k27"}}));
    worker.signal(SIGTERM);
    EXPECT_EQ(worker.wait_for(seconds(10)), 0);
    EXPECT_NE(read_file(dir / "worker.log").find("does not hold 1 records"), std::string::npos)
        << read_file(dir / "worker.log");
}

}  // namespace
}  // namespace syncline::testing
