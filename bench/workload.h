#pragma once
// bench/workload.h: the standard pipeline workload (docs/benchmarks.md "Pipeline"), shared by
// pipeline_bench and sqlite_baseline so both write exactly the same rows: ~100-byte JSON values
// over `keys` keys in 3 collections, 10% deletes, from a fixed seed.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/record.h"

namespace syncline::bench {

class workload {
public:
    explicit workload(std::uint64_t keys, std::uint64_t seed = 42) : _rng(seed), _keys(keys) {}

    // Overwrites `batch` with the next `n` records of the sequence (offset and ts_ms left 0:
    // the log assigns them on append).
    void fill(std::vector<record>& batch, std::size_t n) {
        static const char* const collections[] = {"accounts", "orders", "events"};
        static const std::string pad(48, 'x');
        batch.resize(n);
        for (auto& r : batch) {
            r.offset = 0;
            r.ts_ms = 0;
            r.collection = collections[_rng() % 3];
            r.key = "key-" + std::to_string(_rng() % _keys);
            r.headers.clear();
            if (_rng() % 10 == 0) {
                r.operation = op::del;
                r.value.clear();
            } else {
                r.operation = op::upsert;
                r.value = "{\"seq\":" + std::to_string(++_seq) + ",\"amount\":" + std::to_string(_rng() % 100000) +
                          ",\"pad\":\"" + pad + "\"}";
            }
        }
    }

private:
    std::mt19937_64 _rng;
    std::uint64_t _keys;
    std::uint64_t _seq = 0;
};

}  // namespace syncline::bench
