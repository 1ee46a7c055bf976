#pragma once
// cli/generate.h: deterministic sample change records for demos and benchmarks (`syncline
// generate`). The same options (and seed) always give the same sequence of collections, keys,
// ops and values, so runs are reproducible; keys repeat (drawn from --keys) and a share of the
// changes are deletes, which is what exercises the targets' fencing.
// Not thread-safe: one generator per thread.
#include <cstdint>
#include <string>
#include <vector>

#include "common/record.h"

namespace syncline::cli {

struct generate_options {
    std::uint64_t keys = 100'000;   // Distinct keys per collection. Default: 100000.
    std::vector<std::string> collections{"users", "orders", "events"};
    double delete_ratio = 0.1;      // Share of deletes, 0..1. Default: 0.1.
    std::size_t value_bytes = 100;  // Approximate size of each upsert's JSON value. Default: 100.
    std::uint64_t seed = 1;         // Default: 1.
};

class record_generator {
public:
    explicit record_generator(const generate_options& options);
    // Overwrites `out` with the next record (strings reuse their capacity). Offset and ts are
    // left to the log. Values: {"id":<key>,"n":<sequence>,"pad":"<letters>"} of about value_bytes.
    void next(record& out);

private:
    std::uint64_t random();

    generate_options _options;
    std::uint64_t _state;
    std::uint64_t _sequence = 0;
    std::uint64_t _delete_threshold;  // A draw below it makes a delete.
    std::string _pad_source;          // Random letters; pads are slices of it.
};

}  // namespace syncline::cli
