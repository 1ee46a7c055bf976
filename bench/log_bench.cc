// log_bench: change log throughput. Appends N records (~100-byte JSON values over K keys) in
// batches, durably and unsynced, tails them back raw and decoded through a secondary reader, and
// runs a bare RocksDB WriteBatch loop over the same records as the reference ceiling.
// Prints a markdown table (docs/benchmarks.md). Usage:
//   log_bench [--records N] [--keys K] [--batch B] [--dir DIR]
// Links RocksDB itself only for the reference loop; everything else goes through syncline::store.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "common/codec.h"
#include "store/change_log.h"

namespace {

using namespace syncline;
using clock_type = std::chrono::steady_clock;

struct config {
    std::size_t records = 1'000'000;
    std::size_t keys = 100'000;
    std::size_t batch = 1000;
    std::string dir;
};

struct row {
    std::string name;
    std::size_t records = 0;
    double seconds = 0;
    std::uint64_t bytes = 0;
    double cpu_seconds = 0;  // The benchmark thread's CPU time: steadier than wall time on a busy host.
};

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "log_bench: %s\n", what.c_str());
    std::exit(1);
}

std::vector<record> make_records(const config& c) {
    static const char* collections[] = {"accounts", "orders", "events"};
    std::mt19937_64 rng(42);
    std::vector<record> out(c.records);
    char buf[256];
    for (std::size_t i = 0; i < c.records; ++i) {
        record& r = out[i];
        std::uint64_t k = rng() % c.keys;
        r.collection = collections[k % 3];
        std::snprintf(buf, sizeof buf, "key-%06llu", static_cast<unsigned long long>(k));
        r.key = buf;
        // ~100 bytes of JSON, like a small row; "n" pads it to exactly 100.
        int len = std::snprintf(buf, sizeof buf, "{\"id\":%llu,\"name\":\"user-%06llu\",\"balance\":%llu.%02llu,\"active\":%s,\"n\":\"",
                                static_cast<unsigned long long>(k), static_cast<unsigned long long>(k),
                                static_cast<unsigned long long>(rng() % 100000),
                                static_cast<unsigned long long>(rng() % 100), (rng() & 1) ? "true" : "false");
        r.value.assign(buf, static_cast<std::size_t>(len));
        r.value.append(r.value.size() < 98 ? 98 - r.value.size() : 0, 'x');
        r.value += "\"}";
    }
    return out;
}

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

row bench_append(const config& c, std::vector<record>& records, const std::string& path, bool sync) {
    auto opened = store::change_log::open_writer({.path = path, .sync = sync});
    if (!opened.ok()) die(opened.get_status().to_string());
    auto& log = **opened;
    std::uint64_t bytes = 0;
    for (const auto& r : records) bytes += r.value.size() + r.key.size() + r.collection.size();
    auto t0 = clock_type::now();
    double c0 = thread_cpu_seconds();
    for (std::size_t i = 0; i < records.size(); i += c.batch) {
        std::span<record> batch(records.data() + i, std::min(c.batch, records.size() - i));
        auto appended = log.append(batch);
        if (!appended.ok()) die(appended.get_status().to_string());
    }
    double s = seconds_since(t0);
    return {std::string("append, ") + (sync ? "durable (WAL fsync per batch)" : "sync off"), records.size(), s, bytes,
            thread_cpu_seconds() - c0};
}

row bench_tail(const config& c, const std::string& path, bool decode) {
    auto opened = store::change_log::open_reader(path);  // A secondary, as the ventilator tails.
    if (!opened.ok()) die(opened.get_status().to_string());
    auto& log = **opened;
    if (auto s = log.catch_up(); !s.ok()) die(s.to_string());
    std::uint64_t next = 1, bytes = 0, checksum = 0;
    auto t0 = clock_type::now();
    double c0 = thread_cpu_seconds();
    while (next <= log.last_offset()) {
        // Batches the way the ventilator reads them: up to `batch` records or 1 MiB.
        auto n = log.scan(next, c.batch, 1u << 20, [&](std::uint64_t offset, std::string_view b) {
            bytes += b.size();
            if (decode) {
                auto rv = codec::decode_record(b);
                if (!rv.ok()) die(rv.get_status().to_string());
                checksum += rv->value.size() + rv->key.size();
            }
            next = offset + 1;
            return true;
        });
        if (!n.ok()) die(n.get_status().to_string());
        if (*n == 0) break;
    }
    double s = seconds_since(t0);
    if (next != log.last_offset() + 1) die("tail read stopped early");
    if (decode && checksum == 0) die("nothing decoded");
    return {decode ? "tail read + codec::decode_record" : "tail read, raw bytes", log.last_offset(), s, bytes,
            thread_cpu_seconds() - c0};
}

row bench_bare(const config& c, const std::vector<record>& records, const std::string& path) {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.write_buffer_size = 64u << 20;
    o.max_background_jobs = 2;
    o.compression = rocksdb::kNoCompression;
    rocksdb::DB* db = nullptr;
    if (auto s = rocksdb::DB::Open(o, path, &db); !s.ok()) die(s.ToString());
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::WriteBatch batch;
    std::string value;
    std::uint64_t bytes = 0;
    auto t0 = clock_type::now();
    double c0 = thread_cpu_seconds();
    for (std::size_t i = 0; i < records.size(); i += c.batch) {
        batch.Clear();
        std::size_t end = std::min(records.size(), i + c.batch);
        for (std::size_t j = i; j < end; ++j) {
            char key[8];
            std::uint64_t off = j + 1;
            for (int b = 7; b >= 0; --b, off >>= 8) key[b] = static_cast<char>(off & 0xff);
            value.clear();
            codec::encode_record_to(records[j], value);
            bytes += records[j].value.size() + records[j].key.size() + records[j].collection.size();
            if (!batch.Put(rocksdb::Slice(key, 8), value).ok()) die("put");
        }
        if (auto s = db->Write(wo, &batch); !s.ok()) die(s.ToString());
    }
    double s = seconds_since(t0);
    double cpu = thread_cpu_seconds() - c0;
    delete db;
    return {"reference: bare RocksDB WriteBatch loop, sync on", records.size(), s, bytes, cpu};
}

}  // namespace

int main(int argc, char** argv) {
    config c;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--records") c.records = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--keys") c.keys = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--batch") c.batch = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--dir") c.dir = argv[i + 1];
        else die("unknown option " + a);
    }
    if (c.records == 0 || c.keys == 0 || c.batch == 0) die("--records, --keys and --batch must be positive");
    bool own_dir = c.dir.empty();
    if (own_dir) {
        std::string templ = (std::filesystem::temp_directory_path() / "syncline-log-bench-XXXXXX").string();
        if (::mkdtemp(templ.data()) == nullptr) die("mkdtemp failed");
        c.dir = templ;
    }
    auto records = make_records(c);
    std::uint64_t encoded = 0;
    {
        std::string tmp;
        for (std::size_t i = 0; i < std::min<std::size_t>(records.size(), 10000); ++i) {
            tmp.clear();
            codec::encode_record_to(records[i], tmp);
            encoded += tmp.size();
        }
        encoded /= std::min<std::size_t>(records.size(), 10000);
    }
    std::fprintf(stderr, "log_bench: %zu records, %zu keys, batches of %zu, ~%llu encoded bytes/record, dir %s\n",
                 c.records, c.keys, c.batch, static_cast<unsigned long long>(encoded), c.dir.c_str());

    std::vector<row> rows;
    rows.push_back(bench_bare(c, records, c.dir + "/bare"));
    rows.push_back(bench_append(c, records, c.dir + "/durable", true));
    rows.push_back(bench_append(c, records, c.dir + "/nosync", false));
    rows.push_back(bench_tail(c, c.dir + "/durable", false));
    rows.push_back(bench_tail(c, c.dir + "/durable", true));

    std::printf("| case | records | seconds | records/s | MB/s (payload) | CPU ns/record (bench thread) |\n"
                "|---|---:|---:|---:|---:|---:|\n");
    for (const auto& r : rows)
        std::printf("| %s | %zu | %.3f | %.0f | %.1f | %.0f |\n", r.name.c_str(), r.records, r.seconds,
                    r.records / r.seconds, static_cast<double>(r.bytes) / r.seconds / 1e6,
                    r.cpu_seconds * 1e9 / static_cast<double>(r.records));
    if (own_dir) std::filesystem::remove_all(c.dir);
    return 0;
}
