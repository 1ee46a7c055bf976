#include "common/wire.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "common/codec.h"
#include "common/internal/msgpack_lite.h"

namespace syncline::wire {
namespace {

std::string records_body(std::uint64_t first, std::size_t n) {
    codec::batch_body_builder b;
    for (std::size_t i = 0; i < n; ++i) {
        record r;
        r.offset = first + i;
        r.collection = "c";
        r.key = "k" + std::to_string(i);
        r.value = "{}";
        b.add(codec::encode_record(r));
    }
    return b.finish();
}

batch sample_batch(const std::string& body) {
    batch b;
    b.pipeline = "orders";
    b.batch_id = 77;
    b.offsets = {10, 12};
    b.attempt = 2;
    b.count = 3;
    b.body = body;
    return b;
}

ack sample_ack() {
    ack a;
    a.pipeline = "orders";
    a.batch_id = 5;
    a.offsets = {100, 199};
    a.attempt = 1;
    a.worker = "worker-1";
    a.failures = {{120, "bad json"}, {199, std::string("bin\0ary", 7)}};
    return a;
}

progress sample_progress() {
    progress p;
    p.pipeline = "orders";
    p.sink_epoch = 0xdeadbeefcafeull;
    p.committed = 1000;
    p.acked = {{1002, 1010}, {1020, 1020}};
    p.redeliver = {{1011, 1019}};
    return p;
}

template <typename T>
T round_trip(const message& m) {
    const frames f = encode(m);
    EXPECT_EQ(f.header, encode_header(m));
    auto out = decode(f.header, f.body);
    EXPECT_TRUE(out.ok()) << out.get_status().to_string();
    if (!out.ok()) return T{};
    EXPECT_TRUE(std::holds_alternative<T>(*out));
    return std::get<T>(*out);
}

// A header map written field by field, to build malformed headers.
std::string header(std::initializer_list<std::pair<std::string, std::variant<std::uint64_t, std::string>>> kv) {
    std::string out;
    mp::put_map_header(out, static_cast<std::uint32_t>(kv.size()));
    for (const auto& [k, v] : kv) {
        mp::put_str(out, k);
        if (std::holds_alternative<std::uint64_t>(v)) mp::put_uint(out, std::get<std::uint64_t>(v));
        else mp::put_str(out, std::get<std::string>(v));
    }
    return out;
}

void expect_corrupt(std::string_view h, std::string_view b, std::string_view contains = {}) {
    auto out = decode(h, b);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.get_status().code(), errc::corruption);
    EXPECT_NE(out.get_status().message().find(contains), std::string::npos) << out.get_status().message();
}

TEST(wire, batch_round_trip_keeps_body_as_view) {
    const std::string body = records_body(10, 3);
    const frames f = encode(sample_batch(body));
    EXPECT_EQ(f.body, body);
    auto out = decode(f.header, f.body);
    ASSERT_TRUE(out.ok()) << out.get_status().to_string();
    const batch& b = std::get<batch>(*out);
    EXPECT_EQ(b.pipeline, "orders");
    EXPECT_EQ(b.batch_id, 77u);
    EXPECT_EQ(b.offsets, (range{10, 12}));
    EXPECT_EQ(b.attempt, 2u);
    EXPECT_EQ(b.count, 3u);
    EXPECT_EQ(b.body.data(), f.body.data());  // zero copy
    EXPECT_EQ(b.body.size(), f.body.size());
    EXPECT_EQ(type_name(*out), "batch");
    auto records = codec::decode_batch_body(b.body);
    ASSERT_TRUE(records.ok());
    EXPECT_EQ(records->size(), 3u);
}

TEST(wire, ack_round_trip) {
    const ack a = round_trip<ack>(sample_ack());
    EXPECT_EQ(a.pipeline, "orders");
    EXPECT_EQ(a.batch_id, 5u);
    EXPECT_EQ(a.offsets, (range{100, 199}));
    EXPECT_EQ(a.worker, "worker-1");
    ASSERT_EQ(a.failures.size(), 2u);
    EXPECT_EQ(a.failures[0].offset, 120u);
    EXPECT_EQ(a.failures[0].reason, "bad json");
    EXPECT_EQ(a.failures[1].reason, std::string("bin\0ary", 7));
    ack empty = sample_ack();
    empty.failures.clear();
    EXPECT_TRUE(round_trip<ack>(empty).failures.empty());
}

// A reason is whatever a target said (a server message may quote a whole value): the encoder
// shortens it to what every decoder accepts, so a long reason never makes the sink refuse an ack
// (which would redeliver its batch forever).
TEST(wire, reasons_longer_than_decoders_accept_are_shortened_not_refused) {
    ack a = sample_ack();
    a.failures[0].reason = std::string(100'000, 'x');
    const ack got = round_trip<ack>(a);
    ASSERT_EQ(got.failures.size(), 2u);
    EXPECT_LE(got.failures[0].reason.size(), 64u << 10);
    EXPECT_EQ(got.failures[0].reason.rfind(std::string(1000, 'x'), 0), 0u);
    EXPECT_NE(got.failures[0].reason.find("(shortened)"), std::string::npos);
    nack n;
    n.pipeline = "p";
    n.batch_id = 1;
    n.offsets = {1, 2};
    n.worker = "w";
    n.reason = std::string(100'000, 'y');
    EXPECT_LE(round_trip<nack>(n).reason.size(), 64u << 10);
}

TEST(wire, nack_round_trip) {
    nack n;
    n.pipeline = "p";
    n.batch_id = 9;
    n.offsets = {std::uint64_t{1} << 40, (std::uint64_t{1} << 40) + 999};
    n.attempt = 4;
    n.worker = "w";
    n.reason = "connection refused";
    const nack got = round_trip<nack>(n);
    EXPECT_EQ(got.offsets, n.offsets);
    EXPECT_EQ(got.attempt, 4u);
    EXPECT_EQ(got.worker, "w");
    EXPECT_EQ(got.reason, "connection refused");
    EXPECT_EQ(type_name(n), "nack");
}

TEST(wire, hello_round_trip) {
    hello h;
    h.pipeline = "p";
    h.ventilator_epoch = std::numeric_limits<std::uint64_t>::max();
    const hello got = round_trip<hello>(h);
    EXPECT_EQ(got.pipeline, "p");
    EXPECT_EQ(got.ventilator_epoch, h.ventilator_epoch);
    EXPECT_EQ(type_name(h), "hello");
}

TEST(wire, progress_round_trip) {
    const progress got = round_trip<progress>(sample_progress());
    EXPECT_EQ(got.sink_epoch, 0xdeadbeefcafeull);
    EXPECT_EQ(got.committed, 1000u);
    EXPECT_EQ(got.acked, sample_progress().acked);
    EXPECT_EQ(got.redeliver, sample_progress().redeliver);
    progress empty;
    empty.pipeline = "p";
    const progress e = round_trip<progress>(empty);
    EXPECT_TRUE(e.acked.empty());
    EXPECT_TRUE(e.redeliver.empty());
    EXPECT_EQ(type_name(empty), "progress");
}

TEST(wire, receipt_and_progress_received_round_trip) {
    receipt r{"orders", 9, {812001, 813000}, 3, "w3"};
    const receipt got = round_trip<receipt>(r);
    EXPECT_EQ(got.batch_id, 9u);
    EXPECT_EQ(got.offsets, (range{812001, 813000}));
    EXPECT_EQ(got.attempt, 3u);
    EXPECT_EQ(got.worker, "w3");
    EXPECT_EQ(type_name(r), "receipt");

    progress p = sample_progress();
    p.received = {{{1002, 1010}, 1, "w1"}, {{1011, 1019}, 2, "w2"}};
    EXPECT_EQ(round_trip<progress>(p).received, p.received);

    receipt no_worker = r;
    no_worker.worker.clear();
    EXPECT_TRUE(round_trip<receipt>(no_worker).worker.empty());
    receipt bad_attempt = r;
    bad_attempt.attempt = 0;
    const frames f = encode(bad_attempt);
    EXPECT_FALSE(decode(f.header, f.body).ok());
}

TEST(wire, ignores_unknown_fields) {
    std::string h = header({{"v", std::uint64_t{1}}, {"type", "hello"}, {"pipeline", "p"},
                            {"ventilator_epoch", std::uint64_t{3}}, {"future", "x"}});
    std::string body;
    mp::put_map_header(body, 1);
    mp::put_str(body, "later");
    mp::put_array_header(body, 1);
    mp::put_uint(body, 1);
    auto out = decode(h, body);
    ASSERT_TRUE(out.ok()) << out.get_status().to_string();
    EXPECT_EQ(std::get<hello>(*out).ventilator_epoch, 3u);

    std::string pbody;
    mp::put_map_header(pbody, 2);
    mp::put_str(pbody, "new_thing");
    mp::put_str(pbody, "ignored");
    mp::put_str(pbody, "acked");
    mp::put_array_header(pbody, 1);
    mp::put_array_header(pbody, 2);
    mp::put_uint(pbody, 5);
    mp::put_uint(pbody, 6);
    auto p = decode(header({{"v", std::uint64_t{1}}, {"type", "progress"}, {"pipeline", "p"},
                            {"sink_epoch", std::uint64_t{1}}, {"committed", std::uint64_t{4}}}),
                    pbody);
    ASSERT_TRUE(p.ok()) << p.get_status().to_string();
    EXPECT_EQ(std::get<progress>(*p).acked, (std::vector<range>{{5, 6}}));
}

TEST(wire, rejects_bad_version_and_type) {
    const std::string empty_map("\x80", 1);
    expect_corrupt(header({{"v", std::uint64_t{2}}, {"type", "hello"}, {"pipeline", "p"},
                           {"ventilator_epoch", std::uint64_t{1}}}),
                   empty_map, "unknown protocol version 2");
    expect_corrupt(header({{"v", std::uint64_t{0}}, {"type", "hello"}, {"pipeline", "p"}}), empty_map,
                   "unknown protocol version 0");
    expect_corrupt(header({{"v", "1"}, {"type", "hello"}, {"pipeline", "p"}}), empty_map, "'v'");
    expect_corrupt(header({{"v", std::uint64_t{1}}, {"type", "shutdown"}, {"pipeline", "p"}}), empty_map,
                   "unknown message type 'shutdown'");
    expect_corrupt(header({{"type", "hello"}, {"pipeline", "p"}, {"ventilator_epoch", std::uint64_t{1}}}),
                   empty_map, "missing field 'v'");
    expect_corrupt(header({{"v", std::uint64_t{1}}, {"pipeline", "p"}}), empty_map, "missing field 'type'");
    expect_corrupt(header({{"v", std::uint64_t{1}}, {"type", "hello"}, {"ventilator_epoch", std::uint64_t{1}}}),
                   empty_map, "missing field 'pipeline'");
    expect_corrupt(header({{"v", std::uint64_t{1}}, {"type", "hello"}, {"pipeline", ""},
                           {"ventilator_epoch", std::uint64_t{1}}}),
                   empty_map, "empty pipeline");
    expect_corrupt(header({{"v", std::uint64_t{1}}, {"type", std::uint64_t{3}}, {"pipeline", "p"}}), empty_map,
                   "'type'");
    expect_corrupt(header({{"v", std::uint64_t{1}}, {"v", std::uint64_t{1}}, {"type", "hello"},
                           {"pipeline", "p"}, {"ventilator_epoch", std::uint64_t{1}}}),
                   empty_map, "duplicate");
}

TEST(wire, rejects_bad_headers) {
    const std::string empty_map("\x80", 1);
    expect_corrupt("", empty_map);
    expect_corrupt("\x90", empty_map, "expected a map");
    std::string h = encode_header(hello{"p", 1});
    expect_corrupt(h + "x", empty_map, "trailing");
    expect_corrupt(std::string("\xdf\xff\xff\xff\xff", 5), empty_map);  // 4 billion entries claimed
}

TEST(wire, rejects_missing_or_wrong_delivery_fields) {
    const std::string body = records_body(10, 3);
    auto base = [&](std::string_view drop) {
        std::string out;
        std::vector<std::pair<std::string, std::uint64_t>> nums = {
            {"batch_id", 1}, {"first", 10}, {"last", 12}, {"attempt", 1}, {"count", 3}};
        std::uint32_t n = 3;
        for (const auto& kv : nums) n += kv.first != drop;
        mp::put_map_header(out, n);
        mp::put_str(out, "v");
        mp::put_uint(out, 1);
        mp::put_str(out, "type");
        mp::put_str(out, "batch");
        mp::put_str(out, "pipeline");
        mp::put_str(out, "p");
        for (const auto& [k, v] : nums) {
            if (k == drop) continue;
            mp::put_str(out, k);
            mp::put_uint(out, v);
        }
        return out;
    };
    ASSERT_TRUE(decode(base(""), body).ok());
    for (std::string_view f : {"batch_id", "first", "last", "attempt", "count"})
        expect_corrupt(base(f), body, "missing field '" + std::string(f) + "'");

    batch b = sample_batch(body);
    b.offsets = {13, 12};
    frames f = encode(b);
    expect_corrupt(f.header, f.body, "first 13 > last 12");
    b = sample_batch(body);
    b.attempt = 0;
    f = encode(b);
    expect_corrupt(f.header, f.body, "attempt");
    b = sample_batch(body);
    b.count = 4;
    b.offsets = {10, 13};
    f = encode(b);
    expect_corrupt(f.header, f.body, "header says 4");
    b = sample_batch(body);
    b.count = 200'000;
    f = encode(b);
    expect_corrupt(f.header, f.body, "exceeds");
    const std::string no_body;
    b = sample_batch(no_body);
    f = encode(b);
    expect_corrupt(f.header, f.body, "batch body");
    // attempt beyond uint32.
    std::string big = header({{"v", std::uint64_t{1}}, {"type", "nack"}, {"pipeline", "p"},
                              {"batch_id", std::uint64_t{1}}, {"first", std::uint64_t{1}},
                              {"last", std::uint64_t{1}}, {"attempt", std::uint64_t{1} << 33},
                              {"worker", "w"}});
    expect_corrupt(big, encode(nack{}).body, "out of range");

    ack a = sample_ack();
    std::string no_worker = header({{"v", std::uint64_t{1}}, {"type", "ack"}, {"pipeline", "p"},
                                    {"batch_id", std::uint64_t{1}}, {"first", std::uint64_t{100}},
                                    {"last", std::uint64_t{199}}, {"attempt", std::uint64_t{1}}});
    expect_corrupt(no_worker, encode(a).body, "missing field 'worker'");
}

TEST(wire, rejects_bad_bodies) {
    ack a = sample_ack();
    a.failures = {{99, "before the batch"}};
    frames f = encode(a);
    expect_corrupt(f.header, f.body, "outside the batch");
    a.failures = {{100, "x"}, {101, "y"}};
    a.offsets = {100, 100};
    f = encode(a);
    expect_corrupt(f.header, f.body, "more failures");
    f = encode(sample_ack());
    expect_corrupt(f.header, f.body + "x", "trailing");
    expect_corrupt(f.header, "\x91\x01", "failure 0");
    expect_corrupt(f.header, "", "ack body");

    nack n;
    n.pipeline = "p";
    n.worker = "w";
    f = encode(n);
    expect_corrupt(f.header, "\x01", "nack body");
    expect_corrupt(f.header, f.body + "x", "trailing");

    progress p = sample_progress();
    p.acked = {{5, 4}};
    f = encode(p);
    expect_corrupt(f.header, f.body, "first > last");
    f = encode(sample_progress());
    expect_corrupt(f.header, "\x90", "progress body");
    expect_corrupt(f.header, std::string("\x81\xa5" "acked" "\x91\x93\x01\x02\x03", 12), "expected [first, last]");

    f = encode(hello{"p", 1});
    expect_corrupt(f.header, "", "hello body");
    expect_corrupt(f.header, "\x80\x80", "trailing");
}

// Every truncation and many random mutations of valid frames decode to ok or corruption.
TEST(wire, truncated_and_mutated_frames_never_crash) {
    const std::string body = records_body(10, 3);
    std::vector<frames> samples = {encode(sample_batch(body)), encode(sample_ack()),
                                   encode(nack{"p", 1, {1, 2}, 1, "w", "down"}), encode(hello{"p", 9}),
                                   encode(sample_progress())};
    for (const frames& f : samples) {
        for (std::size_t len = 0; len < f.header.size(); ++len) {
            auto out = decode(std::string_view(f.header).substr(0, len), f.body);
            ASSERT_FALSE(out.ok()) << len;
            ASSERT_EQ(out.get_status().code(), errc::corruption);
        }
        for (std::size_t len = 0; len < f.body.size(); ++len) {
            auto out = decode(f.header, std::string_view(f.body).substr(0, len));
            // A batch body is only checked up to its array header; the worker decodes the rest.
            if (!out.ok()) { ASSERT_EQ(out.get_status().code(), errc::corruption); }
        }
    }
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int iter = 0; iter < 20'000; ++iter) {
        const frames& f = samples[static_cast<std::size_t>(iter) % samples.size()];
        std::string h = f.header, b = f.body;
        std::string& target = iter % 3 == 0 || b.empty() ? h : b;
        const int edits = 1 + iter % 3;
        for (int e = 0; e < edits; ++e)
            target[static_cast<std::size_t>(rng() % target.size())] = static_cast<char>(byte(rng));
        auto out = decode(h, b);
        if (!out.ok()) { ASSERT_EQ(out.get_status().code(), errc::corruption); }
    }
    for (int iter = 0; iter < 10'000; ++iter) {
        std::string h(rng() % 48, '\0'), b(rng() % 48, '\0');
        for (char& c : h) c = static_cast<char>(byte(rng));
        for (char& c : b) c = static_cast<char>(byte(rng));
        if (!h.empty()) h[0] = static_cast<char>(0x80 | (iter % 16));
        auto out = decode(h, b);
        if (!out.ok()) { ASSERT_EQ(out.get_status().code(), errc::corruption); }
    }
}

TEST(wire, hostile_counts_fail_fast) {
    const auto start = std::chrono::steady_clock::now();
    const frames a = encode(sample_ack());
    expect_corrupt(a.header, std::string("\xdd\xff\xff\xff\xff", 5));
    const frames p = encode(sample_progress());
    expect_corrupt(p.header, std::string("\x81\xa5" "acked" "\xdd\xff\xff\xff\xff", 12));
    const frames n = encode(nack{"p", 1, {1, 2}, 1, "w", "down"});
    expect_corrupt(n.header, std::string("\xdb\xff\xff\xff\xff", 5));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace syncline::wire

namespace syncline::wire {
namespace {

// Issue 13 item 9: last - first + 1 wraps to 0 for [0, 2^64-1], which a count of 0 matched.
TEST(wire, batch_ranges_are_checked_against_the_count_without_wrapping) {
    const std::string empty = records_body(0, 0);  // The batch views its body: keep it alive.
    batch b = sample_batch(empty);
    b.offsets = {0, ~std::uint64_t{0}};
    b.count = 0;
    frames f = encode(b);
    expect_corrupt(f.header, f.body, "does not hold 0 records");
    b.offsets = {1, ~std::uint64_t{0}};  // 2^64-1 offsets: more than any count
    b.count = 0;
    f = encode(b);
    expect_corrupt(f.header, f.body, "does not hold");
    const std::string three = records_body(10, 3);
    b = sample_batch(three);
    b.offsets = {10, 11};  // two offsets, three records
    f = encode(b);
    expect_corrupt(f.header, f.body, "does not hold 3 records");
    b.offsets = {10, 10 + 100'000};  // wider than one batch reads
    f = encode(b);
    expect_corrupt(f.header, f.body, "does not hold 3 records");
    b.offsets = {10, 13};  // four offsets, three records: a filtered batch (docs/processing.md)
    f = encode(b);
    EXPECT_TRUE(decode(f.header, f.body).ok());

    EXPECT_TRUE(holds_filtered({10, 13}, 3, 100'000));
    EXPECT_TRUE(holds_filtered({10, 13}, 0, 100'000));
    EXPECT_FALSE(holds_filtered({10, 11}, 3, 100'000));
    EXPECT_FALSE(holds_filtered({0, ~std::uint64_t{0}}, 0, 100'000));
    EXPECT_FALSE(holds_filtered({6, 5}, 0, 100'000));

    EXPECT_TRUE(holds_exactly({5, 5}, 1));
    EXPECT_TRUE(holds_exactly({0, ~std::uint64_t{0} - 1}, ~std::uint64_t{0}));
    EXPECT_FALSE(holds_exactly({0, ~std::uint64_t{0}}, 0));
    EXPECT_FALSE(holds_exactly({6, 5}, 0));
}

}  // namespace
}  // namespace syncline::wire

namespace syncline::wire {
namespace {

TEST(wire, sent_round_trip_and_bad_bodies) {
    const sent s = round_trip<sent>(sent{"orders", {{1, 100}, {101, 101}}});
    EXPECT_EQ(s.pipeline, "orders");
    EXPECT_EQ(s.ranges, (std::vector<range>{{1, 100}, {101, 101}}));
    EXPECT_EQ(type_name(s), "sent");
    const frames f = encode(sent{"orders", {{5, 4}}});
    expect_corrupt(f.header, f.body, "first > last");
    std::string empty_map;
    mp::put_map_header(empty_map, 0);
    expect_corrupt(f.header, empty_map, "missing field 'ranges'");
}

}  // namespace
}  // namespace syncline::wire
