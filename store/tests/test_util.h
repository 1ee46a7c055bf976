#pragma once
// store/tests/test_util.h: the store's unit tests use the shared unit-test support
// (tests/support/unit.h: ASSERT_OK, ASSERT_RESULT_OK, a temp directory).
#include "tests/support/unit.h"

namespace syncline::store::testing {

using temp_dir = ::syncline::testing::scratch_dir;

}  // namespace syncline::store::testing
