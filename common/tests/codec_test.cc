#include "common/codec.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <random>

#include "common/internal/msgpack_lite.h"

namespace syncline::codec {
namespace {

record sample(std::uint64_t offset) {
    record r;
    r.offset = offset;
    r.ts_ms = 1'700'000'000'000 + static_cast<std::int64_t>(offset);
    r.collection = "users";
    r.key = "user-" + std::to_string(offset);
    r.value = R"({"name":"ada","n":)" + std::to_string(offset) + "}";
    return r;
}

void expect_same(const record& want, const record_view& got) {
    EXPECT_EQ(got.offset, want.offset);
    EXPECT_EQ(got.ts_ms, want.ts_ms);
    EXPECT_EQ(got.collection, want.collection);
    EXPECT_EQ(got.key, want.key);
    EXPECT_EQ(got.operation, want.operation);
    EXPECT_EQ(got.value, want.value);
    ASSERT_EQ(got.headers.size(), want.headers.size());
    for (std::size_t i = 0; i < want.headers.size(); ++i) {
        EXPECT_EQ(got.headers[i].first, want.headers[i].first);
        EXPECT_EQ(got.headers[i].second, want.headers[i].second);
    }
}

// Every view of a decoded record must point inside the input buffer.
void expect_views_inside(const record_view& rv, std::string_view buf) {
    auto inside = [&](std::string_view v) {
        if (v.empty()) return true;
        return v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size();
    };
    EXPECT_TRUE(inside(rv.collection));
    EXPECT_TRUE(inside(rv.key));
    EXPECT_TRUE(inside(rv.value));
    for (const auto& [k, v] : rv.headers) {
        EXPECT_TRUE(inside(k));
        EXPECT_TRUE(inside(v));
    }
}

std::string body_of(std::uint64_t first, std::size_t n) {
    batch_body_builder b;
    for (std::size_t i = 0; i < n; ++i) b.add(encode_record(sample(first + i)));
    return b.finish();
}

TEST(codec, record_round_trip_with_headers) {
    record r = sample(42);
    r.headers = {{"source", "api"}, {"trace", "abc"}};
    const std::string bytes = encode_record(r);
    auto rv = decode_record(bytes);
    ASSERT_TRUE(rv.ok()) << rv.get_status().to_string();
    expect_same(r, *rv);
    expect_views_inside(*rv, bytes);
}

TEST(codec, round_trip_edge_values) {
    record r;
    r.offset = std::numeric_limits<std::uint64_t>::max();
    r.ts_ms = std::numeric_limits<std::int64_t>::min();
    r.collection = "c";
    r.key = std::string("k\0e\xff\x00y", 6);  // binary key with NULs
    r.operation = op::del;
    r.value = "";  // deletes carry no value
    for (std::int64_t ts : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{-33}, std::int64_t{-200},
                            std::int64_t{-40000}, std::int64_t{-3'000'000'000}, std::int64_t{127},
                            std::int64_t{128}, std::numeric_limits<std::int64_t>::max()}) {
        r.ts_ms = ts;
        auto rv = decode_record(encode_record(r));
        ASSERT_TRUE(rv.ok()) << ts << " " << rv.get_status().to_string();
        EXPECT_EQ(rv->ts_ms, ts);
    }
    for (std::uint64_t off : {std::uint64_t{0}, std::uint64_t{127}, std::uint64_t{128}, std::uint64_t{255},
                              std::uint64_t{256}, std::uint64_t{65535}, std::uint64_t{65536},
                              std::uint64_t{0xffffffff}, std::uint64_t{0x100000000}}) {
        r.offset = off;
        const std::string bytes = encode_record(r);
        auto rv = decode_record(bytes);
        ASSERT_TRUE(rv.ok()) << off;
        expect_same(r, *rv);
    }
}

TEST(codec, round_trip_binary_and_long_fields) {
    record r = sample(7);
    std::string bin;
    for (int i = 0; i < 256; ++i) bin.push_back(static_cast<char>(i));
    for (std::size_t len : {std::size_t{31}, std::size_t{32}, std::size_t{255}, std::size_t{256},
                            std::size_t{65535}, std::size_t{65536}, std::size_t{200'000}}) {
        r.value.clear();
        while (r.value.size() < len) r.value += bin;
        r.value.resize(len);
        r.key = bin.substr(0, len % 256);
        r.headers = {{std::string(len % 300, 'h'), r.value.substr(0, 100)}};
        const std::string bytes = encode_record(r);
        auto rv = decode_record(bytes);
        ASSERT_TRUE(rv.ok()) << len << " " << rv.get_status().to_string();
        expect_same(r, *rv);
    }
}

TEST(codec, encode_record_to_appends) {
    std::string out = "prefix";
    encode_record_to(sample(1), out);
    EXPECT_EQ(out.substr(0, 6), "prefix");
    EXPECT_EQ(out.substr(6), encode_record(sample(1)));
}

TEST(codec, to_record_copies) {
    record r = sample(3);
    r.headers = {{"a", "b"}};
    std::string bytes = encode_record(r);
    record copy = decode_record(bytes)->to_record();
    bytes.assign(bytes.size(), 'x');  // the copy must not depend on the buffer any more
    EXPECT_EQ(copy.key, r.key);
    EXPECT_EQ(copy.value, r.value);
    EXPECT_EQ(copy.headers, r.headers);
    EXPECT_EQ(copy.offset, 3u);
}

TEST(codec, op_names) {
    EXPECT_EQ(op_name(op::upsert), "upsert");
    EXPECT_EQ(op_name(op::del), "delete");
}

TEST(codec, accepts_bin_and_signed_encodings) {
    // [5, 9, "c", bin "k\0", 1, bin "", {"h": bin "v"}] written by hand.
    std::string b;
    mp::put_array_header(b, 7);
    b += "\xd3";  // int64 5: a signed encoding of an unsigned field
    b += std::string("\x00\x00\x00\x00\x00\x00\x00\x05", 8);
    b += "\xcc\x09";
    mp::put_str(b, "c");
    b += std::string("\xc4\x02k\x00", 4);
    b += "\x01";
    b += std::string("\xc5\x00\x00", 3);
    mp::put_map_header(b, 1);
    mp::put_str(b, "h");
    b += std::string("\xc6\x00\x00\x00\x01v", 6);
    auto rv = decode_record(b);
    ASSERT_TRUE(rv.ok()) << rv.get_status().to_string();
    EXPECT_EQ(rv->offset, 5u);
    EXPECT_EQ(rv->ts_ms, 9);
    EXPECT_EQ(rv->key, std::string_view("k\0", 2));
    EXPECT_EQ(rv->operation, op::del);
    EXPECT_EQ(rv->value, "");
    ASSERT_EQ(rv->headers.size(), 1u);
    EXPECT_EQ(rv->headers[0].second, "v");
}

TEST(codec, skips_fields_from_newer_formats) {
    std::string b;
    mp::put_array_header(b, 9);
    mp::put_uint(b, 1);
    mp::put_int(b, 2);
    mp::put_str(b, "c");
    mp::put_str(b, "k");
    mp::put_uint(b, 0);
    mp::put_str(b, "v");
    mp::put_map_header(b, 0);
    mp::put_array_header(b, 2);  // extra field 8: a nested array
    mp::put_str(b, "x");
    mp::put_map_header(b, 0);
    b += std::string("\xd6\x01\x00\x00\x00\x00", 6);  // extra field 9: fixext 4
    auto rv = decode_record(b);
    ASSERT_TRUE(rv.ok()) << rv.get_status().to_string();
    EXPECT_EQ(rv->value, "v");
}

TEST(codec, rejects_bad_records) {
    auto expect_corrupt = [](const std::string& bytes, std::string_view what) {
        auto rv = decode_record(bytes);
        ASSERT_FALSE(rv.ok()) << what;
        EXPECT_EQ(rv.get_status().code(), errc::corruption) << what;
        EXPECT_FALSE(rv.get_status().message().empty());
    };
    expect_corrupt("", "empty");
    expect_corrupt(encode_record(sample(1)) + "x", "trailing byte");
    std::string six;
    mp::put_array_header(six, 6);
    mp::put_uint(six, 1);
    mp::put_int(six, 1);
    mp::put_str(six, "c");
    mp::put_str(six, "k");
    mp::put_uint(six, 0);
    mp::put_str(six, "v");
    expect_corrupt(six, "six fields");
    std::string bad_op = encode_record(sample(1));
    // The op byte follows the key; patch it to 2.
    record r = sample(1);
    std::string prefix;
    mp::put_array_header(prefix, 7);
    mp::put_uint(prefix, r.offset);
    mp::put_int(prefix, r.ts_ms);
    mp::put_str(prefix, r.collection);
    mp::put_str(prefix, r.key);
    ASSERT_EQ(bad_op[prefix.size()], 0);
    bad_op[prefix.size()] = 2;
    expect_corrupt(bad_op, "op 2");
    std::string neg_offset;
    mp::put_array_header(neg_offset, 7);
    mp::put_int(neg_offset, -1);
    expect_corrupt(neg_offset, "negative offset");
    expect_corrupt(std::string("\x91\xc1", 2), "reserved type byte");
    expect_corrupt("\x80", "a map, not an array");
}

TEST(codec, enforces_limits) {
    record r = sample(1);
    r.value = std::string(1000, 'v');
    r.headers = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
    const std::string bytes = encode_record(r);
    decode_limits small;
    small.max_field_bytes = 999;
    EXPECT_EQ(decode_record(bytes, small).get_status().code(), errc::corruption);
    small = {};
    small.max_headers = 2;
    EXPECT_EQ(decode_record(bytes, small).get_status().code(), errc::corruption);
    small.max_headers = 3;
    EXPECT_TRUE(decode_record(bytes, small).ok());

    const std::string body = body_of(1, 3);
    decode_limits two;
    two.max_records = 2;
    auto out = decode_batch_body(body, two);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.get_status().code(), errc::corruption);
    two.max_records = 3;
    EXPECT_TRUE(decode_batch_body(body, two).ok());
}

TEST(codec, hostile_lengths_fail_fast_without_allocating) {
    // A batch body claiming 4 billion records, and records claiming 4 GiB fields / headers.
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(decode_batch_body(std::string("\xdd\xff\xff\xff\xff", 5)).get_status().code(), errc::corruption);
    EXPECT_EQ(decode_batch_body(std::string("\xdd\xff\xff\xff\xff\x97\x01", 7)).get_status().code(),
              errc::corruption);
    decode_limits huge;
    huge.max_records = std::numeric_limits<std::size_t>::max();
    huge.max_field_bytes = std::numeric_limits<std::size_t>::max();
    huge.max_headers = std::numeric_limits<std::size_t>::max();
    EXPECT_EQ(decode_batch_body(std::string("\xdd\xff\xff\xff\xff", 5), huge).get_status().code(),
              errc::corruption);
    std::string s;
    mp::put_array_header(s, 7);
    mp::put_uint(s, 1);
    mp::put_int(s, 1);
    mp::put_str(s, "c");
    std::string big_key = s + std::string("\xdb\xff\xff\xff\xffkey", 8);
    EXPECT_EQ(decode_record(big_key, huge).get_status().code(), errc::corruption);
    std::string big_bin = s + std::string("\xc6\xff\xff\xff\xffkey", 8);
    EXPECT_EQ(decode_record(big_bin, huge).get_status().code(), errc::corruption);
    std::string many_headers = s;
    mp::put_str(many_headers, "k");
    mp::put_uint(many_headers, 0);
    mp::put_str(many_headers, "v");
    many_headers += std::string("\xdf\xff\xff\xff\xff", 5);
    EXPECT_EQ(decode_record(many_headers, huge).get_status().code(), errc::corruption);
    // Deep nesting in an extra field must not recurse without bound.
    std::string deep;
    mp::put_array_header(deep, 8);
    deep += s.substr(1);
    mp::put_str(deep, "k");
    mp::put_uint(deep, 0);
    mp::put_str(deep, "v");
    mp::put_map_header(deep, 0);
    deep += std::string(100'000, '\x91');
    deep += '\x01';
    EXPECT_EQ(decode_record(deep).get_status().code(), errc::corruption);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(codec, batch_body_round_trip) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{1000},
                          std::size_t{70'000}}) {
        batch_body_builder b;
        std::size_t bytes = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const std::string e = encode_record(sample(100 + i));
            bytes += e.size();
            b.add(e);
        }
        EXPECT_EQ(b.count(), n);
        EXPECT_EQ(b.bytes(), bytes);
        const std::string body = b.finish();
        EXPECT_EQ(b.count(), 0u);
        EXPECT_EQ(b.bytes(), 0u);
        auto out = decode_batch_body(body);
        ASSERT_TRUE(out.ok()) << n << " " << out.get_status().to_string();
        ASSERT_EQ(out->size(), n);
        for (std::size_t i = 0; i < n; i += 1 + n / 50) {
            expect_same(sample(100 + i), (*out)[i]);
            expect_views_inside((*out)[i], body);
        }
    }
}

TEST(codec, builder_is_reusable_after_finish) {
    batch_body_builder b;
    b.add(encode_record(sample(1)));
    (void)b.finish();
    b.add(encode_record(sample(2)));
    auto out = decode_batch_body(b.finish());
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].offset, 2u);
}

TEST(codec, batch_body_rejects_trailing_and_short_bodies) {
    const std::string body = body_of(1, 3);
    EXPECT_EQ(decode_batch_body(body + '\x01').get_status().code(), errc::corruption);
    EXPECT_EQ(decode_batch_body("").get_status().code(), errc::corruption);
    std::string claims_four = body;
    claims_four[0] = '\x94';
    EXPECT_EQ(decode_batch_body(claims_four).get_status().code(), errc::corruption);
}

TEST(codec, every_truncated_prefix_is_corruption) {
    record r = sample(123456789);
    r.headers = {{"h1", "v1"}, {"h2", std::string(300, 'x')}};
    r.value = std::string(70'000, 'v');
    const std::string rec = encode_record(r);
    for (std::size_t len = 0; len < rec.size(); ++len) {
        auto rv = decode_record(std::string_view(rec).substr(0, len));
        ASSERT_FALSE(rv.ok()) << len;
        ASSERT_EQ(rv.get_status().code(), errc::corruption) << len;
    }
    const std::string body = body_of(1, 20);
    for (std::size_t len = 0; len < body.size(); ++len) {
        auto out = decode_batch_body(std::string_view(body).substr(0, len));
        ASSERT_FALSE(out.ok()) << len;
        ASSERT_EQ(out.get_status().code(), errc::corruption) << len;
    }
}

TEST(codec, random_bytes_never_crash) {
    std::mt19937_64 rng(20261123);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 64);
    for (int iter = 0; iter < 20'000; ++iter) {
        std::string buf(static_cast<std::size_t>(length(rng)), '\0');
        for (char& c : buf) c = static_cast<char>(byte(rng));
        // Bias half the inputs towards plausible starts so the reader gets past the first byte.
        if (iter % 2 == 0 && !buf.empty()) buf[0] = static_cast<char>(0x90 | (iter % 16));
        auto rv = decode_record(buf);
        if (rv.ok()) expect_views_inside(*rv, buf);
        else ASSERT_EQ(rv.get_status().code(), errc::corruption);
        auto out = decode_batch_body(buf);
        if (!out.ok()) { ASSERT_EQ(out.get_status().code(), errc::corruption); }
    }
}

TEST(codec, mutated_encodings_never_crash) {
    record r = sample(99);
    r.headers = {{"k", "v"}};
    const std::string rec = encode_record(r);
    // Every single bit flip of a record.
    for (std::size_t i = 0; i < rec.size() * 8; ++i) {
        std::string m = rec;
        m[i / 8] = static_cast<char>(m[i / 8] ^ (1 << (i % 8)));
        auto rv = decode_record(m);
        if (rv.ok()) expect_views_inside(*rv, m);
        else ASSERT_EQ(rv.get_status().code(), errc::corruption);
    }
    // Random multi-byte changes of a batch body.
    const std::string body = body_of(1, 10);
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::size_t> pos(0, body.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> edits(1, 4);
    for (int iter = 0; iter < 10'000; ++iter) {
        std::string m = body;
        for (int e = edits(rng); e > 0; --e) m[pos(rng)] = static_cast<char>(byte(rng));
        if (iter % 3 == 0) m.resize(pos(rng));
        auto out = decode_batch_body(m);
        if (out.ok()) {
            for (const record_view& rv : *out) expect_views_inside(rv, m);
        } else {
            ASSERT_EQ(out.get_status().code(), errc::corruption);
        }
    }
}

}  // namespace
}  // namespace syncline::codec

namespace syncline::codec {
namespace {

// One set of limits (common/record.h): what check_record lets a writer store, decode_* accepts,
// and one over any limit is refused by both, with the field named.
TEST(record_limits, every_record_a_writer_may_store_decodes) {
    record r = sample(7);
    for (std::size_t h = 0; h < limits::max_headers; ++h) r.headers.emplace_back("h" + std::to_string(h), "v");
    r.value.assign(limits::max_value_bytes, 'x');
    ASSERT_EQ(check_record(r), "");
    const std::string bytes = encode_record(r);
    auto rv = decode_record(bytes);
    ASSERT_TRUE(rv.ok()) << rv.get_status().message();
    EXPECT_EQ(rv->value.size(), limits::max_value_bytes);
    EXPECT_EQ(rv->headers.size(), limits::max_headers);
    EXPECT_LE(bytes.size(), limits::max_record_bytes);

    r.value.push_back('x');
    EXPECT_EQ(check_record(r), "value is 67108865 bytes, more than the limit of 67108864");
    r.value.clear();
    r.headers.emplace_back("one", "more");
    EXPECT_EQ(check_record(r), "257 headers, more than the limit of 256");
    r.headers.clear();
    r.key.clear();
    EXPECT_EQ(check_record(r), "empty key");
}

// The issue's reproduction: three records, the middle one with 300 headers. Decoded record by
// record, only the middle one is bad, and the reason names the limit (never ": ok").
TEST(record_limits, a_bad_record_in_a_batch_leaves_its_neighbours_decodable) {
    batch_body_builder builder;
    for (std::uint64_t o = 1; o <= 3; ++o) {
        record r = sample(o);
        if (o == 2)
            for (int h = 0; h < 300; ++h) r.headers.emplace_back("h" + std::to_string(h), "v");
        builder.add(encode_record(r));
    }
    const std::string body = builder.finish();
    auto whole = decode_batch_body(body);
    ASSERT_FALSE(whole.ok());
    EXPECT_EQ(whole.get_status().message(),
              "batch body: record 1: field headers: 300 entries, more than the limit of 256");

    auto each = decode_batch_records(body);
    ASSERT_TRUE(each.ok()) << each.get_status().message();
    ASSERT_EQ(each->records.size(), 2u);
    EXPECT_EQ(each->records[0].offset, 1u);
    EXPECT_EQ(each->records[1].offset, 3u);
    EXPECT_EQ(each->indexes, (std::vector<std::size_t>{0, 2}));
    ASSERT_EQ(each->bad.size(), 1u);
    EXPECT_EQ(each->bad[0].index, 1u);
    EXPECT_EQ(each->bad[0].reason, "record 1: field headers: 300 entries, more than the limit of 256");

    // A record whose end cannot be found takes the rest of the body with it, not what came before.
    std::string cut = body.substr(0, body.size() - 3);
    auto truncated = decode_batch_records(cut);
    ASSERT_TRUE(truncated.ok());
    EXPECT_EQ(truncated->records.size(), 1u);
    ASSERT_EQ(truncated->bad.size(), 2u);
    EXPECT_EQ(truncated->bad[1].index, 2u);
}

}  // namespace
}  // namespace syncline::codec
