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

// Reads one record at the reader's position. On failure returns false and sets `field` to the
// name of the field that did not decode; the reader holds the reason.
bool read_record(mp::reader& in, const decode_limits& limits, record_view& out, const char*& field) {
    std::uint32_t n = 0;
    field = "record";
    if (!in.read_array_header(n)) return false;
    if (n < record_fields) {
        field = "record (fewer than 7 fields)";
        return false;
    }
    field = "offset";
    if (!in.read_uint(out.offset)) return false;
    field = "ts_ms";
    if (!in.read_int(out.ts_ms)) return false;
    field = "collection";
    if (!in.read_bytes(out.collection, limits.max_field_bytes)) return false;
    field = "key";
    if (!in.read_bytes(out.key, limits.max_field_bytes)) return false;
    field = "op";
    std::uint64_t o = 0;
    if (!in.read_uint(o)) return false;
    if (o > 1) {
        field = "op (not 0 or 1)";
        return false;
    }
    out.operation = static_cast<op>(o);
    field = "value";
    if (!in.read_bytes(out.value, limits.max_field_bytes)) return false;
    field = "headers";
    std::uint32_t h = 0;
    if (!in.read_map_header(h)) return false;
    if (h > limits.max_headers) {
        field = "headers (more entries than allowed)";
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
    field = "extra field";
    for (std::uint32_t i = record_fields; i < n; ++i)
        if (!in.skip()) return false;
    return true;
}

status field_error(std::string_view where, const char* field, const mp::reader& in) {
    std::string msg(where);
    msg += ": field ";
    msg += field;
    msg += ": ";
    msg += in.error();
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
    const char* field = nullptr;
    if (!read_record(in, limits, rv, field)) return field_error("record", field, in);
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
        const char* field = nullptr;
        if (!read_record(in, limits, rv, field))
            return field_error("batch body: record " + std::to_string(i), field, in);
    }
    if (!in.at_end())
        return status{errc::corruption,
                      "batch body: " + std::to_string(in.remaining()) + " trailing bytes after the records"};
    return out;
}

}  // namespace syncline::codec
