#include "store/state_store.h"

#include "common/names.h"

#include <algorithm>
#include <filesystem>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "store/internal/rocks_util.h"

namespace syncline::store {
namespace {

namespace fs = std::filesystem;
using internal::be64;
using internal::from_rocks;
using internal::get_be64;
using internal::put_be64;

constexpr const char* cf_offsets = "offsets";
constexpr const char* cf_dlq = "dlq";

// Dead letter value: a version byte, then attempts (4-byte BE), ts_ms (8-byte BE), and the
// record and error as 4-byte-BE-length-prefixed bytes. The offset is in the key. Self-describing
// enough to evolve: a newer version byte is refused with a clear error instead of misread.
constexpr char dead_letter_format = 1;

void put_be32(std::string& out, std::uint32_t v) {
    char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                 static_cast<char>(v)};
    out.append(b, 4);
}
std::uint32_t get_be32(const char* p) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

std::string encode_dead_letter(const dead_letter& d) {
    std::string out;
    out.reserve(1 + 4 + 8 + 8 + d.record.size() + d.error.size());
    out.push_back(dead_letter_format);
    put_be32(out, d.attempts);
    put_be64(out, static_cast<std::uint64_t>(d.ts_ms));
    put_be32(out, static_cast<std::uint32_t>(d.record.size()));
    out.append(d.record);
    put_be32(out, static_cast<std::uint32_t>(d.error.size()));
    out.append(d.error);
    return out;
}

bool decode_dead_letter(std::string_view in, dead_letter& d) {
    if (in.size() < 1 + 4 + 8 + 4 || in[0] != dead_letter_format) return false;
    const char* p = in.data() + 1;
    const char* end = in.data() + in.size();
    d.attempts = get_be32(p);
    p += 4;
    d.ts_ms = static_cast<std::int64_t>(get_be64(p));
    p += 8;
    std::uint32_t n = get_be32(p);
    p += 4;
    if (static_cast<std::size_t>(end - p) < n + std::size_t{4}) return false;
    d.record.assign(p, n);
    p += n;
    n = get_be32(p);
    p += 4;
    if (static_cast<std::size_t>(end - p) != n) return false;
    d.error.assign(p, n);
    return true;
}

// The one name rule (common/names.h): "." and ".." would name the root or its parent.
bool valid_pipeline_name(std::string_view name) { return name_problem(name).empty(); }

status check_pipeline_name(const std::string& name) {
    if (valid_pipeline_name(name)) return {};
    return status{errc::invalid_argument,
                  "invalid pipeline name '" + name + "': use 1 to 128 characters from A-Z a-z 0-9 . _ -"};
}

rocksdb::DBOptions db_options(bool writer) {
    rocksdb::DBOptions o = internal::base_db_options(writer);
    o.max_background_jobs = 1;  // Tiny database: a few bytes per commit.
    o.keep_log_file_num = 2;
    o.max_log_file_size = 1u << 20;
    return o;
}

rocksdb::ColumnFamilyOptions cf_options() {
    rocksdb::ColumnFamilyOptions o;
    o.write_buffer_size = 4u << 20;
    return o;
}

}  // namespace

struct state_store::impl {
    std::string root;
    std::string pipeline;
    std::string path;
    bool writer = false;
    bool sync = true;
    internal::scratch_dir secondary_dir;  // Before `db`: removed after the instance closes.
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::ColumnFamilyHandle* offsets = nullptr;
    rocksdb::ColumnFamilyHandle* dlq = nullptr;

    ~impl() {
        for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
        if (db != nullptr) {
            db->Close().PermitUncheckedError();  // Commits that returned were already synced.
            delete db;
        }
    }

    std::string context() const { return "pipeline " + pipeline + " state (" + path + ")"; }

    std::string dlq_key(std::uint64_t offset) const {
        std::string k = pipeline;
        put_be64(k, offset);
        return k;
    }

    status write(rocksdb::WriteBatch& b, const std::string& what) {
        if (!writer) return status{errc::invalid_argument, context() + ": " + what + " on a read-only view"};
        rocksdb::WriteOptions wo;
        wo.sync = sync;  // The sink reports a commit only once it is on disk.
        return from_rocks(db->Write(wo, &b), context() + ": " + what);
    }

    status open(bool as_writer) {
        writer = as_writer;
        path = (fs::path(root) / pipeline).string();
        std::error_code ec;
        std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
        std::vector<std::string> names;
        if (fs::exists(fs::path(path) / "CURRENT", ec)) {
            auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
            if (!s.ok()) return from_rocks(s, context() + ": listing column families");
        } else if (!writer) {
            return status{errc::not_found, "pipeline " + pipeline + " has no state under " + root};
        } else {
            fs::create_directories(root, ec);
            if (ec) return status{errc::io_error, "cannot create state root " + root + ": " + ec.message()};
        }
        for (const char* want : {rocksdb::kDefaultColumnFamilyName.c_str(), cf_offsets, cf_dlq}) {
            if (std::find(names.begin(), names.end(), want) != names.end()) continue;
            if (!writer) return status{errc::invalid_argument, context() + ": not a syncline state directory"};
            names.emplace_back(want);
        }
        for (const auto& n : names) cfs.emplace_back(n, cf_options());
        SYNCLINE_RETURN_IF_ERROR(internal::open_db(
            {.writer = writer,
             .options = db_options(writer),
             .path = path,
             .column_families = cfs,
             .scratch_prefix = "syncline-state-secondary",
             .context = context(),
             .busy_message = "pipeline " + pipeline + " state is locked (is its sink or another command running?)"},
            secondary_dir, db, handles));
        for (auto* h : handles) {
            if (h->GetName() == cf_offsets) offsets = h;
            if (h->GetName() == cf_dlq) dlq = h;
        }
        if (offsets == nullptr || dlq == nullptr)
            return status{errc::invalid_argument, context() + ": not a syncline state directory"};
        return {};
    }
};

state_store::state_store(std::unique_ptr<impl> impl) : _impl(std::move(impl)) {}
state_store::~state_store() = default;

result<std::unique_ptr<state_store>> state_store::open(const state_store_options& opts) {
    SYNCLINE_RETURN_IF_ERROR(check_pipeline_name(opts.pipeline));
    if (opts.root.empty()) return status{errc::invalid_argument, "state root is empty"};
    auto i = std::make_unique<impl>();
    i->root = opts.root;
    i->pipeline = opts.pipeline;
    i->sync = opts.sync;
    SYNCLINE_RETURN_IF_ERROR(i->open(true));
    return std::unique_ptr<state_store>(new state_store(std::move(i)));
}

result<std::unique_ptr<state_store>> state_store::open_reader(const std::string& root, const std::string& pipeline) {
    SYNCLINE_RETURN_IF_ERROR(check_pipeline_name(pipeline));
    if (root.empty()) return status{errc::invalid_argument, "state root is empty"};
    auto i = std::make_unique<impl>();
    i->root = root;
    i->pipeline = pipeline;
    SYNCLINE_RETURN_IF_ERROR(i->open(false));
    return std::unique_ptr<state_store>(new state_store(std::move(i)));
}

result<std::vector<std::string>> state_store::list_pipelines(const std::string& root) {
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::exists(root, ec)) return out;  // No state yet: no pipelines.
    fs::directory_iterator it(root, ec);
    if (ec) return status{errc::io_error, "cannot list state root " + root + ": " + ec.message()};
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) return status{errc::io_error, "cannot list state root " + root + ": " + ec.message()};
        std::error_code fec;
        if (!it->is_directory(fec)) continue;
        std::string name = it->path().filename().string();
        // Only directories that hold a database: stray folders are not pipelines.
        if (valid_pipeline_name(name) && fs::exists(it->path() / "CURRENT", fec)) out.push_back(std::move(name));
    }
    std::sort(out.begin(), out.end());
    return out;
}

status state_store::remove_pipeline(const std::string& root, const std::string& pipeline) {
    SYNCLINE_RETURN_IF_ERROR(check_pipeline_name(pipeline));
    if (root.empty()) return status{errc::invalid_argument, "state root is empty"};
    const fs::path path = fs::path(root) / pipeline;
    std::error_code ec;
    if (!fs::exists(path, ec)) return {};
    if (fs::exists(path / "CURRENT", ec)) {
        // Taking the writer lock first is what refuses while a sink still owns the state.
        auto i = std::make_unique<impl>();
        i->root = root;
        i->pipeline = pipeline;
        SYNCLINE_RETURN_IF_ERROR(i->open(true));
    }
    fs::remove_all(path, ec);
    if (ec) return status{errc::io_error, "cannot remove " + path.string() + ": " + ec.message()};
    return {};
}

result<std::optional<std::uint64_t>> state_store::committed() const {
    impl& m = *_impl;
    std::string v;
    auto s = m.db->Get(rocksdb::ReadOptions(), m.offsets, m.pipeline, &v);
    if (s.IsNotFound()) return std::optional<std::uint64_t>{};
    if (!s.ok()) return from_rocks(s, m.context() + ": reading the committed offset");
    if (v.size() != 8) return status{errc::corruption, m.context() + ": committed offset has " + std::to_string(v.size()) + " bytes"};
    return std::optional<std::uint64_t>{get_be64(v.data())};
}

status state_store::commit(std::uint64_t offset, std::span<const dead_letter> new_dead_letters) {
    impl& m = *_impl;
    auto current = committed();
    if (!current.ok()) return current.get_status();
    if (current->has_value() && offset < **current)
        return status{errc::invalid_argument, m.context() + ": commit of offset " + std::to_string(offset) +
                                                  " is below the committed offset " + std::to_string(**current) +
                                                  " (use reset to move backwards)"};
    // The dead letters and the offset that covers them land together: after a crash either both
    // are there or neither, so no record is lost between the DLQ and the watermark.
    rocksdb::WriteBatch b;
    rocksdb::Status s;
    for (const dead_letter& d : new_dead_letters) {
        if (!s.ok()) break;
        s = b.Put(m.dlq, m.dlq_key(d.offset), encode_dead_letter(d));
    }
    if (s.ok()) s = b.Put(m.offsets, m.pipeline, be64(offset));
    if (!s.ok()) return from_rocks(s, m.context() + ": commit");
    return m.write(b, "commit of offset " + std::to_string(offset));
}

status state_store::reset(std::uint64_t offset) {
    impl& m = *_impl;
    rocksdb::WriteBatch b;
    auto s = b.Put(m.offsets, m.pipeline, be64(offset));
    if (!s.ok()) return from_rocks(s, m.context() + ": reset");
    return m.write(b, "reset to offset " + std::to_string(offset));
}

result<std::vector<dead_letter>> state_store::dead_letters(std::uint64_t from, std::size_t limit) const {
    impl& m = *_impl;
    std::vector<dead_letter> out;
    if (limit == 0) return out;
    const std::string lower = m.dlq_key(from);
    std::string upper = m.pipeline;
    upper.append(9, '\xff');  // Above every key of this pipeline (name + 8 bytes).
    rocksdb::Slice upper_s(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro, m.dlq));
    for (it->Seek(lower); it->Valid() && out.size() < limit; it->Next()) {
        rocksdb::Slice k = it->key();
        if (k.size() != m.pipeline.size() + 8 || !k.starts_with(m.pipeline)) continue;
        dead_letter d;
        d.offset = get_be64(k.data() + m.pipeline.size());
        if (!decode_dead_letter(std::string_view(it->value().data(), it->value().size()), d))
            return status{errc::corruption, m.context() + ": malformed dead letter at offset " + std::to_string(d.offset)};
        out.push_back(std::move(d));
    }
    if (!it->status().ok()) return from_rocks(it->status(), m.context() + ": reading dead letters");
    return out;
}

result<std::uint64_t> state_store::dead_letter_count() const {
    impl& m = *_impl;
    std::string upper = m.pipeline;
    upper.append(9, '\xff');  // Above every key of this pipeline (name + 8 bytes).
    rocksdb::Slice upper_s(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro, m.dlq));
    std::uint64_t n = 0;
    for (it->Seek(m.dlq_key(0)); it->Valid(); it->Next()) {
        const rocksdb::Slice k = it->key();
        if (k.size() == m.pipeline.size() + 8 && k.starts_with(m.pipeline)) ++n;
    }
    if (!it->status().ok()) return from_rocks(it->status(), m.context() + ": counting dead letters");
    return n;
}

status state_store::remove_dead_letters(std::span<const std::uint64_t> offsets) {
    impl& m = *_impl;
    rocksdb::WriteBatch b;
    for (std::uint64_t o : offsets) {
        auto s = b.Delete(m.dlq, m.dlq_key(o));
        if (!s.ok()) return from_rocks(s, m.context() + ": removing dead letters");
    }
    return m.write(b, "removing " + std::to_string(offsets.size()) + " dead letters");
}

status state_store::catch_up() {
    impl& m = *_impl;
    if (m.writer) return {};
    return from_rocks(m.db->TryCatchUpWithPrimary(), m.context() + ": refresh");
}

}  // namespace syncline::store
