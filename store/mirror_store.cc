#include "store/mirror_store.h"

#include <filesystem>
#include <map>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_buffer_manager.h>

#include "store/internal/rocks_util.h"

namespace syncline::store {
namespace {

namespace fs = std::filesystem;
using internal::from_rocks;

constexpr char mirror_format = 1;
constexpr char flag_tombstone = 1;
constexpr std::size_t header_size = 2 + 8;  // format, flags, offset.

void encode_value(std::string& out, const record_view& r) {
    out.clear();
    out.reserve(header_size + r.value.size());
    out.push_back(mirror_format);
    out.push_back(r.operation == op::del ? flag_tombstone : 0);
    internal::put_be64(out, r.offset);
    if (r.operation != op::del) out.append(r.value);
}

bool decode_value(std::string_view in, mirror_row& row) {
    if (in.size() < header_size || in[0] != mirror_format) return false;
    row.deleted = (in[1] & flag_tombstone) != 0;
    row.offset = internal::get_be64(in.data() + 2);
    row.value = in.substr(header_size);
    return true;
}

}  // namespace

struct mirror_store::impl {
    std::string path;
    rocksdb::DBOptions db_options;
    rocksdb::ColumnFamilyOptions family_options;
    rocksdb::WriteOptions write_options;
    std::unique_ptr<rocksdb::DB> db;
    // Collection -> its family. Handles are owned here and destroyed before the DB.
    std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> families;
    rocksdb::WriteBatchWithIndex batch{rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true};
    std::string current, encoded;

    ~impl() {
        for (auto& [name, h] : families) db->DestroyColumnFamilyHandle(h);
    }

    std::string context(std::string_view what) const { return "rocksdb " + path + ": " + std::string(what); }

    // The collection's family, created on first use. Creating writes the MANIFEST at once, not
    // through the batch: a family left empty by a failed batch is harmless.
    result<rocksdb::ColumnFamilyHandle*> family(std::string_view collection) {
        if (auto it = families.find(collection); it != families.end()) return it->second;
        rocksdb::ColumnFamilyHandle* h = nullptr;
        rocksdb::Status s = db->CreateColumnFamily(family_options, std::string(collection), &h);
        if (!s.ok()) return from_rocks(s, context("create column family"));
        families.emplace(std::string(collection), h);
        return h;
    }
};

mirror_store::mirror_store(std::unique_ptr<impl> impl) : _impl(std::move(impl)) {}
mirror_store::~mirror_store() = default;

result<std::unique_ptr<mirror_store>> mirror_store::open(const mirror_store_options& opts) {
    if (opts.path.empty()) return status{errc::invalid_argument, "rocksdb target: empty path"};
    std::error_code ec;
    const fs::path parent = fs::path(opts.path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec))
        return status{errc::invalid_argument,
                      "rocksdb target " + opts.path + ": directory " + parent.string() + " does not exist"};
    if (fs::exists(opts.path, ec) && !fs::is_directory(opts.path, ec))
        return status{errc::invalid_argument, "rocksdb target " + opts.path + ": not a directory"};

    auto m = std::make_unique<impl>();
    m->path = opts.path;
    m->write_options.sync = opts.sync;
    m->db_options.create_if_missing = true;
    m->db_options.keep_log_file_num = 4;
    // Memtables of all families share one budget, so many collections do not multiply memory.
    m->db_options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(64 << 20);
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = rocksdb::NewLRUCache(64 << 20);
    // Every change reads its key first (the fence): a bloom filter answers "new key" without I/O.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    m->family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    m->family_options.write_buffer_size = 16 << 20;

    std::vector<std::string> names;
    if (!rocksdb::DB::ListColumnFamilies(m->db_options, opts.path, &names).ok() || names.empty())
        names = {rocksdb::kDefaultColumnFamilyName};  // A new database.
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& name : names) descriptors.emplace_back(name, m->family_options);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(m->db_options, opts.path, descriptors, &handles, &db);
    if (!s.ok())
        return from_rocks(s, m->context("cannot open"),
                          m->context("held by another process (RocksDB allows one writer per database)"));
    m->db.reset(db);
    for (std::size_t i = 0; i < handles.size(); ++i) m->families.emplace(names[i], handles[i]);
    return std::unique_ptr<mirror_store>(new mirror_store(std::move(m)));
}

result<std::vector<mirror_refusal>> mirror_store::apply(std::span<const record_view> changes) {
    impl& m = *_impl;
    std::vector<mirror_refusal> refused;
    m.batch.Clear();
    const rocksdb::ReadOptions read;
    for (const record_view& r : changes) {
        auto h = m.family(r.collection);
        if (!h.ok()) {
            if (h.get_status().code() != errc::invalid_argument) return h.get_status();
            refused.push_back({r.offset, "collection '" + std::string(r.collection) + "': " + h.get_status().message()});
            continue;
        }
        // Through the batch: a key changed twice in one call is fenced against its first change.
        rocksdb::Status s = m.batch.GetFromBatchAndDB(m.db.get(), read, *h, r.key, &m.current);
        if (s.ok()) {
            mirror_row stored;
            if (!decode_value(m.current, stored)) {
                refused.push_back({r.offset, m.context("the stored value of this key is not in the mirror format")});
                continue;
            }
            if (stored.offset >= r.offset) continue;
        } else if (!s.IsNotFound()) {
            return from_rocks(s, m.context("read"));
        }
        encode_value(m.encoded, r);
        s = m.batch.Put(*h, r.key, m.encoded);
        if (!s.ok()) return from_rocks(s, m.context("batch"));
    }
    if (m.batch.GetWriteBatch()->Count() > 0) {
        rocksdb::Status s = m.db->Write(m.write_options, m.batch.GetWriteBatch());
        m.batch.Clear();
        if (!s.ok()) return from_rocks(s, m.context("write"));
    }
    return refused;
}

status mirror_store::scan(const std::function<void(const mirror_row&)>& visit) const {
    const impl& m = *_impl;
    // One snapshot for all families: the state at a single point of the write history.
    rocksdb::ManagedSnapshot snapshot(m.db.get());
    rocksdb::ReadOptions read;
    read.snapshot = snapshot.snapshot();
    for (const auto& [name, h] : m.families) {
        std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(read, h));
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
            mirror_row row;
            row.collection = name;
            row.key = std::string_view(it->key().data(), it->key().size());
            if (!decode_value(std::string_view(it->value().data(), it->value().size()), row))
                return status{errc::corruption, m.context("collection '" + name + "': a value not in the mirror format")};
            visit(row);
        }
        if (!it->status().ok()) return from_rocks(it->status(), m.context("scan " + name));
    }
    return {};
}

}  // namespace syncline::store
