#include "gateway/protocol.h"

#include <gtest/gtest.h>

#include "common/codec.h"

namespace syncline::gateway {
namespace {

TEST(protocol, publish_round_trips) {
    record r;
    r.collection = "users";
    r.key = "42";
    r.value = "{}";
    std::vector<record> records{r, r};
    const wire::frames f = encode_publish("orders-1", 7, records);
    auto req = decode_request(f.header, f.body);
    ASSERT_TRUE(req.ok()) << req.get_status().message();
    EXPECT_EQ(req->type, request::kind::publish);
    EXPECT_EQ(req->producer, "orders-1");
    EXPECT_EQ(req->sequence, 7u);
    EXPECT_EQ(req->format, body_format::msgpack);
    auto views = codec::decode_batch_body(req->body);
    ASSERT_TRUE(views.ok());
    EXPECT_EQ(views->size(), 2u);
}

TEST(protocol, requests_that_do_not_make_sense_are_corrupt) {
    // A producer without a sequence, a sequence without a producer, a bad id, an unknown type.
    EXPECT_FALSE(decode_request(encode_publish("p", 0, {}).header, "").ok());
    EXPECT_FALSE(decode_request(encode_publish("bad id!", 1, {}).header, "").ok());
    EXPECT_FALSE(decode_request("", "").ok());
    EXPECT_FALSE(decode_request("\x81\xa1v\x02", "").ok());  // version 2
    EXPECT_FALSE(decode_request("\x82\xa1v\x01\xa4type\xa3xyz", "").ok());
    EXPECT_FALSE(decode_request(std::string("\xdf\xff\xff\xff\xff", 5), "").ok());
}

TEST(protocol, replies_round_trip) {
    reply p;
    p.type = reply::kind::published;
    p.first = 10;
    p.last = 19;
    p.count = 10;
    p.duplicate = true;
    p.sequence = 3;
    wire::frames f = encode_reply(p);
    auto got = decode_reply(f.header, f.body);
    ASSERT_TRUE(got.ok()) << got.get_status().message();
    EXPECT_EQ(got->type, reply::kind::published);
    EXPECT_EQ(got->first, 10u);
    EXPECT_EQ(got->last, 19u);
    EXPECT_TRUE(got->duplicate);
    EXPECT_EQ(got->sequence, 3u);

    reply r;
    r.type = reply::kind::refused;
    r.reason = "missing \"key\"";
    r.index = 4;
    f = encode_reply(r);
    got = decode_reply(f.header, f.body);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->type, reply::kind::refused);
    EXPECT_EQ(got->index, 4u);
    EXPECT_EQ(got->reason, r.reason);

    reply b;
    b.type = reply::kind::busy;
    b.retry_after_ms = 100;
    f = encode_reply(b);
    got = decode_reply(f.header, f.body);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->type, reply::kind::busy);
    EXPECT_EQ(got->retry_after_ms, 100u);
}

TEST(protocol, producer_entries_round_trip) {
    producer_entry in;
    static_cast<producer_request&>(in) = {5, 100, 109, 10};
    in.at_ms = 1'700'000'000'000;
    auto e = decode_producer_entry(encode_producer_entry(in));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->sequence, 5u);
    EXPECT_EQ(e->first, 100u);
    EXPECT_EQ(e->last, 109u);
    EXPECT_EQ(e->count, 10u);
    EXPECT_EQ(e->at_ms, in.at_ms);
    EXPECT_TRUE(e->earlier.empty());
    EXPECT_FALSE(decode_producer_entry("\x93\x01\x02\x03").ok());

    // A window's earlier requests, newest first; find() answers any of them.
    in.earlier = {{4, 90, 99, 10}, {3, 80, 89, 10}};
    e = decode_producer_entry(encode_producer_entry(in));
    ASSERT_TRUE(e.ok());
    ASSERT_EQ(e->earlier.size(), 2u);
    ASSERT_NE(e->find(3), nullptr);
    EXPECT_EQ(e->find(3)->first, 80u);
    EXPECT_EQ(e->find(5)->first, 100u);
    EXPECT_EQ(e->find(2), nullptr);

    // The first form (4 fields, written before windows) still reads; odd field counts do not.
    e = decode_producer_entry("\x94\x07\x0a\x0b\x02");
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->sequence, 7u);
    EXPECT_EQ(e->at_ms, 0u);
    EXPECT_FALSE(decode_producer_entry("\x96\x07\x0a\x0b\x02\x00\x01").ok());
}

TEST(protocol, window_fields_round_trip_and_are_checked) {
    publish_header h;
    h.producer = "p";
    h.sequence = 9;
    h.previous = 8;
    h.window = 16;
    auto req = decode_request(encode_publish_header(h), encode_publish_body({}));
    ASSERT_TRUE(req.ok()) << req.get_status().message();
    EXPECT_EQ(req->previous, 8u);
    EXPECT_EQ(req->window, 16u);
    // Without them: no previous, window 1.
    req = decode_request(encode_publish("p", 3, {}).header, "");
    ASSERT_TRUE(req.ok());
    EXPECT_FALSE(req->previous.has_value());
    EXPECT_EQ(req->window, 1u);
    h.previous = 9;  // Not below the sequence.
    EXPECT_FALSE(decode_request(encode_publish_header(h), "").ok());
    h.previous = 8;
    h.window = max_window + 1;
    EXPECT_FALSE(decode_request(encode_publish_header(h), "").ok());

    reply o;
    o.type = reply::kind::out_of_order;
    o.sequence = 9;
    o.last = 6;
    const wire::frames f = encode_reply(o);
    auto got = decode_reply(f.header, f.body);
    ASSERT_TRUE(got.ok()) << got.get_status().message();
    EXPECT_EQ(got->type, reply::kind::out_of_order);
    EXPECT_EQ(got->sequence, 9u);
    EXPECT_EQ(got->last, 6u);
}

}  // namespace
}  // namespace syncline::gateway
