#include "gateway/protocol.h"

#include <algorithm>
#include <iterator>

#include "common/codec.h"
#include "common/internal/msgpack_lite.h"

namespace syncline::gateway {
namespace {

constexpr std::size_t max_key_bytes = 64;
constexpr std::size_t max_reason_bytes = 64u << 10;

status corrupt(std::string msg) { return status{errc::corruption, std::move(msg)}; }

void put_kv_str(std::string& out, std::string_view key, std::string_view v) {
    mp::put_str(out, key);
    mp::put_str(out, v);
}
void put_kv_uint(std::string& out, std::string_view key, std::uint64_t v) {
    mp::put_str(out, key);
    mp::put_uint(out, v);
}
void put_kv_bool(std::string& out, std::string_view key, bool v) {
    mp::put_str(out, key);
    out.push_back(static_cast<char>(v ? 0xc3 : 0xc2));
}

std::string empty_map() { return std::string(1, static_cast<char>(0x80)); }

// Header fields of any gateway message, as read.
struct fields {
    std::uint64_t v = 0;
    bool has_v = false;
    std::string_view type, producer, format, reason;
    std::optional<std::uint64_t> sequence, first, last, count, index, retry_after_ms, previous, window;
    std::optional<bool> duplicate;
};

bool read_bool(mp::reader& in, bool& out) {
    if (in.remaining() == 0) return false;
    const auto t = static_cast<std::uint8_t>(*in.position());
    if (t != 0xc2 && t != 0xc3) return false;
    out = t == 0xc3;
    return in.skip();
}

status read_fields(std::string_view frame, fields& f) {
    mp::reader in(frame);
    std::uint32_t n = 0;
    if (!in.read_map_header(n)) return corrupt(std::string("header: ") + in.error());
    std::uint32_t seen = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        std::string_view key;
        if (!in.read_str(key, max_key_bytes)) return corrupt(std::string("header key: ") + in.error());
        static constexpr std::string_view names[] = {"v", "type", "producer", "format", "reason", "sequence",
                                                     "first", "last", "count", "index", "retry_after_ms", "duplicate",
                                                     "previous", "window"};
        std::size_t which = std::size(names);
        for (std::size_t k = 0; k < std::size(names); ++k)
            if (names[k] == key) which = k;
        if (which == std::size(names)) {
            if (!in.skip()) return corrupt("header: unknown field '" + std::string(key) + "': " + in.error());
            continue;  // From a newer peer: ignored.
        }
        if (seen & (1u << which)) return corrupt("header: duplicate field '" + std::string(key) + "'");
        seen |= 1u << which;
        bool ok = true;
        std::uint64_t u = 0;
        bool b = false;
        switch (which) {
            case 0: ok = in.read_uint(f.v); f.has_v = true; break;
            case 1: ok = in.read_str(f.type, max_key_bytes); break;
            case 2: ok = in.read_str(f.producer, max_producer_id_bytes); break;
            case 3: ok = in.read_str(f.format, max_key_bytes); break;
            case 4: ok = in.read_str(f.reason, max_reason_bytes); break;
            case 11: ok = read_bool(in, b); if (ok) f.duplicate = b; break;
            case 12: ok = in.read_uint(u); if (ok) f.previous = u; break;
            case 13: ok = in.read_uint(u); if (ok) f.window = u; break;
            default: {
                ok = in.read_uint(u);
                std::optional<std::uint64_t>* slots[] = {&f.sequence, &f.first, &f.last, &f.count, &f.index,
                                                         &f.retry_after_ms};
                if (ok) *slots[which - 5] = u;
            }
        }
        if (!ok) return corrupt("header: field '" + std::string(key) + "': " + (in.error()));
    }
    if (!in.at_end()) return corrupt("header: trailing bytes after the map");
    if (!f.has_v) return corrupt("header: missing field 'v'");
    if (f.v != protocol_version) return corrupt("header: unsupported version " + std::to_string(f.v));
    return {};
}

void put_header(std::string& out, std::uint32_t extra, std::string_view type) {
    mp::put_map_header(out, extra + 2);
    put_kv_uint(out, "v", protocol_version);
    put_kv_str(out, "type", type);
}

wire::frames publish_frames(std::string_view producer, std::uint64_t sequence, bool jsonl, std::string body) {
    wire::frames f;
    publish_header h;
    h.producer = producer;
    h.sequence = sequence;
    h.jsonl = jsonl;
    f.header = encode_publish_header(h);
    f.body = std::move(body);
    return f;
}

void put_request(std::string& out, const producer_request& r) {
    mp::put_uint(out, r.sequence);
    mp::put_uint(out, r.first);
    mp::put_uint(out, r.last);
    mp::put_uint(out, r.count);
}

bool read_request(mp::reader& in, producer_request& r) {
    return in.read_uint(r.sequence) && in.read_uint(r.first) && in.read_uint(r.last) && in.read_uint(r.count);
}

}  // namespace

status validate_producer_id(std::string_view id) {
    if (id.empty() || id.size() > max_producer_id_bytes)
        return status{errc::invalid_argument, "producer id must be 1 to 128 characters"};
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == ':' || c == '-';
        if (!ok) return status{errc::invalid_argument, "producer id may only hold letters, digits and . _ : -"};
    }
    return {};
}

result<request> decode_request(std::string_view header, std::string_view body) {
    fields f;
    SYNCLINE_RETURN_IF_ERROR(read_fields(header, f));
    request r;
    if (f.type == "publish") {
        r.type = request::kind::publish;
    } else if (f.type == "producer") {
        r.type = request::kind::producer_state;
        if (f.producer.empty()) return corrupt("producer request without 'producer'");
    } else {
        return corrupt("unknown request type '" + std::string(f.type.substr(0, 32)) + "'");
    }
    if (!f.producer.empty()) {
        if (status s = validate_producer_id(f.producer); !s.ok()) return corrupt(s.message());
        r.producer = f.producer;
        if (r.type == request::kind::publish) {
            if (!f.sequence || *f.sequence == 0) return corrupt("publish with a producer needs a 'sequence' >= 1");
            r.sequence = *f.sequence;
            if (f.previous && *f.previous >= r.sequence) return corrupt("'previous' must be below 'sequence'");
            r.previous = f.previous;
            if (f.window && (*f.window == 0 || *f.window > max_window))
                return corrupt("'window' must be 1-" + std::to_string(max_window));
            r.window = static_cast<std::uint32_t>(f.window.value_or(1));
        }
    } else if (f.sequence || f.previous || f.window) {
        return corrupt("'sequence', 'previous' or 'window' without 'producer'");
    }
    if (f.format.empty() || f.format == "msgpack") r.format = body_format::msgpack;
    else if (f.format == "jsonl") r.format = body_format::jsonl;
    else return corrupt("unknown format '" + std::string(f.format.substr(0, 32)) + "' (expected msgpack or jsonl)");
    r.body = body;
    return r;
}

std::string encode_publish_body(std::span<const record> records) {
    codec::batch_body_builder builder;
    std::string scratch;
    for (const record& rec : records) {
        scratch.clear();
        codec::encode_record_to(rec, scratch);
        builder.add(scratch);
    }
    return builder.finish();
}

std::string encode_publish_header(const publish_header& h) {
    std::string out;
    const bool p = !h.producer.empty();
    const std::uint32_t extra = (p ? 2 : 0) + (p && h.previous ? 1 : 0) + (p && h.window > 1 ? 1 : 0) + (h.jsonl ? 1 : 0);
    put_header(out, extra, "publish");
    if (p) {
        put_kv_str(out, "producer", h.producer);
        put_kv_uint(out, "sequence", h.sequence);
        if (h.previous) put_kv_uint(out, "previous", *h.previous);
        if (h.window > 1) put_kv_uint(out, "window", h.window);
    }
    if (h.jsonl) put_kv_str(out, "format", "jsonl");
    return out;
}

wire::frames encode_publish(std::string_view producer, std::uint64_t sequence, std::span<const record> records) {
    return publish_frames(producer, sequence, false, encode_publish_body(records));
}

wire::frames encode_publish_jsonl(std::string_view producer, std::uint64_t sequence, std::string_view jsonl) {
    return publish_frames(producer, sequence, true, std::string(jsonl));
}

wire::frames encode_producer_query(std::string_view producer) {
    wire::frames f;
    put_header(f.header, 1, "producer");
    put_kv_str(f.header, "producer", producer);
    f.body = empty_map();
    return f;
}

wire::frames encode_reply(const reply& r) {
    wire::frames f;
    switch (r.type) {
        case reply::kind::published:
            put_header(f.header, 5, "published");
            put_kv_uint(f.header, "first", r.first);
            put_kv_uint(f.header, "last", r.last);
            put_kv_uint(f.header, "count", r.count);
            put_kv_bool(f.header, "duplicate", r.duplicate);
            put_kv_uint(f.header, "sequence", r.sequence);
            break;
        case reply::kind::refused:
            put_header(f.header, 1 + (r.index ? 1 : 0) + (r.sequence ? 1 : 0), "refused");
            put_kv_str(f.header, "reason", r.reason);
            if (r.index) put_kv_uint(f.header, "index", *r.index);
            if (r.sequence) put_kv_uint(f.header, "sequence", r.sequence);
            break;
        case reply::kind::busy:
            put_header(f.header, 1 + (r.sequence ? 1 : 0), "busy");
            put_kv_uint(f.header, "retry_after_ms", r.retry_after_ms);
            if (r.sequence) put_kv_uint(f.header, "sequence", r.sequence);
            break;
        case reply::kind::failed:
            put_header(f.header, 1 + (r.sequence ? 1 : 0), "failed");
            put_kv_str(f.header, "reason", r.reason);
            if (r.sequence) put_kv_uint(f.header, "sequence", r.sequence);
            break;
        case reply::kind::out_of_order:
            put_header(f.header, 2, "out_of_order");
            put_kv_uint(f.header, "sequence", r.sequence);
            put_kv_uint(f.header, "last", r.last);
            break;
        case reply::kind::producer_state:
            put_header(f.header, 4, "producer");
            put_kv_str(f.header, "producer", r.producer);
            put_kv_uint(f.header, "sequence", r.sequence);
            put_kv_uint(f.header, "first", r.first);
            put_kv_uint(f.header, "last", r.last);
            break;
    }
    f.body = empty_map();
    return f;
}

result<reply> decode_reply(std::string_view header, std::string_view) {
    fields f;
    SYNCLINE_RETURN_IF_ERROR(read_fields(header, f));
    reply r;
    auto need = [&](const std::optional<std::uint64_t>& v, const char* name) -> status {
        if (!v) return corrupt(std::string(f.type) + " reply without '" + name + "'");
        return {};
    };
    if (f.type == "published") {
        r.type = reply::kind::published;
        SYNCLINE_RETURN_IF_ERROR(need(f.first, "first"));
        SYNCLINE_RETURN_IF_ERROR(need(f.last, "last"));
        SYNCLINE_RETURN_IF_ERROR(need(f.count, "count"));
        r.first = *f.first;
        r.last = *f.last;
        r.count = *f.count;
        if (r.first > r.last || r.last - r.first + 1 != r.count) return corrupt("published reply: inconsistent range");
        r.duplicate = f.duplicate.value_or(false);
        r.sequence = f.sequence.value_or(0);
    } else if (f.type == "refused") {
        r.type = reply::kind::refused;
        r.reason = f.reason;
        r.index = f.index;
        r.sequence = f.sequence.value_or(0);
    } else if (f.type == "busy") {
        r.type = reply::kind::busy;
        r.retry_after_ms = static_cast<std::uint32_t>(std::min<std::uint64_t>(f.retry_after_ms.value_or(100), 60'000));
        r.sequence = f.sequence.value_or(0);
    } else if (f.type == "failed") {
        r.type = reply::kind::failed;
        r.reason = f.reason;
        r.sequence = f.sequence.value_or(0);
    } else if (f.type == "out_of_order") {
        r.type = reply::kind::out_of_order;
        SYNCLINE_RETURN_IF_ERROR(need(f.sequence, "sequence"));
        SYNCLINE_RETURN_IF_ERROR(need(f.last, "last"));
        r.sequence = *f.sequence;
        r.last = *f.last;
    } else if (f.type == "producer") {
        r.type = reply::kind::producer_state;
        r.producer = f.producer;
        r.sequence = f.sequence.value_or(0);
        r.first = f.first.value_or(0);
        r.last = f.last.value_or(0);
    } else {
        return corrupt("unknown reply type '" + std::string(f.type.substr(0, 32)) + "'");
    }
    return r;
}

std::string encode_producer_entry(const producer_entry& e) {
    std::string out;
    const std::size_t earlier = std::min<std::size_t>(e.earlier.size(), max_window - 1);
    mp::put_array_header(out, static_cast<std::uint32_t>(5 + 4 * earlier));
    put_request(out, e);
    mp::put_uint(out, e.at_ms);
    for (std::size_t i = 0; i < earlier; ++i) put_request(out, e.earlier[i]);
    return out;
}

result<producer_entry> decode_producer_entry(std::string_view bytes) {
    mp::reader in(bytes);
    std::uint32_t n = 0;
    producer_entry e;
    if (!in.read_array_header(n) || n < 4 || !read_request(in, e))
        return corrupt(std::string("producer entry: ") + in.error());
    if (n == 4) return e;  // The first form: the last request only.
    if ((n - 5) % 4 != 0 || (n - 5) / 4 > max_window - 1)
        return corrupt("producer entry: " + std::to_string(n) + " fields (expected 4 or 5 + 4 per earlier request, at most " +
                       std::to_string(max_window - 1) + ")");
    if (!in.read_uint(e.at_ms)) return corrupt(std::string("producer entry: ") + in.error());
    e.earlier.resize((n - 5) / 4);
    for (auto& r : e.earlier)
        if (!read_request(in, r)) return corrupt(std::string("producer entry: ") + in.error());
    return e;
}

}  // namespace syncline::gateway
