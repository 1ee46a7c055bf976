#pragma once
// workers/accept.h: what a worker makes of one message from its work socket, as a pure function
// (no sockets, no target) so it is unit-tested and fuzzed (fuzz/accept_fuzz.cc) on its own.
// Every frame is untrusted: nothing here crashes, loops or allocates beyond a small multiple of the
// input, whatever the bytes. Thread-safe (no shared state).
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/wire.h"

namespace syncline::workers {

struct accepted_batch {
    enum class verdict {
        take,         // A valid batch: `header`, `records` (views into the body frame, possibly none)
                      // and `undecodable` (records that did not decode, each dead-lettered alone).
        dead_letter,  // A valid header whose stored bytes are bad: redelivering cannot help, so
                      // every offset of `header.offsets` (header.count of them, or up to 100,000
                      // for a filtered batch) is dead-lettered with `reason`.
        drop,         // Malformed, unexpected or for another pipeline: counted and dropped (`reason`).
    };
    verdict what = verdict::drop;
    wire::batch header;
    std::vector<record_view> records;
    std::vector<wire::record_failure> undecodable;
    std::string reason;
};

// Checks one two-frame message for pipeline `pipeline`: the header (wire::decode), the range
// against the count (overflow-safe), then every record (codec::decode_batch_records, one by one)
// against the header: the count, and each record's offset at its index. The views in the result
// point into `body_frame`.
accepted_batch accept_batch(std::string_view header_frame, std::string_view body_frame, std::string_view pipeline);

}  // namespace syncline::workers
