#pragma once
// common/codec.h: msgpack encoding of change records, as stored in the log and carried in batches.
// A record is a msgpack array [offset, ts_ms, collection, key, op, value, headers-map].
// A batch body is a msgpack array of such records: built from the stored bytes without
// re-encoding them (the ventilator forwards what RocksDB holds).
// Decoding never trusts its input: bad bytes give errc::corruption, never a crash, a hang or an
// allocation larger than a small multiple of the input. Thread-safe (no shared state).
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace syncline::codec {

// Limits applied to untrusted input. The defaults are the writers' limits (common/record.h,
// limits::): whatever the log accepted decodes; anything larger is refused as corrupt.
struct decode_limits {
    std::size_t max_records = limits::max_batch_records;   // Records per batch body.
    std::size_t max_field_bytes = limits::max_field_bytes;  // Any single string/bytes field.
    std::size_t max_headers = limits::max_headers;          // Header entries per record.
};
static_assert(limits::max_value_bytes <= limits::max_field_bytes, "readers must accept every value a writer accepts");

// The stored/wire form of one record.
std::string encode_record(const record& r);
// Appends the encoded record to `out` (no intermediate string).
void encode_record_to(const record& r, std::string& out);

// Decodes one record; the views point into `bytes`, which must outlive the result.
result<record_view> decode_record(std::string_view bytes, const decode_limits& limits = {});

// Incrementally builds a batch body from already-encoded records.
class batch_body_builder {
public:
    // Appends one encoded record (as returned by encode_record / stored in the log).
    void add(std::string_view encoded_record);
    std::size_t count() const noexcept { return _count; }
    std::size_t bytes() const noexcept { return _records.size(); }
    // The finished body (array header + records). Leaves the builder empty.
    std::string finish();

private:
    std::string _records;
    std::size_t _count = 0;
};

// Decodes a batch body; the views point into `body`, which must outlive the result. The first
// record that does not decode fails the whole body (errc::corruption naming its index and field).
result<std::vector<record_view>> decode_batch_body(std::string_view body, const decode_limits& limits = {});

// A batch body decoded record by record, so that one bad record does not take its neighbours
// down: `records` holds those that decoded, in body order, and `bad` the others, by their index
// in the body (ascending), with the reason. When a record's end cannot be found (truncated or not
// msgpack), it and every record after it are in `bad`. records.size() + bad.size() is the body's
// record count.
struct bad_record {
    std::size_t index = 0;
    std::string reason;
};
struct decoded_batch {
    std::vector<record_view> records;
    std::vector<std::size_t> indexes;  // indexes[i]: the body index of records[i].
    std::vector<bad_record> bad;
};
// Fails (errc::corruption) only when the body's array header itself is bad or over max_records.
result<decoded_batch> decode_batch_records(std::string_view body, const decode_limits& limits = {});

}  // namespace syncline::codec
