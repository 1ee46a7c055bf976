#pragma once
// common/wire.h: the wire messages of docs/architecture.md "Wire protocol". Every message is two frames:
// frame 0 a msgpack map header {v, type, pipeline, ...}, frame 1 a msgpack body.
// decode() validates everything (version, type, field types, ranges) and returns
// errc::corruption for anything malformed or of an unknown version/type: callers count and drop.
// No ZeroMQ here: frames are byte strings; common/zmq_util.h moves them over sockets.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace syncline::wire {

inline constexpr std::uint32_t protocol_version = 1;

// An inclusive offset range [first, last]; first <= last.
struct range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    bool operator==(const range&) const = default;
};

// True when `r` holds exactly `n` offsets (n >= 1). Overflow-safe: `last - first + 1` wraps to 0
// for [0, 2^64-1], which would pass for a hostile count of 0. Every range from the wire is
// checked with this, never with `last - first + 1`.
inline bool holds_exactly(range r, std::uint64_t n) noexcept {
    return n >= 1 && r.first <= r.last && r.last - r.first == n - 1;
}

// A batch the ventilator filtered (docs/processing.md) covers every offset it read but holds only
// the records that matched: true when `r` holds at least `n` offsets (n may be 0) and at most
// `max_span`, the most one batch can read (so a hostile range stays bounded). Overflow-safe.
inline bool holds_filtered(range r, std::uint64_t n, std::uint64_t max_span) noexcept {
    return r.first <= r.last && r.last - r.first < max_span && n <= r.last - r.first + 1;
}

// Frame limits, from the one set of limits (common/record.h, limits::): every receiving socket
// drops a peer announcing a message over max_message_bytes (ZMQ_MAXMSGSIZE, common/zmq_util.h)
// before libzmq allocates what arbitrary bytes claim. A batch message is the largest there is:
// a body cut until it reaches max_batch_bytes, so at most that plus one record, and its header.
inline constexpr std::uint64_t max_batch_bytes = limits::max_batch_bytes;
inline constexpr std::uint64_t max_message_bytes = limits::max_batch_message_bytes;

// ventilator -> worker. `body` is a codec batch body (records are decoded by the worker).
struct batch {
    std::string pipeline;
    std::uint64_t batch_id = 0;
    range offsets;
    std::uint32_t attempt = 1;        // 1 on first delivery, +1 on each redelivery.
    std::uint32_t count = 0;          // Records in the body.
    std::string_view body;            // On decode: a view into the received body frame.
};

// A record the target rejected permanently.
struct record_failure {
    std::uint64_t offset = 0;
    std::string reason;
};

// worker -> sink: the batch was delivered; `failures` lists records to dead-letter.
struct ack {
    std::string pipeline;
    std::uint64_t batch_id = 0;
    range offsets;
    std::uint32_t attempt = 1;
    std::string worker;
    std::vector<record_failure> failures;
};

// worker -> sink: the target could not take the batch after retries; redeliver it.
struct nack {
    std::string pipeline;
    std::uint64_t batch_id = 0;
    range offsets;
    std::uint32_t attempt = 1;
    std::string worker;
    std::string reason;
};

// worker -> sink: the worker took the batch and is delivering it. The sink passes it on to the
// ventilator (progress.received) so the stall watchdog can name the worker holding a batch
// (PUSH round-robin alone does not tell). Body: an empty map (room for more).
struct receipt {
    std::string pipeline;
    std::uint64_t batch_id = 0;
    range offsets;
    std::uint32_t attempt = 1;
    std::string worker;
};

// A batch delivery a worker confirmed receiving, as the sink forwards it.
struct held_range {
    range offsets;
    std::uint32_t attempt = 1;
    std::string worker;
    bool operator==(const held_range&) const = default;
};

// ventilator -> sink (control), on start and then as a heartbeat.
struct hello {
    std::string pipeline;
    std::uint64_t ventilator_epoch = 0;  // Random per ventilator start.
};

// sink -> ventilator: where to resume, and acknowledgement news since the last message.
// A changed sink_epoch tells the ventilator that the sink restarted and forgot unacknowledged
// ranges above `committed`: everything in flight must be treated as unacknowledged.
struct progress {
    std::string pipeline;
    std::uint64_t sink_epoch = 0;     // Random per sink start.
    std::uint64_t committed = 0;      // Durable watermark: every offset <= committed is done.
    std::vector<range> acked;         // Newly acknowledged ranges (above committed when sent).
    std::vector<range> redeliver;     // Ranges a worker nacked: send again now.
    std::vector<held_range> received; // Receipts since the last message: who holds which delivery.
};

// ventilator -> sink (control), before each delivery of a batch (redeliveries too): the ranges it
// is sending. The sink accepts an ack only for a range announced so, and holds an ack that
// arrives first until its announcement does (docs/security.md, "Forged acks"). Body:
// {"ranges": [[first, last]...]}.
struct sent {
    std::string pipeline;
    std::vector<range> ranges;
};

using message = std::variant<batch, ack, nack, hello, progress, receipt, sent>;

struct frames {
    std::string header;
    std::string body;
};

// Encodes any message. For a batch, `body` is copied into frames.body as is.
frames encode(const message& m);
// Frame 0 only: lets the ventilator send a batch body it built without copying it again.
std::string encode_header(const message& m);

// Decodes and validates two frames. A decoded batch's `body` views `body_frame`.
result<message> decode(std::string_view header_frame, std::string_view body_frame);

// "batch", "ack", ... for logs.
std::string_view type_name(const message& m);

}  // namespace syncline::wire
