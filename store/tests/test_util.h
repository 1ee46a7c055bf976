#pragma once
// store/tests/test_util.h: a temp directory owned by a fixture, and status assertions that
// print the message.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/status.h"

#define ASSERT_OK(expr)                                              \
    do {                                                             \
        const ::syncline::status _s = (expr);                        \
        ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.to_string();     \
    } while (0)
#define ASSERT_RESULT_OK(r) ASSERT_TRUE((r).ok()) << #r << ": " << (r).get_status().to_string()

namespace syncline::store::testing {

class temp_dir {
public:
    temp_dir() {
        std::string templ = (std::filesystem::temp_directory_path() / "syncline-store-test-XXXXXX").string();
        if (::mkdtemp(templ.data()) == nullptr) std::abort();
        _path = templ;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return _path; }
    std::string sub(const std::string& name) const { return (std::filesystem::path(_path) / name).string(); }

private:
    std::string _path;
};

}  // namespace syncline::store::testing
