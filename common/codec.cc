#include "common/codec.h"

#include <algorithm>

#include "common/internal/msgpack_lite.h"

namespace syncline::codec {
namespace {

// The smallest possible encoded record: fixarray + 7 one-byte fields. Used to bound reserve()
// by the input size, so a hostile count cannot make us allocate more than ~12x the input.
constexpr std::size_t min_record_bytes = 8;
constexpr std::uint32_t record_fields = 7;

std::size_t encoded_size_hint(const record& r) {
    std::size_t n = 1 + 9 + 9 + 1 + 5 * 3 + r.collection.size() + r.key.size() + r.value.size() + 5;
    for (const auto& [k, v] : r.headers) n += 10 + k.size() + v.size();
    return n;
}

// Why a record did not decode: the field, and the reason when it is not the reader's own.
struct field_failure {
    const char* field = "record";
    std::string reason;  // Empty: the reader's error() says why.
};

// Reads one record at the reader's position. On failure returns false and fills `why`.
bool read_record(mp::reader& in, const decode_limits& limits, record_view& out, field_failure& why) {
    std::uint32_t n = 0;
    why = {"record", {}};
    if (!in.read_array_header(n)) return false;
    if (n < record_fields) {
        why.reason = std::to_string(n) + " fields, fewer than 7";
        return false;
    }
    why.field = "offset";
    if (!in.read_uint(out.offset)) return false;
    why.field = "ts_ms";
    if (!in.read_int(out.ts_ms)) return false;
    why.field = "collection";
    if (!in.read_bytes(out.collection, limits.max_field_bytes)) return false;
    why.field = "key";
    if (!in.read_bytes(out.key, limits.max_field_bytes)) return false;
    why.field = "op";
    std::uint64_t o = 0;
    if (!in.read_uint(o)) return false;
    if (o > 1) {
        why.reason = std::to_string(o) + ", not 0 (upsert) or 1 (delete)";
        return false;
    }
    out.operation = static_cast<op>(o);
    why.field = "value";
    if (!in.read_bytes(out.value, limits.max_field_bytes)) return false;
    why.field = "headers";
    std::uint32_t h = 0;
    if (!in.read_map_header(h)) return false;
    if (h > limits.max_headers) {
        why.reason = std::to_string(h) + " entries, more than the limit of " + std::to_string(limits.max_headers);
        return false;
    }
    out.headers.clear();
    if (h > 0) {
        out.headers.reserve(h);
        for (std::uint32_t i = 0; i < h; ++i) {
            std::string_view k, v;
            if (!in.read_bytes(k, limits.max_field_bytes) || !in.read_bytes(v, limits.max_field_bytes))
                return false;
            out.headers.emplace_back(k, v);
        }
    }
    // Fields after the seventh are from a newer format: skipped, so old readers keep working.
    why.field = "extra field";
    for (std::uint32_t i = record_fields; i < n; ++i)
        if (!in.skip()) return false;
    return true;
}

status field_error(std::string_view where, const field_failure& why, const mp::reader& in) {
    std::string msg(where);
    msg += ": field ";
    msg += why.field;
    msg += ": ";
    msg += why.reason.empty() ? std::string(in.error()) : why.reason;
    return status{errc::corruption, std::move(msg)};
}

}  // namespace

void encode_record_to(const record& r, std::string& out) {
    out.reserve(out.size() + encoded_size_hint(r));
    mp::put_array_header(out, record_fields);
    mp::put_uint(out, r.offset);
    mp::put_int(out, r.ts_ms);
    mp::put_str(out, r.collection);
    mp::put_str(out, r.key);
    mp::put_uint(out, static_cast<std::uint64_t>(r.operation));
    mp::put_str(out, r.value);
    mp::put_map_header(out, static_cast<std::uint32_t>(r.headers.size()));
    for (const auto& [k, v] : r.headers) {
        mp::put_str(out, k);
        mp::put_str(out, v);
    }
}

std::string encode_record(const record& r) {
    std::string out;
    encode_record_to(r, out);
    return out;
}

result<record_view> decode_record(std::string_view bytes, const decode_limits& limits) {
    mp::reader in(bytes);
    record_view rv;
    field_failure why;
    if (!read_record(in, limits, rv, why)) return field_error("record", why, in);
    if (!in.at_end())
        return status{errc::corruption,
                      "record: " + std::to_string(in.remaining()) + " trailing bytes after the record"};
    return rv;
}

void batch_body_builder::add(std::string_view encoded_record) {
    _records.append(encoded_record);
    ++_count;
}

std::string batch_body_builder::finish() {
    // One copy of the records to put the (minimal) array header in front. Reserving header room
    // up front instead would make bytes() count it; the copy is a memcpy of at most the batch
    // size limit and keeps the body canonical msgpack.
    std::string body;
    body.reserve(_records.size() + 5);
    mp::put_array_header(body, static_cast<std::uint32_t>(_count));
    body.append(_records);
    _records.clear();
    _count = 0;
    return body;
}

result<std::vector<record_view>> decode_batch_body(std::string_view body, const decode_limits& limits) {
    mp::reader in(body);
    std::uint32_t n = 0;
    if (!in.read_array_header(n))
        return status{errc::corruption, std::string("batch body: ") + in.error()};
    if (n > limits.max_records)
        return status{errc::corruption, "batch body: " + std::to_string(n) + " records exceed the limit of " +
                                            std::to_string(limits.max_records)};
    std::vector<record_view> out;
    out.reserve(std::min<std::size_t>(n, in.remaining() / min_record_bytes + 1));
    for (std::uint32_t i = 0; i < n; ++i) {
        record_view& rv = out.emplace_back();
        field_failure why;
        if (!read_record(in, limits, rv, why))
            return field_error("batch body: record " + std::to_string(i), why, in);
    }
    if (!in.at_end())
        return status{errc::corruption,
                      "batch body: " + std::to_string(in.remaining()) + " trailing bytes after the records"};
    return out;
}

result<decoded_batch> decode_batch_records(std::string_view body, const decode_limits& limits) {
    mp::reader in(body);
    std::uint32_t n = 0;
    if (!in.read_array_header(n))
        return status{errc::corruption, std::string("batch body: ") + in.error()};
    if (n > limits.max_records)
        return status{errc::corruption, "batch body: " + std::to_string(n) + " records exceed the limit of " +
                                            std::to_string(limits.max_records)};
    decoded_batch out;
    out.records.reserve(std::min<std::size_t>(n, in.remaining() / min_record_bytes + 1));
    out.indexes.reserve(out.records.capacity());
    for (std::uint32_t i = 0; i < n; ++i) {
        const char* start = in.position();
        record_view rv;
        field_failure why;
        if (read_record(in, limits, rv, why)) {
            out.records.push_back(std::move(rv));
            out.indexes.push_back(i);
            continue;
        }
        std::string reason = field_error("record " + std::to_string(i), why, in).message();
        // Past the bad record to its neighbour: one msgpack value, whatever it holds.
        mp::reader rest(std::string_view(start, body.size() - static_cast<std::size_t>(start - body.data())));
        if (rest.skip()) {
            out.bad.push_back({i, std::move(reason)});
            in = mp::reader(std::string_view(rest.position(), rest.remaining()));
            continue;
        }
        for (std::uint32_t j = i; j < n; ++j)
            out.bad.push_back({j, j == i ? reason : "record " + std::to_string(j) + ": unreadable after record " +
                                                         std::to_string(i) + " (" + reason + ")"});
        return out;
    }
    if (!in.at_end() && !out.records.empty()) {
        // Trailing bytes: the body is not what the ventilator built, so no record of it is trusted.
        const std::string reason = "batch body: " + std::to_string(in.remaining()) + " trailing bytes after the records";
        for (std::size_t idx : out.indexes) out.bad.push_back({idx, reason});
        out.records.clear();
        out.indexes.clear();
        std::sort(out.bad.begin(), out.bad.end(), [](const bad_record& a, const bad_record& b) { return a.index < b.index; });
    }
    return out;
}

}  // namespace syncline::codec
