// Fuzz target: the record codec, batch bodies and wire messages (every byte a worker, sink or
// ventilator takes off a socket). See fuzz/README.md for the libFuzzer and replay builds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/codec.h"
#include "common/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace syncline;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    (void)codec::decode_record(bytes);
    (void)codec::decode_batch_body(bytes);
    // Record by record (the worker's path): every record is either decoded or listed as bad.
    if (auto each = codec::decode_batch_records(bytes); each.ok() && each->records.size() != each->indexes.size())
        __builtin_trap();
    // First byte chooses where the header ends, so both frames get fuzzed.
    if (size > 0) {
        const std::size_t split = 1 + data[0] % size;
        (void)wire::decode(bytes.substr(1, split - 1), bytes.substr(split));
    }
    return 0;
}
