#include "targets/rocksdb_target.h"

#include "store/mirror_store.h"

namespace syncline::targets {

rocksdb_target::rocksdb_target(std::unique_ptr<store::mirror_store> store) : _store(std::move(store)) {}
rocksdb_target::~rocksdb_target() = default;

result<std::unique_ptr<rocksdb_target>> rocksdb_target::open(const rocksdb_target_options& opts) {
    auto store = store::mirror_store::open({.path = opts.path, .sync = opts.sync});
    if (!store.ok()) {
        const status& s = store.get_status();
        if (s.code() == errc::busy)
            return status{errc::unavailable,
                          s.message() + ": waiting until it is free (a rocksdb: target is written by one worker "
                                        "at a time; the others stand by)"};
        if (s.code() == errc::invalid_argument) return s;
        return status{errc::unavailable, s.message()};
    }
    return std::unique_ptr<rocksdb_target>(new rocksdb_target(std::move(store.value())));
}

delivery_outcome rocksdb_target::deliver(std::span<const record_view> records) {
    delivery_outcome out;
    if (records.empty()) return out;
    auto refused = _store->apply(records);
    if (!refused.ok()) {
        out.transient = status{errc::unavailable, refused.get_status().message()};
        return out;
    }
    for (auto& r : refused.value()) out.failures.push_back({r.offset, std::move(r.reason)});
    return out;
}

result<std::optional<state_map>> rocksdb_target::read_state() {
    state_map state;
    SYNCLINE_RETURN_IF_ERROR(_store->scan([&](const store::mirror_row& row) {
        state.insert_or_assign({std::string(row.collection), std::string(row.key)},
                               row_state{std::string(row.value), row.offset, row.deleted});
    }));
    return std::optional<state_map>(std::move(state));
}

}  // namespace syncline::targets
