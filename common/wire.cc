#include "common/wire.h"

#include <algorithm>
#include <limits>

#include "common/codec.h"
#include "common/internal/msgpack_lite.h"

namespace syncline::wire {
namespace {

// Bounds for untrusted frames. Names and ids are short; reasons are human text.
constexpr std::size_t max_key_bytes = 64;
constexpr std::size_t max_name_bytes = 256;
constexpr std::size_t max_reason_bytes = 64u << 10;
// A [first, last] pair takes at least 3 bytes and a failure [offset, ""] at least 3 bytes: reserve()
// is capped by remaining/3 so hostile counts cannot allocate beyond a small multiple of the input.
constexpr std::size_t min_pair_bytes = 3;

status corrupt(std::string msg) { return status{errc::corruption, std::move(msg)}; }

// ---- encoding ----

void put_kv_str(std::string& out, std::string_view key, std::string_view v) {
    mp::put_str(out, key);
    mp::put_str(out, v);
}
void put_kv_uint(std::string& out, std::string_view key, std::uint64_t v) {
    mp::put_str(out, key);
    mp::put_uint(out, v);
}

void put_common(std::string& out, std::uint32_t fields, std::string_view type, std::string_view pipeline) {
    mp::put_map_header(out, fields + 3);
    put_kv_uint(out, "v", protocol_version);
    put_kv_str(out, "type", type);
    put_kv_str(out, "pipeline", pipeline);
}

void put_range(std::string& out, const range& r) {
    mp::put_array_header(out, 2);
    mp::put_uint(out, r.first);
    mp::put_uint(out, r.last);
}

void put_ranges(std::string& out, const std::vector<range>& rs) {
    mp::put_array_header(out, static_cast<std::uint32_t>(rs.size()));
    for (const range& r : rs) put_range(out, r);
}

struct header_encoder {
    std::string& out;
    void operator()(const batch& b) const {
        put_common(out, 5, "batch", b.pipeline);
        put_kv_uint(out, "batch_id", b.batch_id);
        put_kv_uint(out, "first", b.offsets.first);
        put_kv_uint(out, "last", b.offsets.last);
        put_kv_uint(out, "attempt", b.attempt);
        put_kv_uint(out, "count", b.count);
    }
    // ack, nack and receipt carry the same fields: a worker's answer about one batch.
    template <typename Answer>
    void put_answer(std::string_view type, const Answer& a) const {
        put_common(out, 5, type, a.pipeline);
        put_kv_uint(out, "batch_id", a.batch_id);
        put_kv_uint(out, "first", a.offsets.first);
        put_kv_uint(out, "last", a.offsets.last);
        put_kv_uint(out, "attempt", a.attempt);
        put_kv_str(out, "worker", a.worker);
    }
    void operator()(const ack& a) const { put_answer("ack", a); }
    void operator()(const nack& n) const { put_answer("nack", n); }
    void operator()(const receipt& r) const { put_answer("receipt", r); }
    void operator()(const hello& h) const {
        put_common(out, 1, "hello", h.pipeline);
        put_kv_uint(out, "ventilator_epoch", h.ventilator_epoch);
    }
    void operator()(const sent& m) const { put_common(out, 0, "sent", m.pipeline); }
    void operator()(const progress& p) const {
        put_common(out, 2, "progress", p.pipeline);
        put_kv_uint(out, "sink_epoch", p.sink_epoch);
        put_kv_uint(out, "committed", p.committed);
    }
};

// A reason as every decoder accepts it (max_reason_bytes): a longer one (a server message may
// quote a whole value) is cut at a UTF-8 boundary and marked, never sent whole to be refused.
void put_reason(std::string& out, std::string_view reason) {
    constexpr std::string_view mark = "... (shortened)";
    if (reason.size() <= max_reason_bytes) return mp::put_str(out, reason);
    std::size_t keep = max_reason_bytes - mark.size();
    while (keep > 0 && (static_cast<unsigned char>(reason[keep]) & 0xc0) == 0x80) --keep;
    std::string shortened(reason.substr(0, keep));
    shortened += mark;
    mp::put_str(out, shortened);
}

struct body_encoder {
    std::string& out;
    void operator()(const batch& b) const { out.assign(b.body); }
    void operator()(const ack& a) const {
        mp::put_array_header(out, static_cast<std::uint32_t>(a.failures.size()));
        for (const record_failure& f : a.failures) {
            mp::put_array_header(out, 2);
            mp::put_uint(out, f.offset);
            put_reason(out, f.reason);
        }
    }
    void operator()(const nack& n) const { put_reason(out, n.reason); }
    void operator()(const hello&) const { mp::put_map_header(out, 0); }
    void operator()(const receipt&) const { mp::put_map_header(out, 0); }
    void operator()(const sent& m) const {
        mp::put_map_header(out, 1);
        mp::put_str(out, "ranges");
        put_ranges(out, m.ranges);
    }
    void operator()(const progress& p) const {
        // `received` only when there is some: older ventilators skip it anyway (unknown key).
        mp::put_map_header(out, p.received.empty() ? 2 : 3);
        mp::put_str(out, "acked");
        put_ranges(out, p.acked);
        mp::put_str(out, "redeliver");
        put_ranges(out, p.redeliver);
        if (p.received.empty()) return;
        mp::put_str(out, "received");
        mp::put_array_header(out, static_cast<std::uint32_t>(p.received.size()));
        for (const held_range& h : p.received) {
            mp::put_array_header(out, 4);
            mp::put_uint(out, h.offsets.first);
            mp::put_uint(out, h.offsets.last);
            mp::put_uint(out, h.attempt);
            mp::put_str(out, h.worker);
        }
    }
};

// ---- decoding ----

// Header fields as read; `seen` bits tell which were present.
struct header_fields {
    enum bit : std::uint32_t {
        f_v = 1u << 0, f_type = 1u << 1, f_pipeline = 1u << 2, f_batch_id = 1u << 3,
        f_first = 1u << 4, f_last = 1u << 5, f_attempt = 1u << 6, f_count = 1u << 7,
        f_worker = 1u << 8, f_sink_epoch = 1u << 9, f_ventilator_epoch = 1u << 10,
        f_committed = 1u << 11,
    };
    std::uint32_t seen = 0;
    std::uint64_t v = 0;
    std::string_view type;
    std::string_view pipeline;
    std::uint64_t batch_id = 0, first = 0, last = 0, attempt = 0, count = 0;
    std::string_view worker;
    std::uint64_t sink_epoch = 0, ventilator_epoch = 0, committed = 0;
};

struct field_spec {
    std::string_view name;
    std::uint32_t bit;
    bool is_str;
    std::uint64_t header_fields::*num;
    std::string_view header_fields::*str;
};

constexpr field_spec field_specs[] = {
    {"v", header_fields::f_v, false, &header_fields::v, nullptr},
    {"type", header_fields::f_type, true, nullptr, &header_fields::type},
    {"pipeline", header_fields::f_pipeline, true, nullptr, &header_fields::pipeline},
    {"batch_id", header_fields::f_batch_id, false, &header_fields::batch_id, nullptr},
    {"first", header_fields::f_first, false, &header_fields::first, nullptr},
    {"last", header_fields::f_last, false, &header_fields::last, nullptr},
    {"attempt", header_fields::f_attempt, false, &header_fields::attempt, nullptr},
    {"count", header_fields::f_count, false, &header_fields::count, nullptr},
    {"worker", header_fields::f_worker, true, nullptr, &header_fields::worker},
    {"sink_epoch", header_fields::f_sink_epoch, false, &header_fields::sink_epoch, nullptr},
    {"ventilator_epoch", header_fields::f_ventilator_epoch, false, &header_fields::ventilator_epoch, nullptr},
    {"committed", header_fields::f_committed, false, &header_fields::committed, nullptr},
};

std::string_view field_name(std::uint32_t bit) {
    for (const field_spec& f : field_specs)
        if (f.bit == bit) return f.name;
    return "?";
}

status read_header(std::string_view frame, header_fields& h) {
    mp::reader in(frame);
    std::uint32_t n = 0;
    if (!in.read_map_header(n)) return corrupt(std::string("header: ") + in.error());
    for (std::uint32_t i = 0; i < n; ++i) {
        std::string_view key;
        if (!in.read_str(key, max_key_bytes)) return corrupt(std::string("header key: ") + in.error());
        const field_spec* spec = nullptr;
        for (const field_spec& f : field_specs) {
            if (f.name == key) {
                spec = &f;
                break;
            }
        }
        if (spec == nullptr) {
            // Unknown keys come from newer peers: ignored so the protocol can grow compatibly.
            if (!in.skip()) return corrupt("header: unknown field '" + std::string(key) + "': " + in.error());
            continue;
        }
        if (h.seen & spec->bit) return corrupt("header: duplicate field '" + std::string(key) + "'");
        h.seen |= spec->bit;
        const bool ok = spec->is_str ? in.read_str(h.*(spec->str), max_name_bytes) : in.read_uint(h.*(spec->num));
        if (!ok) return corrupt("header: field '" + std::string(key) + "': " + in.error());
    }
    if (!in.at_end()) return corrupt("header: trailing bytes after the map");
    return {};
}

status require(const header_fields& h, std::uint32_t bits, std::string_view type) {
    for (std::uint32_t bit = 1; bit != 0 && bit <= bits; bit <<= 1) {
        if ((bits & bit) && !(h.seen & bit))
            return corrupt(std::string(type) + " header: missing field '" + std::string(field_name(bit)) + "'");
    }
    return {};
}

status read_u32(std::uint64_t v, std::string_view name, std::uint32_t& out) {
    if (v > std::numeric_limits<std::uint32_t>::max())
        return corrupt("header: field '" + std::string(name) + "' out of range");
    out = static_cast<std::uint32_t>(v);
    return {};
}

// The fields batch, ack and nack share: id, range and attempt.
template <typename M>
status read_delivery(const header_fields& h, std::string_view type, M& m) {
    constexpr std::uint32_t needed = header_fields::f_batch_id | header_fields::f_first |
                                     header_fields::f_last | header_fields::f_attempt;
    SYNCLINE_RETURN_IF_ERROR(require(h, needed, type));
    if (h.first > h.last)
        return corrupt(std::string(type) + " header: first " + std::to_string(h.first) + " > last " +
                       std::to_string(h.last));
    SYNCLINE_RETURN_IF_ERROR(read_u32(h.attempt, "attempt", m.attempt));
    if (m.attempt < 1) return corrupt(std::string(type) + " header: attempt must be >= 1");
    m.pipeline.assign(h.pipeline);
    m.batch_id = h.batch_id;
    m.offsets = range{h.first, h.last};
    return {};
}

status read_ranges(mp::reader& in, std::string_view name, std::vector<range>& out,
                   std::string_view where = "progress body") {
    std::uint32_t n = 0;
    if (!in.read_array_header(n)) return corrupt(std::string(where) + ": " + std::string(name) + ": " + in.error());
    out.reserve(std::min<std::size_t>(n, in.remaining() / min_pair_bytes + 1));
    for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t pair = 0;
        range r;
        if (!in.read_array_header(pair) || pair != 2 || !in.read_uint(r.first) || !in.read_uint(r.last))
            return corrupt(std::string(where) + ": " + std::string(name) + " entry " + std::to_string(i) +
                           ": expected [first, last]");
        if (r.first > r.last)
            return corrupt(std::string(where) + ": " + std::string(name) + " entry " + std::to_string(i) +
                           ": first > last");
        out.push_back(r);
    }
    return {};
}

// [[first, last, attempt, worker]...] of progress.received.
status read_held(mp::reader& in, std::vector<held_range>& out) {
    std::uint32_t n = 0;
    if (!in.read_array_header(n)) return corrupt(std::string("progress body: received: ") + in.error());
    out.reserve(std::min<std::size_t>(n, in.remaining() / 5 + 1));
    for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t fields = 0;
        held_range h;
        std::uint64_t attempt = 0;
        std::string_view worker;
        if (!in.read_array_header(fields) || fields != 4 || !in.read_uint(h.offsets.first) ||
            !in.read_uint(h.offsets.last) || !in.read_uint(attempt) || !in.read_str(worker, max_name_bytes))
            return corrupt("progress body: received entry " + std::to_string(i) +
                           ": expected [first, last, attempt, worker]");
        if (h.offsets.first > h.offsets.last || attempt < 1 || attempt > std::numeric_limits<std::uint32_t>::max())
            return corrupt("progress body: received entry " + std::to_string(i) + ": bad range or attempt");
        h.attempt = static_cast<std::uint32_t>(attempt);
        h.worker.assign(worker);
        out.push_back(std::move(h));
    }
    return {};
}

result<message> decode_batch(const header_fields& h, std::string_view body) {
    batch b;
    SYNCLINE_RETURN_IF_ERROR(read_delivery(h, "batch", b));
    SYNCLINE_RETURN_IF_ERROR(require(h, header_fields::f_count, "batch"));
    SYNCLINE_RETURN_IF_ERROR(read_u32(h.count, "count", b.count));
    const std::size_t max_records = codec::decode_limits{}.max_records;
    if (b.count > max_records)
        return corrupt("batch header: count " + std::to_string(b.count) + " exceeds " + std::to_string(max_records));
    // Log offsets are dense: a real batch covers exactly `count` offsets, or more when the
    // ventilator filtered records out, but never more than one batch reads. This also bounds what
    // a hostile header can make a worker do per offset (dead-letter a whole range, for one).
    if (!holds_exactly(b.offsets, b.count) && !holds_filtered(b.offsets, b.count, max_records))
        return corrupt("batch header: range " + std::to_string(h.first) + ".." + std::to_string(h.last) +
                       " does not hold " + std::to_string(b.count) + " records");
    // Only the body's array header is checked here (O(1)); the worker decodes the records. A count
    // that disagrees with the body would make the worker ack records it never saw.
    mp::reader in(body);
    std::uint32_t n = 0;
    if (!in.read_array_header(n)) return corrupt(std::string("batch body: ") + in.error());
    if (n != b.count)
        return corrupt("batch body: holds " + std::to_string(n) + " records, header says " +
                       std::to_string(b.count));
    b.body = body;
    return message{std::move(b)};
}

result<message> decode_ack(const header_fields& h, std::string_view body) {
    ack a;
    SYNCLINE_RETURN_IF_ERROR(read_delivery(h, "ack", a));
    SYNCLINE_RETURN_IF_ERROR(require(h, header_fields::f_worker, "ack"));
    a.worker.assign(h.worker);
    mp::reader in(body);
    std::uint32_t n = 0;
    if (!in.read_array_header(n)) return corrupt(std::string("ack body: ") + in.error());
    const std::uint64_t span = a.offsets.last - a.offsets.first;  // records in range minus one
    if (n > 0 && (n > codec::decode_limits{}.max_records || std::uint64_t{n} - 1 > span))
        return corrupt("ack body: more failures than records in the batch");
    a.failures.reserve(std::min<std::size_t>(n, in.remaining() / min_pair_bytes + 1));
    for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t pair = 0;
        record_failure f;
        std::string_view reason;
        if (!in.read_array_header(pair) || pair != 2 || !in.read_uint(f.offset) ||
            !in.read_bytes(reason, max_reason_bytes))
            return corrupt("ack body: failure " + std::to_string(i) + ": expected [offset, reason]");
        if (f.offset < a.offsets.first || f.offset > a.offsets.last)
            return corrupt("ack body: failure offset " + std::to_string(f.offset) + " outside the batch");
        f.reason.assign(reason);
        a.failures.push_back(std::move(f));
    }
    if (!in.at_end()) return corrupt("ack body: trailing bytes");
    return message{std::move(a)};
}

result<message> decode_nack(const header_fields& h, std::string_view body) {
    nack m;
    SYNCLINE_RETURN_IF_ERROR(read_delivery(h, "nack", m));
    SYNCLINE_RETURN_IF_ERROR(require(h, header_fields::f_worker, "nack"));
    m.worker.assign(h.worker);
    mp::reader in(body);
    std::string_view reason;
    if (!in.read_bytes(reason, max_reason_bytes)) return corrupt(std::string("nack body: ") + in.error());
    if (!in.at_end()) return corrupt("nack body: trailing bytes");
    m.reason.assign(reason);
    return message{std::move(m)};
}

result<message> decode_receipt(const header_fields& h, std::string_view body) {
    receipt m;
    SYNCLINE_RETURN_IF_ERROR(read_delivery(h, "receipt", m));
    SYNCLINE_RETURN_IF_ERROR(require(h, header_fields::f_worker, "receipt"));
    m.worker.assign(h.worker);
    // The body is an empty map today; whatever a newer peer puts in it is skipped.
    mp::reader in(body);
    std::uint32_t n = 0;
    if (!in.read_map_header(n)) return corrupt(std::string("receipt body: ") + in.error());
    for (std::uint64_t i = 0; i < 2ull * n; ++i)
        if (!in.skip()) return corrupt(std::string("receipt body: ") + in.error());
    if (!in.at_end()) return corrupt("receipt body: trailing bytes");
    return message{std::move(m)};
}

result<message> decode_hello(const header_fields& h, std::string_view body) {
    hello m;
    SYNCLINE_RETURN_IF_ERROR(require(h, header_fields::f_ventilator_epoch, "hello"));
    m.pipeline.assign(h.pipeline);
    m.ventilator_epoch = h.ventilator_epoch;
    // The body is an empty map today; whatever a newer peer puts in it is skipped.
    mp::reader in(body);
    std::uint32_t n = 0;
    if (!in.read_map_header(n)) return corrupt(std::string("hello body: ") + in.error());
    for (std::uint64_t i = 0; i < 2ull * n; ++i)
        if (!in.skip()) return corrupt(std::string("hello body: ") + in.error());
    if (!in.at_end()) return corrupt("hello body: trailing bytes");
    return message{std::move(m)};
}

result<message> decode_progress(const header_fields& h, std::string_view body) {
    progress m;
    SYNCLINE_RETURN_IF_ERROR(require(h, header_fields::f_sink_epoch | header_fields::f_committed, "progress"));
    m.pipeline.assign(h.pipeline);
    m.sink_epoch = h.sink_epoch;
    m.committed = h.committed;
    mp::reader in(body);
    std::uint32_t n = 0;
    if (!in.read_map_header(n)) return corrupt(std::string("progress body: ") + in.error());
    bool seen_acked = false, seen_redeliver = false, seen_received = false;
    for (std::uint32_t i = 0; i < n; ++i) {
        std::string_view key;
        if (!in.read_str(key, max_key_bytes)) return corrupt(std::string("progress body key: ") + in.error());
        if (key == "received") {
            if (seen_received) return corrupt("progress body: duplicate field 'received'");
            seen_received = true;
            SYNCLINE_RETURN_IF_ERROR(read_held(in, m.received));
        } else if (key == "acked" || key == "redeliver") {
            bool& seen = key == "acked" ? seen_acked : seen_redeliver;
            if (seen) return corrupt("progress body: duplicate field '" + std::string(key) + "'");
            seen = true;
            SYNCLINE_RETURN_IF_ERROR(read_ranges(in, key, key == "acked" ? m.acked : m.redeliver));
        } else if (!in.skip()) {
            return corrupt(std::string("progress body: ") + in.error());
        }
    }
    if (!in.at_end()) return corrupt("progress body: trailing bytes");
    return message{std::move(m)};
}

result<message> decode_sent(const header_fields& h, std::string_view body) {
    sent m;
    m.pipeline.assign(h.pipeline);
    mp::reader in(body);
    std::uint32_t n = 0;
    if (!in.read_map_header(n)) return corrupt(std::string("sent body: ") + in.error());
    bool seen_ranges = false;
    for (std::uint32_t i = 0; i < n; ++i) {
        std::string_view key;
        if (!in.read_str(key, max_key_bytes)) return corrupt(std::string("sent body key: ") + in.error());
        if (key == "ranges") {
            if (seen_ranges) return corrupt("sent body: duplicate field 'ranges'");
            seen_ranges = true;
            SYNCLINE_RETURN_IF_ERROR(read_ranges(in, key, m.ranges, "sent body"));
        } else if (!in.skip()) {
            return corrupt(std::string("sent body: ") + in.error());
        }
    }
    if (!seen_ranges) return corrupt("sent body: missing field 'ranges'");
    if (!in.at_end()) return corrupt("sent body: trailing bytes");
    return message{std::move(m)};
}

}  // namespace

std::string encode_header(const message& m) {
    std::string out;
    out.reserve(128);
    std::visit(header_encoder{out}, m);
    return out;
}

frames encode(const message& m) {
    frames f;
    f.header = encode_header(m);
    std::visit(body_encoder{f.body}, m);
    return f;
}

result<message> decode(std::string_view header_frame, std::string_view body_frame) {
    header_fields h;
    SYNCLINE_RETURN_IF_ERROR(read_header(header_frame, h));
    if (!(h.seen & header_fields::f_v)) return corrupt("header: missing field 'v'");
    if (h.v != protocol_version) return corrupt("unknown protocol version " + std::to_string(h.v));
    if (!(h.seen & header_fields::f_type)) return corrupt("header: missing field 'type'");
    if (!(h.seen & header_fields::f_pipeline)) return corrupt("header: missing field 'pipeline'");
    if (h.pipeline.empty()) return corrupt("header: empty pipeline");
    if (h.type == "batch") return decode_batch(h, body_frame);
    if (h.type == "ack") return decode_ack(h, body_frame);
    if (h.type == "nack") return decode_nack(h, body_frame);
    if (h.type == "hello") return decode_hello(h, body_frame);
    if (h.type == "progress") return decode_progress(h, body_frame);
    if (h.type == "receipt") return decode_receipt(h, body_frame);
    if (h.type == "sent") return decode_sent(h, body_frame);
    // Printable prefix only: the type is attacker-controlled and ends up in logs.
    std::string shown;
    for (char c : h.type.substr(0, 32)) shown.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    return corrupt("unknown message type '" + shown + "'");
}

std::string_view type_name(const message& m) {
    static constexpr std::string_view names[] = {"batch", "ack", "nack", "hello", "progress", "receipt", "sent"};
    return names[m.index()];
}

}  // namespace syncline::wire
