#pragma once
// tests/support/unit.h: what unit tests share, header-only (no link dependency, so any
// <component>_unit_tests can use it): status assertions that print the expression and the
// message, and a temp directory that removes itself. Integration tests use harness.h's temp_dir,
// which also fails the test on a child process's sanitizer report.
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "common/status.h"

#define ASSERT_OK(expr)                                          \
    do {                                                         \
        const ::syncline::status _s = (expr);                    \
        ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.to_string(); \
    } while (0)
#define ASSERT_RESULT_OK(r) ASSERT_TRUE((r).ok()) << #r << ": " << (r).get_status().to_string()

namespace syncline::testing {

// A fresh directory under the system's temp directory (PREFIX-XXXXXX), removed with its contents
// on destruction.
class scratch_dir {
public:
    explicit scratch_dir(std::string_view prefix = "syncline-unit") {
        std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
        if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
        _path = tmpl;
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;

    const std::filesystem::path& path() const { return _path; }
    // PATH/name (not created).
    std::string file(const std::string& name) const { return (_path / name).string(); }

private:
    std::filesystem::path _path;
};

}  // namespace syncline::testing
