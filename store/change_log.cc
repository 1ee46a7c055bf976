#include "store/change_log.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <vector>

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "common/codec.h"
#include "store/internal/rocks_util.h"

namespace syncline::store {
namespace {

namespace fs = std::filesystem;
using internal::be64;
using internal::from_rocks;
using internal::get_be64;
using internal::put_be64;

constexpr const char* cf_log = "log";
constexpr const char* cf_meta = "meta";
constexpr const char* cf_time = "time";

// `meta` keys. The last offset and the trim point are written in the same WriteBatch as the
// records / the DeleteRange they describe, so they can never disagree with `log` after a crash.
constexpr std::string_view meta_format_version = "format_version";  // 4-byte big-endian.
constexpr std::string_view meta_last_offset = "last_offset";        // 8-byte big-endian.
constexpr std::string_view meta_trimmed_below = "trimmed_below";    // 8-byte big-endian.

std::string not_a_log(const std::string& path) { return "not a syncline log: " + path; }

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

rocksdb::DBOptions db_options(bool writer) {
    rocksdb::DBOptions o = internal::base_db_options(writer);
    // Two cores: one background flush and one compaction keep up with ~1M records/s without
    // starving the appending thread.
    o.max_background_jobs = 2;
    // Smooth SST writes instead of one large sync at the end of each flush.
    o.bytes_per_sync = 1 << 20;
    // `meta` and `time` get a few bytes per append, so their memtables would pin old WAL files
    // for a long time; this bounds the WAL by forcing their (tiny) flushes.
    o.max_total_wal_size = 64u << 20;
    o.keep_log_file_num = 4;
    o.max_log_file_size = 16u << 20;
    // Durability and ordering: every append is one WAL write that is synced before append()
    // returns; unordered_write / manual_wal_flush would break either and stay off.
    o.manual_wal_flush = false;
    o.unordered_write = false;
    return o;
}

rocksdb::ColumnFamilyOptions cf_options(const std::string& name) {
    rocksdb::ColumnFamilyOptions o;
    if (name == cf_log) {
        // Keys arrive in order and are read back in order, so flushes are cheap. Memtables stay
        // modest because every tailing reader (the ventilator, a RocksDB secondary) replays the
        // unflushed WAL into memtables of its own: their size is the reader's memory and start-up.
        o.write_buffer_size = 16u << 20;
        o.max_write_buffer_number = 3;
        o.target_file_size_base = 64u << 20;
        o.max_bytes_for_level_base = 256u << 20;
        // Fresh data (what tailing readers touch) stays uncompressed; older levels use LZ4 when
        // the RocksDB build has it (JSON compresses well).
        auto supported = rocksdb::GetSupportedCompressions();
        bool lz4 = std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
        o.compression = rocksdb::kNoCompression;
        if (lz4) {
            o.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression, rocksdb::kLZ4Compression,
                                       rocksdb::kLZ4Compression, rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                                       rocksdb::kLZ4Compression};
        }
        rocksdb::BlockBasedTableOptions t;
        t.block_size = 32 << 10;
        o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    } else {
        o.write_buffer_size = 4u << 20;
    }
    return o;
}

}  // namespace

struct change_log::impl {
    std::string path;
    bool writer = false;
    bool sync = true;
    // Declared before `db` so it is removed only after the secondary instance is closed.
    internal::scratch_dir secondary_dir;
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::ColumnFamilyHandle* log = nullptr;
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    rocksdb::ColumnFamilyHandle* time = nullptr;

    std::uint64_t last = 0;           // Highest offset ever appended (survives trimming).
    std::uint64_t staged = 0;         // Writer: records staged after `last`, not visible yet.
    std::uint64_t trimmed_below = 0;  // Offsets below this were trimmed.
    std::int64_t last_ts = 0;         // Writer: ts of the previous append; never decreases.

    // Reused by every append so the hot path does not allocate once warmed up.
    rocksdb::WriteBatch batch;
    std::string encoded;

    ~impl() {
        for (auto* h : handles) {
            if (db != nullptr) db->DestroyColumnFamilyHandle(h);
        }
        if (db != nullptr) {
            // Close() reports a failed final sync; there is no one left to tell, and appends
            // that returned were already synced.
            db->Close().PermitUncheckedError();
            delete db;
        }
    }

    std::uint64_t first() const {
        if (last == 0) return 0;
        std::uint64_t f = std::max<std::uint64_t>(trimmed_below, 1);
        return f <= last ? f : 0;
    }

    status get_u64(std::string_view key, std::uint64_t& out) {
        std::string v;
        auto s = db->Get(rocksdb::ReadOptions(), meta, rocksdb::Slice(key.data(), key.size()), &v);
        if (s.IsNotFound()) {
            out = 0;
            return {};
        }
        if (!s.ok()) return from_rocks(s, "change log " + path + ": reading " + std::string(key));
        if (v.size() != 8)
            return status{errc::corruption, "change log " + path + ": meta " + std::string(key) + " has " +
                                                std::to_string(v.size()) + " bytes, expected 8"};
        out = get_be64(v.data());
        return {};
    }

    status load_meta() {
        SYNCLINE_RETURN_IF_ERROR(get_u64(meta_last_offset, last));
        return get_u64(meta_trimmed_below, trimmed_below);
    }

    bool cf_empty(rocksdb::ColumnFamilyHandle* cf) {
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
        it->SeekToFirst();
        return !it->Valid();
    }

    status write_format_version() {
        char v[4] = {0, 0, 0, static_cast<char>(log_format_version)};
        static_assert(log_format_version < 256);
        rocksdb::WriteBatch b;
        auto s = b.Put(meta, rocksdb::Slice(meta_format_version.data(), meta_format_version.size()),
                       rocksdb::Slice(v, 4));
        if (s.ok()) s = b.Put(meta, rocksdb::Slice(meta_last_offset.data(), meta_last_offset.size()), be64(0));
        rocksdb::WriteOptions wo;
        wo.sync = true;  // The version must be on disk before any record can be.
        if (s.ok()) s = db->Write(wo, &b);
        return from_rocks(s, "change log " + path + ": writing the format version");
    }

    // Refuses directories that are not syncline logs or are from another format version.
    status check_format(bool fresh) {
        std::string v;
        auto s = db->Get(rocksdb::ReadOptions(), meta,
                         rocksdb::Slice(meta_format_version.data(), meta_format_version.size()), &v);
        if (s.IsNotFound()) {
            // A writer that died between creating the column families and writing the version
            // leaves them all empty: finishing the creation is safe. Anything else is foreign.
            if (writer && (fresh || (cf_empty(log) && cf_empty(meta) && cf_empty(time))))
                return write_format_version();
            return status{errc::invalid_argument, not_a_log(path)};
        }
        if (!s.ok()) return from_rocks(s, "change log " + path + ": reading the format version");
        if (v.size() != 4) return status{errc::invalid_argument, not_a_log(path) + " (malformed format version)"};
        std::uint32_t version = 0;
        for (char c : v) version = (version << 8) | static_cast<unsigned char>(c);
        if (version != log_format_version)
            return status{errc::invalid_argument, "change log " + path + " has format version " +
                                                      std::to_string(version) + "; this build of syncline reads format version " +
                                                      std::to_string(log_format_version)};
        return {};
    }

    status load_last_ts() {
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), time));
        it->SeekToLast();
        if (it->Valid() && it->key().size() >= 8) last_ts = static_cast<std::int64_t>(get_be64(it->key()));
        return from_rocks(it->status(), "change log " + path + ": reading the time index");
    }

    status open(bool as_writer, bool create_if_missing) {
        writer = as_writer;
        std::error_code ec;
        bool exists = fs::exists(path, ec);
        if (!exists && !(writer && create_if_missing))
            return status{errc::not_found, "change log not found: " + path};
        if (exists && !fs::is_directory(path, ec)) return status{errc::invalid_argument, not_a_log(path)};

        // Decide what the directory holds before opening it, so a foreign directory is never
        // modified (a writer would otherwise add our column families to someone's database).
        bool fresh = false;
        std::vector<std::string> names;
        if (!exists || !fs::exists(fs::path(path) / "CURRENT", ec)) {
            bool empty = !exists || fs::is_empty(path, ec);
            if (!(writer && create_if_missing && empty)) return status{errc::invalid_argument, not_a_log(path)};
            fresh = true;
            names = {rocksdb::kDefaultColumnFamilyName, cf_log, cf_meta, cf_time};
        } else {
            auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
            if (!s.ok()) return from_rocks(s, "change log " + path + ": listing column families");
            for (const char* want : {cf_log, cf_meta, cf_time}) {
                if (std::find(names.begin(), names.end(), want) == names.end())
                    return status{errc::invalid_argument, not_a_log(path)};
            }
        }

        std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
        for (const auto& n : names) cfs.emplace_back(n, cf_options(n));
        SYNCLINE_RETURN_IF_ERROR(internal::open_db({.writer = writer,
                                                    .options = db_options(writer),
                                                    .path = path,
                                                    .column_families = cfs,
                                                    .scratch_prefix = "syncline-log-secondary",
                                                    .context = "change log " + path,
                                                    .busy_message = "change log " + path + " is locked by another writer"},
                                                   secondary_dir, db, handles));
        for (auto* h : handles) {
            if (h->GetName() == cf_log) log = h;
            if (h->GetName() == cf_meta) meta = h;
            if (h->GetName() == cf_time) time = h;
        }
        SYNCLINE_CHECK(log != nullptr && meta != nullptr && time != nullptr);
        SYNCLINE_RETURN_IF_ERROR(check_format(fresh));
        SYNCLINE_RETURN_IF_ERROR(load_meta());
        if (writer) {
            SYNCLINE_RETURN_IF_ERROR(load_last_ts());
            SYNCLINE_RETURN_IF_ERROR(drop_unfinished_stage());
        }
        return {};
    }

    // Records beyond the last offset are a staged append that was never made visible (the
    // writer died first): delete them, so the next writer's offsets start clean.
    status drop_unfinished_stage() {
        const std::string from = be64(last + 1);
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), log));
        it->Seek(from);
        if (!it->Valid()) return from_rocks(it->status(), "change log " + path + ": looking for staged records");
        const std::string to = be64(std::numeric_limits<std::uint64_t>::max());
        rocksdb::WriteOptions wo;
        wo.sync = true;
        auto s = db->DeleteRange(wo, log, from, to);
        return from_rocks(s, "change log " + path + ": deleting an unfinished staged append");
    }

    // Starts `batch` with `records` at offsets first.. (each given its offset and `ts`), encoded
    // under their big-endian offset keys: what append() and stage() both write.
    rocksdb::Status put_records(std::span<record> records, std::uint64_t first, std::int64_t ts) {
        batch.Clear();
        char key[8];
        rocksdb::Status s;
        for (std::size_t i = 0; i < records.size() && s.ok(); ++i) {
            record& r = records[i];
            r.offset = first + i;
            r.ts_ms = ts;
            encoded.clear();
            codec::encode_record_to(r, encoded);
            put_be64(key, r.offset);
            s = batch.Put(log, rocksdb::Slice(key, 8), encoded);
        }
        return s;
    }

    // After a failed write: the records get back their unassigned state.
    static void unassign(std::span<record> records) {
        for (record& r : records) {
            r.offset = 0;
            r.ts_ms = 0;
        }
    }
};

change_log::change_log(std::unique_ptr<impl> impl) : _impl(std::move(impl)) {}
change_log::~change_log() = default;

result<std::unique_ptr<change_log>> change_log::open_writer(const change_log_options& opts) {
    if (opts.path.empty()) return status{errc::invalid_argument, "change log path is empty"};
    auto i = std::make_unique<impl>();
    i->path = opts.path;
    i->sync = opts.sync;
    SYNCLINE_RETURN_IF_ERROR(i->open(true, opts.create_if_missing));
    return std::unique_ptr<change_log>(new change_log(std::move(i)));
}

result<std::unique_ptr<change_log>> change_log::open_reader(const std::string& path) {
    if (path.empty()) return status{errc::invalid_argument, "change log path is empty"};
    auto i = std::make_unique<impl>();
    i->path = path;
    SYNCLINE_RETURN_IF_ERROR(i->open(false, false));
    return std::unique_ptr<change_log>(new change_log(std::move(i)));
}

result<offset_range> change_log::append(std::span<record> records) { return append(records, {}); }

namespace {
status check_meta_key(std::string_view key) {
    if (key.find('/') == std::string_view::npos)
        return status{errc::invalid_argument, "meta key '" + std::string(key) + "' has no '/' (e.g. \"producer/<id>\")"};
    return {};
}
}  // namespace

result<std::optional<std::string>> change_log::get_meta(std::string_view key) const {
    const impl& m = *_impl;
    SYNCLINE_RETURN_IF_ERROR(check_meta_key(key));
    std::string v;
    auto s = m.db->Get(rocksdb::ReadOptions(), m.meta, rocksdb::Slice(key.data(), key.size()), &v);
    if (s.IsNotFound()) return std::optional<std::string>{};
    if (!s.ok()) return from_rocks(s, "change log " + m.path + ": reading meta " + std::string(key));
    return std::optional<std::string>{std::move(v)};
}

result<std::vector<meta_entry>> change_log::scan_meta(std::string_view prefix) const {
    const impl& m = *_impl;
    SYNCLINE_RETURN_IF_ERROR(check_meta_key(prefix));
    std::vector<meta_entry> out;
    std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.meta));
    for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid() && it->key().starts_with(
             rocksdb::Slice(prefix.data(), prefix.size()));
         it->Next())
        out.push_back(meta_entry{it->key().ToString(), it->value().ToString()});
    if (!it->status().ok()) return from_rocks(it->status(), "change log " + m.path + ": scanning meta " + std::string(prefix));
    return out;
}

result<offset_range> change_log::append(std::span<record> records, std::span<const meta_entry> meta) {
    impl& m = *_impl;
    if (!m.writer) return status{errc::invalid_argument, "change log " + m.path + ": append on a reader"};
    for (const meta_entry& e : meta) SYNCLINE_RETURN_IF_ERROR(check_meta_key(e.key));
    if (records.empty() && meta.empty() && m.staged == 0) return status{errc::invalid_argument, "append: empty batch"};
    if (records.empty() && m.staged == 0) {
        rocksdb::WriteBatch b;
        rocksdb::Status s;
        for (const meta_entry& e : meta) {
            if (!s.ok()) break;
            s = e.value.empty() ? b.Delete(m.meta, e.key) : b.Put(m.meta, e.key, e.value);
        }
        if (s.ok()) {
            rocksdb::WriteOptions wo;
            wo.sync = m.sync;
            s = m.db->Write(wo, &b);
        }
        if (!s.ok()) return from_rocks(s, "change log " + m.path + ": writing meta");
        return offset_range{0, 0};
    }
    // Validate everything first: a batch is written whole or not at all.
    // One set of limits (common/record.h): what the log takes, every reader decodes.
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (std::string bad = check_record(records[i]); !bad.empty())
            return status{errc::invalid_argument, "append: record " + std::to_string(i) + ": " + bad};
    }

    // Timestamps never go backwards even if the wall clock does, so the time index stays
    // sorted in offset order and offset_at_time() is a single seek.
    const std::int64_t ts = std::max(now_ms(), m.last_ts);
    // Staged records (stage()) sit at last+1..last+staged and become visible with these.
    const std::uint64_t first = m.last + m.staged + 1;
    const std::uint64_t last = m.last + m.staged + records.size();

    rocksdb::Status s = m.put_records(records, first, ts);
    char last_be[8];
    put_be64(last_be, last);
    if (s.ok())
        s = m.batch.Put(m.meta, rocksdb::Slice(meta_last_offset.data(), meta_last_offset.size()),
                        rocksdb::Slice(last_be, 8));
    char time_key[16];
    put_be64(time_key, static_cast<std::uint64_t>(std::max<std::int64_t>(ts, 0)));
    put_be64(time_key + 8, m.last + 1);  // The append's first offset (staged ones included); tiebreak too.
    if (s.ok()) s = m.batch.Put(m.time, rocksdb::Slice(time_key, 16), rocksdb::Slice(time_key + 8, 8));
    for (const meta_entry& e : meta) {
        if (!s.ok()) break;
        s = e.value.empty() ? m.batch.Delete(m.meta, e.key) : m.batch.Put(m.meta, e.key, e.value);
    }

    if (s.ok()) {
        rocksdb::WriteOptions wo;
        wo.sync = m.sync;  // One WAL fsync per batch: the batch is durable when append returns.
        s = m.db->Write(wo, &m.batch);
    }
    if (!s.ok()) {
        impl::unassign(records);  // Nothing was written.
        return from_rocks(s, "change log " + m.path + ": append of " + std::to_string(records.size()) + " records");
    }
    const std::uint64_t visible_first = m.last + 1;
    m.last = last;
    m.last_ts = ts;
    m.staged = 0;
    return offset_range{visible_first, last};
}

result<offset_range> change_log::stage(std::span<record> records) {
    impl& m = *_impl;
    if (!m.writer) return status{errc::invalid_argument, "change log " + m.path + ": stage on a reader"};
    if (records.empty()) return status{errc::invalid_argument, "stage: empty batch"};
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (std::string bad = check_record(records[i]); !bad.empty())
            return status{errc::invalid_argument, "stage: record " + std::to_string(i) + ": " + bad};
    }
    const std::int64_t ts = std::max(now_ms(), m.last_ts);
    const std::uint64_t first = m.last + m.staged + 1;
    rocksdb::Status s = m.put_records(records, first, ts);
    // Unsynced: the append that makes them visible is synced, and syncs the WAL before it.
    if (s.ok()) s = m.db->Write(rocksdb::WriteOptions(), &m.batch);
    if (!s.ok()) {
        impl::unassign(records);
        return from_rocks(s, "change log " + m.path + ": stage of " + std::to_string(records.size()) + " records");
    }
    m.staged += records.size();
    return offset_range{first, first + records.size() - 1};
}

std::uint64_t change_log::staged_count() const { return _impl->staged; }

status change_log::discard_staged() {
    impl& m = *_impl;
    if (!m.writer) return status{errc::invalid_argument, "change log " + m.path + ": discard_staged on a reader"};
    if (m.staged == 0) return {};
    SYNCLINE_RETURN_IF_ERROR(m.drop_unfinished_stage());
    m.staged = 0;
    return {};
}

result<std::size_t> change_log::scan_staged(const record_visitor& visit) const {
    impl& m = *_impl;
    if (m.staged == 0) return std::size_t{0};
    std::string lower = be64(m.last + 1), upper = be64(m.last + m.staged + 1);
    rocksdb::Slice upper_s(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro, m.log));
    std::size_t n = 0;
    for (it->Seek(lower); it->Valid(); it->Next()) {
        ++n;
        if (!visit(get_be64(it->key().data()), std::string_view(it->value().data(), it->value().size())))
            break;
    }
    if (!it->status().ok()) return from_rocks(it->status(), "change log " + m.path + ": reading staged records");
    return n;
}

status change_log::catch_up() {
    impl& m = *_impl;
    if (m.writer) return {};  // The writer always sees its own appends.
    auto s = m.db->TryCatchUpWithPrimary();
    if (!s.ok()) return from_rocks(s, "change log " + m.path + ": catching up with the writer");
    return m.load_meta();
}

std::uint64_t change_log::last_offset() const { return _impl->last; }
std::uint64_t change_log::first_offset() const { return _impl->first(); }

result<std::size_t> change_log::scan(std::uint64_t from, std::size_t max_records, std::size_t max_bytes,
                                     const record_visitor& visit) const {
    impl& m = *_impl;
    const std::uint64_t first = m.first();
    if (max_records == 0 || first == 0 || from > m.last) return std::size_t{0};
    from = std::max(from, first);
    // Bounded by the cached last offset, so a reader never returns records beyond what
    // last_offset() reports (both come from the same catch_up()).
    char lower[8], upper[8];
    put_be64(lower, from);
    put_be64(upper, m.last + 1);
    rocksdb::Slice lower_s(lower, 8), upper_s(upper, 8);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_s;
    ro.iterate_upper_bound = &upper_s;
    // No fixed readahead_size: each scan is a new iterator, and a fixed readahead would read
    // that much ahead for every ~1000-record batch (measured 2 MiB: 30% slower tail reads);
    // RocksDB's automatic readahead grows with sequential reads within one iterator instead.
    std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro, m.log));
    std::size_t visited = 0;
    std::size_t bytes = 0;
    for (it->Seek(lower_s); it->Valid(); it->Next()) {
        const rocksdb::Slice k = it->key();
        const rocksdb::Slice v = it->value();
        if (k.size() != 8)
            return status{errc::corruption, "change log " + m.path + ": log key of " + std::to_string(k.size()) + " bytes"};
        ++visited;
        bytes += v.size();
        if (!visit(get_be64(k.data()), std::string_view(v.data(), v.size()))) break;
        if (visited >= max_records || bytes >= max_bytes) break;
    }
    if (!it->status().ok()) return from_rocks(it->status(), "change log " + m.path + ": scan from " + std::to_string(from));
    return visited;
}

result<std::optional<std::uint64_t>> change_log::offset_at_time(std::int64_t ts_ms) const {
    impl& m = *_impl;
    const std::uint64_t first = m.first();
    if (first == 0) return std::optional<std::uint64_t>{};
    std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.time));
    it->Seek(be64(static_cast<std::uint64_t>(std::max<std::int64_t>(ts_ms, 0))));
    if (!it->status().ok()) return from_rocks(it->status(), "change log " + m.path + ": time index");
    if (!it->Valid()) return std::optional<std::uint64_t>{};
    if (it->value().size() != 8) return status{errc::corruption, "change log " + m.path + ": malformed time index entry"};
    std::uint64_t offset = get_be64(it->value());
    if (offset > m.last) return std::optional<std::uint64_t>{};  // Not visible to this reader yet.
    // The entry's append may have been partly trimmed: its records from `first` on remain.
    return std::optional<std::uint64_t>{std::max(offset, first)};
}

result<std::optional<std::int64_t>> change_log::append_time(std::uint64_t offset) const {
    std::optional<std::int64_t> ts;
    status bad;
    auto scanned = scan(offset, 1, 1, [&](std::uint64_t at, std::string_view encoded) {
        if (at != offset) return false;
        auto r = codec::decode_record(encoded);
        if (r.ok()) ts = r->ts_ms;
        else bad = r.get_status().with_context("change log " + _impl->path + ": offset " + std::to_string(offset));
        return false;
    });
    if (!scanned.ok()) return scanned.get_status();
    if (!bad.ok()) return bad;
    return ts;
}

result<std::uint64_t> change_log::trim_below(std::uint64_t below) {
    impl& m = *_impl;
    if (!m.writer) return status{errc::invalid_argument, "change log " + m.path + ": trim on a reader"};
    // Never trim what was not appended yet: later appends must stay visible.
    below = std::min(below, m.last + 1);
    const std::uint64_t first = std::max<std::uint64_t>(m.trimmed_below, 1);
    if (m.last == 0 || below <= first) return std::uint64_t{0};

    rocksdb::WriteBatch b;
    auto s = b.DeleteRange(m.log, be64(0), be64(below));
    // Time index entries whose whole append is below the trim point go too; the entry of an
    // append that straddles it stays (offset_at_time clamps it to the first stored offset).
    {
        std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.time));
        std::string prev_key;
        for (it->SeekToFirst(); s.ok() && it->Valid(); it->Next()) {
            if (it->value().size() != 8) break;
            std::uint64_t f = get_be64(it->value());
            // The previous append ended at f - 1.
            if (!prev_key.empty()) {
                if (f - 1 < below) s = b.Delete(m.time, prev_key);
                else break;
            }
            prev_key = it->key().ToString();
            prev_key.shrink_to_fit();
        }
        // The newest append ends at `last`.
        if (s.ok() && it->status().ok() && !it->Valid() && !prev_key.empty() && m.last < below)
            s = b.Delete(m.time, prev_key);
        if (s.ok()) s = it->status();
    }
    if (s.ok()) s = b.Put(m.meta, rocksdb::Slice(meta_trimmed_below.data(), meta_trimmed_below.size()), be64(below));
    if (s.ok()) {
        rocksdb::WriteOptions wo;
        wo.sync = true;  // The trim point must not outlive the records on disk, nor the reverse.
        s = m.db->Write(wo, &b);
    }
    if (!s.ok()) return from_rocks(s, "change log " + m.path + ": trim below " + std::to_string(below));
    m.trimmed_below = below;

    // Reclaim the space now rather than whenever compaction reaches those files: trimming is
    // what operators do when the disk fills up. Failure here loses nothing (the data is
    // already deleted logically), so it is not reported as a failed trim.
    std::string end = be64(below);
    rocksdb::Slice end_s(end);
    rocksdb::CompactRangeOptions co;
    co.exclusive_manual_compaction = false;
    m.db->CompactRange(co, m.log, nullptr, &end_s).PermitUncheckedError();
    return below - first;
}

result<log_stats> change_log::stats() const {
    impl& m = *_impl;
    log_stats st;
    st.first_offset = m.first();
    // The highest offset ever appended, even when trimming emptied the log: the next append
    // continues from it.
    st.last_offset = m.last;
    st.count = st.first_offset == 0 ? 0 : m.last - st.first_offset + 1;
    st.disk_bytes = internal::directory_bytes(m.path);
    if (st.first_offset == 0) return st;
    // Heterogeneous lookup: no std::string built per record.
    std::map<std::string, std::uint64_t, std::less<>> per;
    status bad;
    auto n = scan(st.first_offset, SIZE_MAX, SIZE_MAX, [&](std::uint64_t offset, std::string_view bytes) {
        auto rv = codec::decode_record(bytes);
        if (!rv.ok()) {
            bad = rv.get_status().with_context("change log " + m.path + ": offset " + std::to_string(offset));
            return false;
        }
        auto it = per.find(rv->collection);
        if (it == per.end()) it = per.emplace(std::string(rv->collection), 0).first;
        ++it->second;
        return true;
    });
    if (!n.ok()) return n.get_status();
    if (!bad.ok()) return bad;
    st.per_collection.insert(per.begin(), per.end());
    return st;
}

const std::string& change_log::path() const { return _impl->path; }

}  // namespace syncline::store
