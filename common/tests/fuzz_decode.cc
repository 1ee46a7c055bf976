// libFuzzer target for every decoder that sees untrusted bytes. Built only with
// -DSYNCLINE_BUILD_FUZZERS=ON and clang (see common/CMakeLists.txt).
// Run: ./common_fuzz_decode -max_total_time=60
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
    // First byte chooses where the header ends, so both frames get fuzzed.
    if (size > 0) {
        const std::size_t split = 1 + data[0] % size;
        (void)wire::decode(bytes.substr(1, split - 1), bytes.substr(split));
    }
    return 0;
}
