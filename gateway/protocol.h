#pragma once
// gateway/protocol.h: the gateway's ZeroMQ messages (docs/architecture.md "Wire protocol"). Like
// every syncline message, two frames: a msgpack map header and a msgpack (or JSON) body. Producers
// talk to the gateway's ROUTER from a DEALER (or REQ) socket; each request gets exactly one reply.
//
//   publish  header {v: 1, type: "publish", producer?: str, sequence?: uint, format?: "msgpack"|"jsonl"}
//            body   msgpack: a codec batch body (array of [offset, ts, collection, key, op, value,
//                   headers]; offset and ts are ignored, the log assigns them)
//                   jsonl: JSON Lines or a JSON array of change objects (gateway/json_records.h)
//   producer header {v: 1, type: "producer", producer: str}          body: empty map
//            asks for the producer's last appended sequence (a restarted producer resumes above it)
//   reply    header {v: 1, type: "published", first, last, count, duplicate: bool, sequence}
//                   {v: 1, type: "refused", reason: str, index?: uint}   (nothing was appended)
//                   {v: 1, type: "busy", retry_after_ms: uint}           (over the in-flight cap: retry)
//                   {v: 1, type: "failed", reason: str}                  (the log could not be written: retry)
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

enum class body_format { msgpack, jsonl };

// A decoded request. Views point into the received frames.
struct request {
    enum class kind { publish, producer_state };
    kind type = kind::publish;
    std::string_view producer;        // Empty: not idempotent.
    std::uint64_t sequence = 0;       // >= 1 when `producer` is set on a publish.
    body_format format = body_format::msgpack;
    std::string_view body;            // The body frame, still to be parsed into records.
};

// invalid_argument unless `id` is 1-128 bytes of [A-Za-z0-9._:-] (it becomes part of a log key).
status validate_producer_id(std::string_view id);

result<request> decode_request(std::string_view header, std::string_view body);

wire::frames encode_publish(std::string_view producer, std::uint64_t sequence, std::span<const record> records);
wire::frames encode_publish_jsonl(std::string_view producer, std::uint64_t sequence, std::string_view jsonl);
wire::frames encode_producer_query(std::string_view producer);

struct reply {
    enum class kind { published, refused, busy, failed, producer_state };
    kind type = kind::published;
    std::uint64_t first = 0, last = 0, count = 0;  // published; producer_state: the last request's offsets.
    bool duplicate = false;                        // published: a retry, answered from the producer table.
    std::uint64_t sequence = 0;                    // published / producer_state.
    std::optional<std::uint64_t> index;            // refused: the bad record, when one is to blame.
    std::string reason;                            // refused / failed.
    std::uint32_t retry_after_ms = 0;              // busy.
    std::string producer;                          // producer_state.
};

wire::frames encode_reply(const reply& r);
result<reply> decode_reply(std::string_view header, std::string_view body);

// The producer table's value for one producer: its last appended request.
struct producer_entry {
    std::uint64_t sequence = 0;
    std::uint64_t first = 0, last = 0, count = 0;
};
std::string encode_producer_entry(const producer_entry& e);
result<producer_entry> decode_producer_entry(std::string_view bytes);

}  // namespace syncline::gateway
