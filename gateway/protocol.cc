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
    std::optional<std::uint64_t> sequence, first, last, count, index, retry_after_ms;
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
                                                     "first", "last", "count", "index", "retry_after_ms", "duplicate"};
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
    const std::uint32_t extra = (producer.empty() ? 0 : 2) + (jsonl ? 1 : 0);
    put_header(f.header, extra, "publish");
    if (!producer.empty()) {
        put_kv_str(f.header, "producer", producer);
        put_kv_uint(f.header, "sequence", sequence);
    }
    if (jsonl) put_kv_str(f.header, "format", "jsonl");
    f.body = std::move(body);
    return f;
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
        }
    } else if (f.sequence) {
        return corrupt("'sequence' without 'producer'");
    }
    if (f.format.empty() || f.format == "msgpack") r.format = body_format::msgpack;
    else if (f.format == "jsonl") r.format = body_format::jsonl;
    else return corrupt("unknown format '" + std::string(f.format.substr(0, 32)) + "' (expected msgpack or jsonl)");
    r.body = body;
    return r;
}

wire::frames encode_publish(std::string_view producer, std::uint64_t sequence, std::span<const record> records) {
    codec::batch_body_builder builder;
    std::string scratch;
    for (const record& rec : records) {
        scratch.clear();
        codec::encode_record_to(rec, scratch);
        builder.add(scratch);
    }
    return publish_frames(producer, sequence, false, builder.finish());
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
            put_header(f.header, r.index ? 2 : 1, "refused");
            put_kv_str(f.header, "reason", r.reason);
            if (r.index) put_kv_uint(f.header, "index", *r.index);
            break;
        case reply::kind::busy:
            put_header(f.header, 1, "busy");
            put_kv_uint(f.header, "retry_after_ms", r.retry_after_ms);
            break;
        case reply::kind::failed:
            put_header(f.header, 1, "failed");
            put_kv_str(f.header, "reason", r.reason);
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
    } else if (f.type == "busy") {
        r.type = reply::kind::busy;
        r.retry_after_ms = static_cast<std::uint32_t>(std::min<std::uint64_t>(f.retry_after_ms.value_or(100), 60'000));
    } else if (f.type == "failed") {
        r.type = reply::kind::failed;
        r.reason = f.reason;
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
    mp::put_array_header(out, 4);
    mp::put_uint(out, e.sequence);
    mp::put_uint(out, e.first);
    mp::put_uint(out, e.last);
    mp::put_uint(out, e.count);
    return out;
}

result<producer_entry> decode_producer_entry(std::string_view bytes) {
    mp::reader in(bytes);
    std::uint32_t n = 0;
    producer_entry e;
    if (!in.read_array_header(n) || n < 4 || !in.read_uint(e.sequence) || !in.read_uint(e.first) ||
        !in.read_uint(e.last) || !in.read_uint(e.count))
        return corrupt(std::string("producer entry: ") + in.error());
    return e;
}

}  // namespace syncline::gateway
