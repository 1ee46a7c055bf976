#include "store/change_log.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "common/codec.h"
#include "store/tests/test_util.h"

namespace syncline::store {
namespace {

using testing::temp_dir;

record make(std::string collection, std::string key, std::string value, op o = op::upsert) {
    record r;
    r.collection = std::move(collection);
    r.key = std::move(key);
    r.value = std::move(value);
    r.operation = o;
    return r;
}

std::vector<record> make_batch(std::size_t n, std::size_t tag = 0) {
    std::vector<record> out;
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(make(i % 2 ? "orders" : "accounts", "k" + std::to_string(i),
                           "{\"tag\":" + std::to_string(tag) + ",\"i\":" + std::to_string(i) + "}"));
    return out;
}

// Every stored (offset, bytes) pair from `from` on.
std::vector<std::pair<std::uint64_t, std::string>> scan_all(const change_log& log, std::uint64_t from = 0) {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    auto n = log.scan(from, SIZE_MAX, SIZE_MAX, [&](std::uint64_t o, std::string_view b) {
        out.emplace_back(o, std::string(b));
        return true;
    });
    EXPECT_TRUE(n.ok()) << n.get_status().to_string();
    return out;
}

class change_log_test : public ::testing::Test {
protected:
    void SetUp() override { reopen(); }

    void reopen() {
        _log.reset();  // Release the LOCK before opening again.
        auto opened = change_log::open_writer({.path = path()});
        ASSERT_RESULT_OK(opened);
        _log = std::move(opened).value();
    }
    std::string path() const { return _dir.file("log"); }

    offset_range append(std::vector<record>& batch) {
        auto r = _log->append(batch);
        EXPECT_TRUE(r.ok()) << r.get_status().to_string();
        return r.ok() ? *r : offset_range{};
    }

    temp_dir _dir;
    std::unique_ptr<change_log> _log;
};

TEST_F(change_log_test, empty_log) {
    EXPECT_EQ(_log->first_offset(), 0u);
    EXPECT_EQ(_log->last_offset(), 0u);
    EXPECT_TRUE(scan_all(*_log).empty());
    auto t = _log->offset_at_time(0);
    ASSERT_RESULT_OK(t);
    EXPECT_FALSE(t->has_value());
    auto st = _log->stats();
    ASSERT_RESULT_OK(st);
    EXPECT_EQ(st->count, 0u);
    EXPECT_GT(st->disk_bytes, 0u);
}

TEST_F(change_log_test, append_scan_round_trip) {
    std::vector<record> batch;
    batch.push_back(make("accounts", "a1", R"({"balance":10})"));
    batch.push_back(make("orders", std::string("k\0ey", 4), ""));
    batch.back().operation = op::del;
    batch.push_back(make("accounts", "a2", R"({"balance":20})"));
    batch.back().headers = {{"source", "billing"}, {"trace", "abc"}};

    auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    auto range = append(batch);
    EXPECT_EQ(range.first, 1u);
    EXPECT_EQ(range.last, 3u);
    EXPECT_EQ(_log->first_offset(), 1u);
    EXPECT_EQ(_log->last_offset(), 3u);
    for (std::size_t i = 0; i < batch.size(); ++i) {
        EXPECT_EQ(batch[i].offset, i + 1);  // Assigned into the caller's records.
        EXPECT_GE(batch[i].ts_ms, before);
    }

    auto stored = scan_all(*_log);
    ASSERT_EQ(stored.size(), 3u);
    for (std::size_t i = 0; i < stored.size(); ++i) {
        EXPECT_EQ(stored[i].first, i + 1);
        EXPECT_EQ(stored[i].second, codec::encode_record(batch[i]));  // Stored bytes are the codec form.
        auto rv = codec::decode_record(stored[i].second);
        ASSERT_RESULT_OK(rv);
        EXPECT_EQ(rv->offset, i + 1);
        EXPECT_EQ(rv->ts_ms, batch[i].ts_ms);
        EXPECT_EQ(rv->collection, batch[i].collection);
        EXPECT_EQ(rv->key, batch[i].key);
        EXPECT_EQ(rv->value, batch[i].value);
        EXPECT_EQ(rv->operation, batch[i].operation);
    }
    auto rv = codec::decode_record(stored[2].second);
    ASSERT_RESULT_OK(rv);
    ASSERT_EQ(rv->headers.size(), 2u);
    EXPECT_EQ(rv->headers[0].first, "source");
    EXPECT_EQ(rv->headers[1].second, "abc");
}

TEST_F(change_log_test, scan_limits) {
    auto batch = make_batch(10);
    append(batch);
    std::vector<std::uint64_t> seen;
    auto visit = [&](std::uint64_t o, std::string_view) {
        seen.push_back(o);
        return true;
    };
    auto n = _log->scan(4, 3, SIZE_MAX, visit);
    ASSERT_RESULT_OK(n);
    EXPECT_EQ(*n, 3u);
    EXPECT_EQ(seen, (std::vector<std::uint64_t>{4, 5, 6}));

    seen.clear();
    n = _log->scan(1, SIZE_MAX, 1, visit);  // max_bytes below one record: still one record.
    ASSERT_RESULT_OK(n);
    EXPECT_EQ(seen, (std::vector<std::uint64_t>{1}));

    seen.clear();
    n = _log->scan(9, SIZE_MAX, SIZE_MAX, visit);
    ASSERT_RESULT_OK(n);
    EXPECT_EQ(seen, (std::vector<std::uint64_t>{9, 10}));

    n = _log->scan(11, SIZE_MAX, SIZE_MAX, visit);
    ASSERT_RESULT_OK(n);
    EXPECT_EQ(*n, 0u);

    seen.clear();
    n = _log->scan(1, SIZE_MAX, SIZE_MAX, [&](std::uint64_t o, std::string_view) {
        seen.push_back(o);
        return o < 2;  // Stop early.
    });
    ASSERT_RESULT_OK(n);
    EXPECT_EQ(*n, 2u);
    n = _log->scan(1, 0, SIZE_MAX, visit);
    ASSERT_RESULT_OK(n);
    EXPECT_EQ(*n, 0u);
}

TEST_F(change_log_test, offsets_dense_across_reopen) {
    for (int round = 0; round < 3; ++round) {
        auto batch = make_batch(7, round);
        auto range = append(batch);
        EXPECT_EQ(range.first, round * 7u + 1);
        EXPECT_EQ(range.last, round * 7u + 7);
        reopen();
        EXPECT_EQ(_log->last_offset(), round * 7u + 7);
    }
    auto stored = scan_all(*_log);
    ASSERT_EQ(stored.size(), 21u);
    for (std::size_t i = 0; i < stored.size(); ++i) EXPECT_EQ(stored[i].first, i + 1);
}

TEST_F(change_log_test, invalid_append_writes_nothing) {
    auto good = make_batch(3);
    append(good);

    std::vector<record> empty;
    auto r = _log->append(empty);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.get_status().code(), errc::invalid_argument);

    auto batch = make_batch(10);
    batch[5].key.clear();  // One bad record anywhere: the whole batch is refused.
    r = _log->append(batch);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.get_status().code(), errc::invalid_argument);
    EXPECT_NE(r.get_status().message().find("record 5"), std::string::npos) << r.get_status().message();
    for (const auto& rec : batch) EXPECT_EQ(rec.offset, 0u);

    batch = make_batch(4);
    batch[0].collection.clear();
    r = _log->append(batch);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.get_status().code(), errc::invalid_argument);

    EXPECT_EQ(_log->last_offset(), 3u);
    reopen();
    EXPECT_EQ(_log->last_offset(), 3u);
    EXPECT_EQ(scan_all(*_log).size(), 3u);
    auto next = make_batch(1);
    EXPECT_EQ(append(next).first, 4u);  // No gap left by the refused batches.
}

TEST_F(change_log_test, unknown_format_version_is_refused) {
    _log.reset();
    {
        // Rewrite the version the way a future build would.
        std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
        for (const char* n : {"default", "log", "meta", "time"}) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
        std::vector<rocksdb::ColumnFamilyHandle*> handles;
        rocksdb::DB* db = nullptr;
        ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path(), cfs, &handles, &db).ok());
        const char v[4] = {0, 0, 0, 99};
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[2], "format_version", rocksdb::Slice(v, 4)).ok());
        for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
        delete db;
    }
    auto w = change_log::open_writer({.path = path()});
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.get_status().code(), errc::invalid_argument);
    const std::string msg = w.get_status().message();
    EXPECT_NE(msg.find("format version 99"), std::string::npos) << msg;
    EXPECT_NE(msg.find("format version 1"), std::string::npos) << msg;
    auto r = change_log::open_reader(path());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.get_status().code(), errc::invalid_argument);
}

TEST_F(change_log_test, foreign_directories_are_not_logs) {
    const std::string rocks = _dir.file("other-rocksdb");
    {
        rocksdb::Options o;
        o.create_if_missing = true;
        rocksdb::DB* db = nullptr;
        ASSERT_TRUE(rocksdb::DB::Open(o, rocks, &db).ok());
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "some", "data").ok());
        delete db;
    }
    const std::string plain = _dir.file("plain");
    std::filesystem::create_directories(plain);
    std::ofstream(plain + "/notes.txt") << "hello";
    const std::string file = _dir.file("file.txt");
    std::ofstream(file) << "hello";

    for (const std::string& p : {rocks, plain, file}) {
        auto w = change_log::open_writer({.path = p});
        ASSERT_FALSE(w.ok()) << p;
        EXPECT_EQ(w.get_status().code(), errc::invalid_argument);
        EXPECT_EQ(w.get_status().message(), "not a syncline log: " + p);
        auto r = change_log::open_reader(p);
        ASSERT_FALSE(r.ok()) << p;
        EXPECT_EQ(r.get_status().message(), "not a syncline log: " + p);
    }
    // The foreign database was not modified (no column families added).
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), rocks, &names).ok());
    EXPECT_EQ(names, std::vector<std::string>{"default"});

    // An empty existing directory is a fine place for a new log.
    const std::string empty_dir = _dir.file("empty");
    std::filesystem::create_directories(empty_dir);
    auto w = change_log::open_writer({.path = empty_dir});
    ASSERT_RESULT_OK(w);
}

TEST_F(change_log_test, missing_directory) {
    auto r = change_log::open_reader(_dir.file("nope"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.get_status().code(), errc::not_found);
    EXPECT_EQ(r.get_status().message(), "change log not found: " + _dir.file("nope"));
    auto w = change_log::open_writer({.path = _dir.file("nope"), .create_if_missing = false});
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.get_status().code(), errc::not_found);
}

// RocksDB's own words ("IO error: While mkdir if missing: ...") never reach users: the store
// says what it could not do, with the path, the system's reason and what to do about it.
TEST_F(change_log_test, unusable_paths_are_reported_in_our_words_with_the_fix) {
    const std::string file = _dir.file("plain-file");
    { std::ofstream(file) << "x"; }
    auto under_a_file = change_log::open_writer({.path = file + "/log"});
    ASSERT_FALSE(under_a_file.ok());
    const std::string m1 = under_a_file.get_status().message();
    EXPECT_EQ(m1.find("While"), std::string::npos) << m1;
    EXPECT_EQ(m1.find("IO error"), std::string::npos) << m1;
    EXPECT_NE(m1.find("cannot create the directory " + file + "/log: Not a directory"), std::string::npos) << m1;
    EXPECT_NE(m1.find("is a file"), std::string::npos) << m1;

    auto no_parent = change_log::open_writer({.path = _dir.file("missing/parent/log")});
    ASSERT_FALSE(no_parent.ok());
    const std::string m2 = no_parent.get_status().message();
    EXPECT_EQ(m2.find("While"), std::string::npos) << m2;
    EXPECT_NE(m2.find("cannot create the directory " + _dir.file("missing/parent/log") + ": No such file or directory"),
              std::string::npos) << m2;
    EXPECT_NE(m2.find("create its parent directory first"), std::string::npos) << m2;
}

TEST_F(change_log_test, second_writer_is_busy) {
    auto second = change_log::open_writer({.path = path()});
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.get_status().code(), errc::busy);
    EXPECT_EQ(second.get_status().message(), "change log " + path() + " is locked by another writer");
    // Readers do not take the lock.
    auto reader = change_log::open_reader(path());
    ASSERT_RESULT_OK(reader);
}

TEST_F(change_log_test, reader_catches_up_in_process) {
    auto batch = make_batch(5);
    append(batch);
    auto opened = change_log::open_reader(path());
    ASSERT_RESULT_OK(opened);
    auto& reader = **opened;
    EXPECT_EQ(reader.last_offset(), 5u);
    auto more = make_batch(5, 1);
    append(more);
    EXPECT_EQ(reader.last_offset(), 5u);
    EXPECT_EQ(scan_all(reader).size(), 5u);  // Bounded by what catch_up() last saw.
    ASSERT_OK(reader.catch_up());
    EXPECT_EQ(reader.last_offset(), 10u);
    auto stored = scan_all(reader, 6);
    ASSERT_EQ(stored.size(), 5u);
    EXPECT_EQ(stored.front().first, 6u);
    EXPECT_EQ(stored.back().second, codec::encode_record(more.back()));
    std::vector<record> one = make_batch(1);
    auto refused = reader.append(one);
    EXPECT_FALSE(refused.ok());

    // A trim by the writer (DeleteRange + compaction that deletes files) reaches the reader.
    auto trimmed = _log->trim_below(4);
    ASSERT_RESULT_OK(trimmed);
    ASSERT_OK(reader.catch_up());
    EXPECT_EQ(reader.first_offset(), 4u);
    stored = scan_all(reader);
    ASSERT_EQ(stored.size(), 7u);
    EXPECT_EQ(stored.front().first, 4u);
}

TEST_F(change_log_test, offset_at_time) {
    auto a = make_batch(5);
    append(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto b = make_batch(5, 1);
    append(b);
    ASSERT_LT(a[0].ts_ms, b[0].ts_ms);

    auto at = [&](std::int64_t ts) {
        auto r = _log->offset_at_time(ts);
        EXPECT_TRUE(r.ok()) << r.get_status().to_string();
        return r.ok() ? *r : std::nullopt;
    };
    EXPECT_EQ(at(0), 1u);
    EXPECT_EQ(at(a[0].ts_ms), 1u);
    EXPECT_EQ(at(a[0].ts_ms + 1), 6u);
    EXPECT_EQ(at(b[0].ts_ms), 6u);
    EXPECT_EQ(at(b[0].ts_ms + 1), std::nullopt);

    reopen();  // The time index is durable, and the next append's ts does not go backwards.
    EXPECT_EQ(at(b[0].ts_ms), 6u);
    auto c = make_batch(1);
    append(c);
    EXPECT_GE(c[0].ts_ms, b[0].ts_ms);
}

TEST_F(change_log_test, append_time_of_an_offset) {
    auto a = make_batch(3);
    append(a);
    auto t = _log->append_time(2);
    ASSERT_TRUE(t.ok()) << t.get_status().to_string();
    EXPECT_EQ(*t, a[1].ts_ms);
    auto missing = _log->append_time(4);
    ASSERT_TRUE(missing.ok());
    EXPECT_EQ(*missing, std::nullopt);
}

TEST_F(change_log_test, trim_below) {
    std::vector<std::vector<record>> batches;
    for (int i = 0; i < 3; ++i) {
        batches.push_back(make_batch(5, i));
        append(batches.back());
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
    auto trimmed = _log->trim_below(8);
    ASSERT_RESULT_OK(trimmed);
    EXPECT_EQ(*trimmed, 7u);
    EXPECT_EQ(_log->first_offset(), 8u);
    EXPECT_EQ(_log->last_offset(), 15u);
    auto stored = scan_all(*_log, 1);
    ASSERT_EQ(stored.size(), 8u);
    EXPECT_EQ(stored.front().first, 8u);

    // The straddling append (6..10) keeps its time entry, clamped to what is left.
    auto t = _log->offset_at_time(0);
    ASSERT_RESULT_OK(t);
    EXPECT_EQ(*t, 8u);
    t = _log->offset_at_time(batches[2][0].ts_ms);
    ASSERT_RESULT_OK(t);
    EXPECT_EQ(*t, 11u);

    auto again = _log->trim_below(3);  // Already gone.
    ASSERT_RESULT_OK(again);
    EXPECT_EQ(*again, 0u);

    reopen();
    EXPECT_EQ(_log->first_offset(), 8u);
    auto st = _log->stats();
    ASSERT_RESULT_OK(st);
    EXPECT_EQ(st->count, 8u);

    auto readers_view = change_log::open_reader(path());
    ASSERT_RESULT_OK(readers_view);
    EXPECT_EQ((*readers_view)->first_offset(), 8u);

    // Trimming past the end stops at the last offset; offsets continue after it.
    auto all = _log->trim_below(1000);
    ASSERT_RESULT_OK(all);
    EXPECT_EQ(*all, 8u);
    EXPECT_EQ(_log->first_offset(), 0u);
    EXPECT_EQ(_log->last_offset(), 15u);
    EXPECT_TRUE(scan_all(*_log).empty());
    t = _log->offset_at_time(0);
    ASSERT_RESULT_OK(t);
    EXPECT_FALSE(t->has_value());
    auto next = make_batch(2);
    EXPECT_EQ(append(next).first, 16u);
    EXPECT_EQ(_log->first_offset(), 16u);
    t = _log->offset_at_time(0);
    ASSERT_RESULT_OK(t);
    EXPECT_EQ(*t, 16u);
}

TEST_F(change_log_test, stats_per_collection) {
    auto batch = make_batch(9);  // 5 accounts, 4 orders.
    batch.push_back(make("events", "e", "{}"));
    append(batch);
    auto st = _log->stats();
    ASSERT_RESULT_OK(st);
    EXPECT_EQ(st->first_offset, 1u);
    EXPECT_EQ(st->last_offset, 10u);
    EXPECT_EQ(st->count, 10u);
    EXPECT_GT(st->disk_bytes, 0u);
    EXPECT_EQ(st->per_collection, (std::map<std::string, std::uint64_t>{{"accounts", 5}, {"events", 1}, {"orders", 4}}));
}

// Writers keep their own state (the gateway's producer table, the capture's source position) in
// the same atomic write as the records it describes.
TEST_F(change_log_test, meta_entries_ride_with_an_append) {
    auto batch = make_batch(3);
    std::vector<meta_entry> meta{{"producer/a", "seq=7"}, {"capture/slot", "0/16B3748"}};
    auto r = _log->append(batch, meta);
    ASSERT_RESULT_OK(r);
    EXPECT_EQ(r->last, 3u);
    reopen();
    auto a = _log->get_meta("producer/a");
    ASSERT_RESULT_OK(a);
    ASSERT_TRUE(a->has_value());
    EXPECT_EQ(**a, "seq=7");
    auto all = _log->scan_meta("producer/");
    ASSERT_RESULT_OK(all);
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ((*all)[0].key, "producer/a");

    // Meta alone (no records), and a delete by empty value.
    std::vector<record> none;
    std::vector<meta_entry> del{{"producer/a", ""}};
    auto d = _log->append(none, del);
    ASSERT_RESULT_OK(d);
    EXPECT_EQ(d->first, 0u);
    EXPECT_FALSE(_log->get_meta("producer/a")->has_value());
    EXPECT_EQ(_log->last_offset(), 3u);

    // A key without '/' could collide with the log's own meta: refused, nothing written.
    auto more = make_batch(2);
    std::vector<meta_entry> bad{{"last_offset", "x"}};
    auto b = _log->append(more, bad);
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.get_status().code(), errc::invalid_argument);
    EXPECT_EQ(_log->last_offset(), 3u);
}

// A staged append is invisible (to the writer's scan and last offset, and to a reader) until the
// next append makes it visible with its own records and meta, at once; one that never was made
// visible is gone when a writer opens the log again, and the offsets continue densely.
TEST_F(change_log_test, staged_records_become_visible_only_with_the_next_append) {
    auto head = make_batch(2);
    append(head);
    auto part1 = make_batch(3, 1), part2 = make_batch(2, 2);
    auto s1 = _log->stage(part1);
    ASSERT_RESULT_OK(s1);
    EXPECT_EQ(s1->first, 3u);
    auto s2 = _log->stage(part2);
    ASSERT_RESULT_OK(s2);
    EXPECT_EQ(s2->first, 6u);
    EXPECT_EQ(_log->staged_count(), 5u);
    EXPECT_EQ(_log->last_offset(), 2u);
    EXPECT_EQ(scan_all(*_log).size(), 2u);
    auto reader = change_log::open_reader(path());
    ASSERT_RESULT_OK(reader);
    ASSERT_TRUE((*reader)->catch_up().ok());
    EXPECT_EQ((*reader)->last_offset(), 2u);
    EXPECT_EQ(scan_all(**reader).size(), 2u);
    std::vector<std::uint64_t> staged;
    ASSERT_RESULT_OK(_log->scan_staged([&](std::uint64_t o, std::string_view) { staged.push_back(o); return true; }));
    EXPECT_EQ(staged, (std::vector<std::uint64_t>{3, 4, 5, 6, 7}));

    auto tail = make_batch(1, 3);
    std::vector<meta_entry> meta{{"capture/s/lsn", "42"}};
    auto c = _log->append(tail, meta);
    ASSERT_RESULT_OK(c);
    EXPECT_EQ(c->first, 3u);
    EXPECT_EQ(c->last, 8u);
    EXPECT_EQ(_log->staged_count(), 0u);
    ASSERT_TRUE((*reader)->catch_up().ok());
    EXPECT_EQ((*reader)->last_offset(), 8u);
    EXPECT_EQ(scan_all(**reader).size(), 8u);
    EXPECT_EQ(**(*reader)->get_meta("capture/s/lsn"), "42");

    // Staged, never made visible (the writer "died"): gone after reopening; offsets go on at 9.
    auto lost = make_batch(4, 4);
    ASSERT_RESULT_OK(_log->stage(lost));
    reopen();
    EXPECT_EQ(_log->last_offset(), 8u);
    EXPECT_EQ(_log->staged_count(), 0u);
    auto next = make_batch(1, 5);
    EXPECT_EQ(append(next).first, 9u);
    EXPECT_EQ(scan_all(*_log).size(), 9u);
    std::size_t beyond = 0;
    ASSERT_RESULT_OK(_log->scan_staged([&](std::uint64_t, std::string_view) { ++beyond; return true; }));
    EXPECT_EQ(beyond, 0u);
    // Staged records alone are made visible by an append with only meta entries.
    auto only = make_batch(2, 6);
    ASSERT_RESULT_OK(_log->stage(only));
    std::vector<record> none;
    auto m = _log->append(none, meta);
    ASSERT_RESULT_OK(m);
    EXPECT_EQ(m->first, 10u);
    EXPECT_EQ(m->last, 11u);
}

// discard_staged() gives a staged append up without reopening: nothing becomes visible, and the
// next stage and append start right after the last offset (what `syncline append` does when a
// later line of an atomic input is bad).
TEST_F(change_log_test, discarded_staged_records_never_become_visible) {
    auto head = make_batch(2);
    append(head);
    EXPECT_TRUE(_log->discard_staged().ok());  // Nothing staged: a no-op.
    auto part = make_batch(3, 1);
    ASSERT_RESULT_OK(_log->stage(part));
    ASSERT_TRUE(_log->discard_staged().ok());
    EXPECT_EQ(_log->staged_count(), 0u);
    std::size_t staged = 0;
    ASSERT_RESULT_OK(_log->scan_staged([&](std::uint64_t, std::string_view) { ++staged; return true; }));
    EXPECT_EQ(staged, 0u);
    auto again = make_batch(1, 2);
    auto s = _log->stage(again);
    ASSERT_RESULT_OK(s);
    EXPECT_EQ(s->first, 3u);
    std::vector<record> none;
    auto c = _log->append(none);
    ASSERT_RESULT_OK(c);
    EXPECT_EQ(c->first, 3u);
    EXPECT_EQ(c->last, 3u);
    EXPECT_EQ(scan_all(*_log).size(), 3u);
    reopen();
    EXPECT_EQ(_log->last_offset(), 3u);
    EXPECT_EQ(scan_all(*_log).size(), 3u);
}

}  // namespace
}  // namespace syncline::store
