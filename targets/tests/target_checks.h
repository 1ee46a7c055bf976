#pragma once
// Shared by the tests of the rocksdb: and redis:// targets: deliver a batch expecting success,
// and read a target's state back.
#include <gtest/gtest.h>

#include <vector>

#include "targets/target.h"
#include "targets/tests/test_util.h"

namespace syncline::targets::testing {

inline delivery_outcome deliver(target& t, const std::vector<record>& rs) {
    auto v = views(rs);
    return t.deliver(v);
}

inline void deliver_ok(target& t, const std::vector<record>& rs) {
    auto out = deliver(t, rs);
    ASSERT_TRUE(out.transient.ok()) << out.transient.to_string();
    ASSERT_TRUE(out.failures.empty()) << out.failures.front().reason;
}

inline state_map read_state_of(target& t) {
    auto st = t.read_state();
    EXPECT_TRUE(st.ok()) << st.get_status().to_string();
    if (!st.ok() || !st->has_value()) return {};
    return **st;
}

inline row_state live(std::string value, std::uint64_t offset) { return {std::move(value), offset, false}; }
inline row_state tombstone(std::uint64_t offset) { return {"", offset, true}; }

}  // namespace syncline::targets::testing
