// Fuzz target: a worker's batch acceptance (workers/accept.h), everything a worker does with the
// two frames it takes off its work socket before the target sees a record. Beyond "no crash, no
// hang", it checks what the worker relies on: an accepted range is a full batch or a bounded
// filtered one, and a taken batch's records (decoded or not) match its header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/codec.h"
#include "workers/accept.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace syncline;
    if (size == 0) return 0;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    // First byte chooses where the header ends, so both frames get fuzzed.
    const std::size_t split = 1 + data[0] % size;
    const auto got = workers::accept_batch(bytes.substr(1, split - 1), bytes.substr(split), "p");
    using verdict = workers::accepted_batch::verdict;
    if (got.what == verdict::drop) return 0;
    const wire::batch& b = got.header;
    // A full batch holds exactly `count` offsets; a filtered one (docs/processing.md) holds its
    // `count` matching records in a bounded range of at least that many offsets.
    const bool shape_ok = wire::holds_exactly(b.offsets, b.count) || wire::holds_filtered(b.offsets, b.count, codec::decode_limits{}.max_records);
    if (b.pipeline != "p" || !shape_ok || b.count > codec::decode_limits{}.max_records) std::abort();
    if (got.what == verdict::take) {
        if (got.records.size() + got.undecodable.size() != b.count) std::abort();
        for (const auto& r : got.records)
            if (r.offset < b.offsets.first || r.offset > b.offsets.last) std::abort();
    }
    return 0;
}
