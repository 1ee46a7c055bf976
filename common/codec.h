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

// Limits applied to untrusted input.
struct decode_limits {
    std::size_t max_records = 100'000;           // Records per batch body. Default: 100,000.
    std::size_t max_field_bytes = 64u << 20;     // Any single string/bytes field. Default: 64 MiB.
    std::size_t max_headers = 256;               // Header entries per record. Default: 256.
};

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

// Decodes a batch body; the views point into `body`, which must outlive the result.
result<std::vector<record_view>> decode_batch_body(std::string_view body, const decode_limits& limits = {});

}  // namespace syncline::codec
