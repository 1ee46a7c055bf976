#include "common/codec.h"

#include <gtest/gtest.h>

namespace syncline::codec {
namespace {

record sample(std::uint64_t offset) {
    record r;
    r.offset = offset;
    r.ts_ms = 1'700'000'000'000 + static_cast<std::int64_t>(offset);
    r.collection = "users";
    r.key = "user-" + std::to_string(offset);
    r.value = R"({"name":"ada"})";
    return r;
}

TEST(codec, record_round_trip) {
    record r = sample(42);
    r.headers = {{"source", "api"}, {"trace", "abc"}};
    const std::string bytes = encode_record(r);
    auto rv = decode_record(bytes);
    ASSERT_TRUE(rv.ok()) << rv.get_status().to_string();
    EXPECT_EQ(rv->offset, 42u);
    EXPECT_EQ(rv->ts_ms, r.ts_ms);
    EXPECT_EQ(rv->collection, "users");
    EXPECT_EQ(rv->key, "user-42");
    EXPECT_EQ(rv->operation, op::upsert);
    EXPECT_EQ(rv->value, r.value);
    ASSERT_EQ(rv->headers.size(), 2u);
    EXPECT_EQ(rv->headers[1].first, "trace");
}

}  // namespace
}  // namespace syncline::codec
