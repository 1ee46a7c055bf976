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

#include "common/codec.h"
#include "store/change_log.h"
#include "tests/support/harness.h"
#include "tests/support/http_receiver.h"

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

TEST_F(processing_test, bad_filter_keys_are_config_errors_naming_the_key) {
    std::ofstream(ini) << "log = " << log_dir << "\nstate = " << state << "\npipeline = p1\ncollections = a,,b\n"
                       << "ops = insert\nordering = fifo\n";
    ASSERT_EQ(run_to_exit("syncline", {"config", "check", ini}, dir / "check.log", seconds(30)), 2);
    const std::string out = read_file(dir / "check.log");
    EXPECT_NE(out.find("key 'collections'"), std::string::npos) << out;
    EXPECT_NE(out.find("glob 2 '' is empty"), std::string::npos) << out;
    EXPECT_NE(out.find("'insert' is not an operation"), std::string::npos) << out;
    EXPECT_NE(out.find("'fifo' is not one of none, key"), std::string::npos) << out;
    EXPECT_EQ(run_to_exit("syncline-ventilator", {"--log", log_dir, "--ops", "upsert,merge"}, dir / "vent.log",
                          seconds(30)),
              2);
    EXPECT_NE(read_file(dir / "vent.log").find("'merge' is not an operation"), std::string::npos);
}

}  // namespace
}  // namespace syncline::testing
