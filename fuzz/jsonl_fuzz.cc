// Fuzz target: one line of `syncline append` input (cli/jsonl.h, parsed by gateway/json_records.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/jsonl.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace syncline;
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    record r;
    if (!cli::is_blank_line(line)) (void)cli::parse_jsonl_line(line, r, {.max_value_bytes = 4096});
    return 0;
}
