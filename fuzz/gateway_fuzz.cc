// Fuzz target: everything the gateway takes off its listeners (gateway/protocol.h requests and
// replies, the producer table's entries, and the HTTP body forms of gateway/json_records.h).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/codec.h"
#include "gateway/json_records.h"
#include "gateway/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace syncline;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    std::vector<record> records;
    (void)gateway::parse_json_body(bytes, records, {.max_value_bytes = 4096}, 1000);
    (void)gateway::decode_producer_entry(bytes);
    if (size > 0) {
        // First byte chooses where the header ends, so both frames get fuzzed.
        const std::size_t split = 1 + data[0] % size;
        const std::string_view header = bytes.substr(1, split - 1), body = bytes.substr(split);
        auto req = gateway::decode_request(header, body);
        if (req.ok() && req->format == gateway::body_format::msgpack) (void)codec::decode_batch_body(req->body);
        (void)gateway::decode_reply(header, body);
    }
    return 0;
}
