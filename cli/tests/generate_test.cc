#include "cli/generate.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace syncline::cli {
namespace {

std::vector<record> generate(const generate_options& o, std::size_t n) {
    record_generator g(o);
    std::vector<record> out(n);
    for (auto& r : out) g.next(r);
    return out;
}

TEST(generator, same_seed_same_records) {
    generate_options o;
    auto a = generate(o, 1000);
    auto b = generate(o, 1000);
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].collection, b[i].collection);
        EXPECT_EQ(a[i].key, b[i].key);
        EXPECT_EQ(a[i].operation, b[i].operation);
        EXPECT_EQ(a[i].value, b[i].value);
    }
    o.seed = 2;
    auto c = generate(o, 1000);
    std::size_t same = 0;
    for (std::size_t i = 0; i < a.size(); ++i) same += a[i].key == c[i].key && a[i].collection == c[i].collection;
    EXPECT_LT(same, 100u);
}

TEST(generator, deletes_repeated_keys_collections_and_json_values) {
    generate_options o;
    o.keys = 100;
    o.delete_ratio = 0.2;
    o.value_bytes = 120;
    auto records = generate(o, 10'000);
    std::size_t deletes = 0;
    std::map<std::pair<std::string, std::string>, int> seen;
    std::set<std::string> collections;
    for (const auto& r : records) {
        collections.insert(r.collection);
        ++seen[{r.collection, r.key}];
        if (r.operation == op::del) {
            ++deletes;
            EXPECT_TRUE(r.value.empty());
            continue;
        }
        auto j = nlohmann::json::parse(r.value, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << r.value;
        EXPECT_EQ(std::to_string(j["id"].get<std::uint64_t>()), r.key);
        EXPECT_EQ(r.value.size(), 120u);
    }
    EXPECT_EQ(collections, (std::set<std::string>{"users", "orders", "events"}));
    EXPECT_GT(deletes, 1700u);
    EXPECT_LT(deletes, 2300u);
    EXPECT_LE(seen.size(), 300u);  // 10,000 changes over at most 3 x 100 keys.
}

TEST(generator, ratio_extremes_and_small_values) {
    generate_options o;
    o.delete_ratio = 0;
    o.value_bytes = 1;  // Smaller than the fixed part: no padding, still valid JSON.
    for (const auto& r : generate(o, 500)) {
        EXPECT_EQ(r.operation, op::upsert);
        EXPECT_FALSE(nlohmann::json::parse(r.value, nullptr, false).is_discarded());
    }
    o.delete_ratio = 1;
    for (const auto& r : generate(o, 500)) EXPECT_EQ(r.operation, op::del);
}

}  // namespace
}  // namespace syncline::cli
