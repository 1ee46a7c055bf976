#pragma once
// Shared by the targets tests: record builders, with the shared unit-test support
// (tests/support/unit.h: ASSERT_OK, a temp directory).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "tests/support/unit.h"

namespace syncline::targets::testing {

using temp_dir = ::syncline::testing::scratch_dir;  // tests/support/unit.h

inline record upsert(std::uint64_t offset, std::string collection, std::string key, std::string value) {
    record r;
    r.offset = offset;
    r.ts_ms = 1'700'000'000'000 + static_cast<std::int64_t>(offset);
    r.collection = std::move(collection);
    r.key = std::move(key);
    r.operation = op::upsert;
    r.value = std::move(value);
    return r;
}

inline record del(std::uint64_t offset, std::string collection, std::string key) {
    record r = upsert(offset, std::move(collection), std::move(key), "");
    r.operation = op::del;
    return r;
}

inline record_view view_of(const record& r) {
    record_view v;
    v.offset = r.offset;
    v.ts_ms = r.ts_ms;
    v.collection = r.collection;
    v.key = r.key;
    v.operation = r.operation;
    v.value = r.value;
    for (const auto& [name, value] : r.headers) v.headers.emplace_back(name, value);
    return v;
}

inline std::vector<record_view> views(const std::vector<record>& rs) {
    std::vector<record_view> out;
    out.reserve(rs.size());
    for (const auto& r : rs) out.push_back(view_of(r));
    return out;
}

}  // namespace syncline::targets::testing
