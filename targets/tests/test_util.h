#pragma once
// Shared by the targets unit tests: a temp directory per test and record builders.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/status.h"

#define ASSERT_OK(expr)                                                     \
    do {                                                                    \
        ::syncline::status _s = (expr);                                     \
        ASSERT_TRUE(_s.ok()) << _s.to_string();                             \
    } while (0)

namespace syncline::targets::testing {

class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "syncline-targets-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
        _path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string file(const std::string& name) const { return (_path / name).string(); }
    const std::filesystem::path& path() const { return _path; }

private:
    std::filesystem::path _path;
};

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
