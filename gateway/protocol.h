#pragma once
// gateway/protocol.h: the gateway's ZeroMQ messages (docs/architecture.md "Wire protocol"). Like
// every syncline message, two frames: a msgpack map header and a msgpack (or JSON) body. Producers
// talk to the gateway's ROUTER from a DEALER (or REQ) socket; each request gets exactly one reply.
//
//   publish  header {v: 1, type: "publish", producer?: str, sequence?: uint, format?: "msgpack"|"jsonl",
//                    previous?: uint, window?: uint}
//            body   msgpack: a codec batch body (array of [offset, ts, collection, key, op, value,
//                   headers]; offset and ts are ignored, the log assigns them)
//                   jsonl: JSON Lines or a JSON array of change objects (gateway/json_records.h)
//            previous (with producer): append only if the producer's last appended sequence is exactly
//                   this (0: the producer has none); otherwise "out_of_order", nothing appended. A
//                   pipelining producer chains its requests with it (docs/producers.md "Windows").
//            window (with producer, 1-64, default 1): how many of the producer's latest requests the
//                   producer table keeps, so that a retry of any of them is answered from it.
//   producer header {v: 1, type: "producer", producer: str}          body: empty map
//            asks for the producer's last appended sequence (a restarted producer resumes above it)
//   reply    header {v: 1, type: "published", first, last, count, duplicate: bool, sequence}
//                   {v: 1, type: "refused", reason: str, index?: uint, sequence?}   (nothing was appended)
//                   {v: 1, type: "busy", retry_after_ms: uint, sequence?}           (over the in-flight cap: retry)
//                   {v: 1, type: "failed", reason: str, sequence?}                  (the log could not be written: retry)
//                   {v: 1, type: "out_of_order", sequence, last}  (`previous` is not the producer's
//                                                                   last appended sequence `last`)
//                   {v: 1, type: "producer", producer: str, sequence: uint, first, last}
//            body   empty map
//
// Decoding never trusts its input (bounded, every length checked); errors are errc::corruption
// with the reason. Pure functions, thread-safe.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "common/wire.h"

namespace syncline::gateway {

inline constexpr std::uint32_t protocol_version = 1;
inline constexpr std::size_t max_producer_id_bytes = 128;
// Most requests one producer may have in flight (and the producer table keeps per producer).
inline constexpr std::uint32_t max_window = 64;

enum class body_format { msgpack, jsonl };

// A decoded request. Views point into the received frames.
struct request {
    enum class kind { publish, producer_state };
    kind type = kind::publish;
    std::string_view producer;        // Empty: not idempotent.
    std::uint64_t sequence = 0;       // >= 1 when `producer` is set on a publish.
    std::optional<std::uint64_t> previous;  // With `producer`: the producer's last sequence this one follows.
    std::uint32_t window = 1;         // With `producer`: 1..max_window.
    body_format format = body_format::msgpack;
    std::string_view body;            // The body frame, still to be parsed into records.
};

// invalid_argument unless `id` is 1-128 bytes of [A-Za-z0-9._:-] (it becomes part of a log key).
status validate_producer_id(std::string_view id);

result<request> decode_request(std::string_view header, std::string_view body);

wire::frames encode_publish(std::string_view producer, std::uint64_t sequence, std::span<const record> records);
wire::frames encode_publish_jsonl(std::string_view producer, std::uint64_t sequence, std::string_view jsonl);
// A publish request's body (msgpack) and header alone: a pipelining client re-encodes only the
// header when it resends a request with another `previous`.
std::string encode_publish_body(std::span<const record> records);
struct publish_header {
    std::string_view producer;
    std::uint64_t sequence = 0;
    std::optional<std::uint64_t> previous;
    std::uint32_t window = 1;  // Written only when > 1.
    bool jsonl = false;
};
std::string encode_publish_header(const publish_header& h);
wire::frames encode_producer_query(std::string_view producer);

struct reply {
    enum class kind { published, refused, busy, failed, producer_state, out_of_order };
    kind type = kind::published;
    std::uint64_t first = 0, last = 0, count = 0;  // published; producer_state: the last request's offsets;
                                                   // out_of_order: `last` is the producer's last sequence.
    bool duplicate = false;                        // published: a retry, answered from the producer table.
    std::uint64_t sequence = 0;                    // The request's (0: not given); producer_state: the last.
    std::optional<std::uint64_t> index;            // refused: the bad record, when one is to blame.
    std::string reason;                            // refused / failed.
    std::uint32_t retry_after_ms = 0;              // busy.
    std::string producer;                          // producer_state.
};

wire::frames encode_reply(const reply& r);
result<reply> decode_reply(std::string_view header, std::string_view body);

// The producer table's value for one producer: its last appended request, when it was appended
// (wall clock, ms since the epoch; 0 in entries written before it was recorded) and up to
// window - 1 earlier requests (newest first), so that a retry of any request of a window is
// answered with its offsets. Encoded [sequence, first, last, count] (the first form) or
// [sequence, first, last, count, at_ms, (sequence, first, last, count)*].
struct producer_request {
    std::uint64_t sequence = 0;
    std::uint64_t first = 0, last = 0, count = 0;
};
struct producer_entry : producer_request {
    std::uint64_t at_ms = 0;
    std::vector<producer_request> earlier;
    // The request with this sequence among the last and the earlier ones, or nullptr.
    const producer_request* find(std::uint64_t seq) const {
        if (seq == sequence) return this;
        for (const auto& e : earlier)
            if (e.sequence == seq) return &e;
        return nullptr;
    }
};
std::string encode_producer_entry(const producer_entry& e);
result<producer_entry> decode_producer_entry(std::string_view bytes);

}  // namespace syncline::gateway
