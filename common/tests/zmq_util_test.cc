#include "common/zmq_util.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

namespace syncline::zmqx {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class zmq_util_test : public ::testing::Test {
protected:
    void SetUp() override {
        _dir = fs::temp_directory_path() / ("syncline-zmq-" + std::to_string(::getpid()));
        fs::create_directories(_dir);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(_dir, ec);
    }

    // A connected PUSH -> PULL pair over `endpoint`.
    std::pair<zmq::socket_t, zmq::socket_t> pair(const std::string& endpoint) {
        zmq::socket_t pull(_ctx, zmq::socket_type::pull);
        zmq::socket_t push(_ctx, zmq::socket_type::push);
        tune(pull);
        tune(push);
        auto bound = zmqx::bind(pull, endpoint);
        EXPECT_TRUE(bound.ok()) << bound.get_status().to_string();
        EXPECT_TRUE(zmqx::connect(push, *bound).ok());
        return {std::move(push), std::move(pull)};
    }

    zmq::context_t _ctx;
    fs::path _dir;
};

wire::frames sample() { return wire::encode(wire::hello{"orders", 42}); }

TEST_F(zmq_util_test, send_receive_round_trip_inproc) {
    auto [push, pull] = pair("inproc://round-trip");
    ASSERT_TRUE(send(push, sample(), 1000ms));
    auto got = receive(pull, 1000ms);
    ASSERT_TRUE(got.ok()) << got.get_status().to_string();
    ASSERT_TRUE(got->has_value());
    const received& r = **got;
    EXPECT_TRUE(r.routing_id.empty());
    EXPECT_EQ(r.header_view(), sample().header);
    EXPECT_EQ(r.body_view(), sample().body);
    auto msg = wire::decode(r.header_view(), r.body_view());
    ASSERT_TRUE(msg.ok());
    EXPECT_EQ(std::get<wire::hello>(*msg).ventilator_epoch, 42u);
}

TEST_F(zmq_util_test, send_receive_over_ipc) {
    const std::string endpoint = "ipc://" + (_dir / "work.sock").string();
    auto [push, pull] = pair(endpoint);
    ASSERT_TRUE(send(push, "header", std::string(100'000, 'b'), 2000ms));
    auto got = receive(pull, 2000ms);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->header_view(), "header");
    EXPECT_EQ((*got)->body_view().size(), 100'000u);
}

TEST_F(zmq_util_test, receive_times_out_with_nullopt) {
    zmq::socket_t pull(_ctx, zmq::socket_type::pull);
    ASSERT_TRUE(zmqx::bind(pull, "inproc://silent").ok());
    const auto start = std::chrono::steady_clock::now();
    auto got = receive(pull, 50ms);
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value());
    EXPECT_GE(std::chrono::steady_clock::now() - start, 40ms);
}

TEST_F(zmq_util_test, wrong_frame_count_is_corruption_and_drained) {
    auto [push, pull] = pair("inproc://frames");
    push.send(zmq::str_buffer("only-one"));
    push.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
    push.send(zmq::str_buffer("b"), zmq::send_flags::sndmore);
    push.send(zmq::str_buffer("c"));
    ASSERT_TRUE(send(push, "h", "b", 1000ms));

    auto one = receive(pull, 1000ms);
    ASSERT_FALSE(one.ok());
    EXPECT_EQ(one.get_status().code(), errc::corruption);
    EXPECT_NE(one.get_status().message().find("got 1"), std::string::npos);
    auto three = receive(pull, 1000ms);
    ASSERT_FALSE(three.ok());
    EXPECT_EQ(three.get_status().code(), errc::corruption);
    EXPECT_NE(three.get_status().message().find("got 3"), std::string::npos);
    auto good = receive(pull, 1000ms);  // the bad messages left nothing behind
    ASSERT_TRUE(good.ok() && good->has_value());
    EXPECT_EQ((*good)->header_view(), "h");
    EXPECT_EQ((*good)->body_view(), "b");
}

TEST_F(zmq_util_test, router_dealer_with_routing_id) {
    zmq::socket_t router(_ctx, zmq::socket_type::router);
    zmq::socket_t dealer(_ctx, zmq::socket_type::dealer);
    tune(router);
    tune(dealer);
    auto bound = zmqx::bind(router, "tcp://127.0.0.1:*");
    ASSERT_TRUE(bound.ok()) << bound.get_status().to_string();
    ASSERT_TRUE(zmqx::connect(dealer, *bound).ok());
    ASSERT_TRUE(send(dealer, "hello", "body", 2000ms));
    auto got = receive(router, 2000ms, true);
    ASSERT_TRUE(got.ok() && got->has_value()) << got.get_status().to_string();
    EXPECT_FALSE((*got)->routing_id.empty());
    EXPECT_EQ((*got)->header_view(), "hello");
    EXPECT_EQ((*got)->body_view(), "body");
    ASSERT_TRUE(send(router, "reply", "rbody", 1000ms, (*got)->routing_id));
    auto reply = receive(dealer, 2000ms);
    ASSERT_TRUE(reply.ok() && reply->has_value());
    EXPECT_EQ((*reply)->header_view(), "reply");
    EXPECT_EQ((*reply)->body_view(), "rbody");

    // A ROUTER message without the routing frame has the wrong count.
    ASSERT_TRUE(send(dealer, "only", "two", 1000ms));
    auto short_msg = receive(router, 2000ms, false);
    ASSERT_FALSE(short_msg.ok());
    EXPECT_EQ(short_msg.get_status().code(), errc::corruption);
}

TEST_F(zmq_util_test, bind_resolves_wildcard_port_and_reports_errors) {
    zmq::socket_t a(_ctx, zmq::socket_type::pull);
    auto bound = zmqx::bind(a, "tcp://127.0.0.1:*");
    ASSERT_TRUE(bound.ok());
    EXPECT_EQ(bound->rfind("tcp://127.0.0.1:", 0), 0u);
    EXPECT_EQ(bound->find('*'), std::string::npos);
    EXPECT_GT(std::stoi(bound->substr(bound->rfind(':') + 1)), 0);

    zmq::socket_t b(_ctx, zmq::socket_type::pull);
    auto in_use = zmqx::bind(b, *bound);
    ASSERT_FALSE(in_use.ok());
    EXPECT_NE(in_use.get_status().message().find(*bound), std::string::npos);

    auto bad = zmqx::bind(b, "nonsense://x");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.get_status().code(), errc::invalid_argument);
    status c = zmqx::connect(b, "tcp://no-port");
    EXPECT_FALSE(c.ok());
}

TEST_F(zmq_util_test, a_frame_over_the_inbound_limit_drops_its_sender_and_allocates_nothing) {
    const std::string path = (_dir / "limited.sock").string();
    zmq::socket_t pull(_ctx, zmq::socket_type::pull);
    tune(pull, {.max_message_bytes = 1024});
    ASSERT_TRUE(zmqx::bind(pull, "ipc://" + path).ok());

    // Raw bytes as a port scanner or a confused client might send: a ZMTP 1.0 frame header
    // claiming ~8.5 EB. Without the limit libzmq tries to allocate it (fatal under ASan).
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const char junk[] = "\xff\x76\x7c\x8d\x69\xeb\x82\x7f\x45\x00junk";
    ASSERT_GT(::send(fd, junk, sizeof junk - 1, MSG_NOSIGNAL), 0);

    // A well-formed message over the limit is dropped too; the sockets go on working.
    zmq::socket_t big(_ctx, zmq::socket_type::push);
    tune(big);
    ASSERT_TRUE(zmqx::connect(big, "ipc://" + path).ok());
    ASSERT_TRUE(send(big, "header", std::string(4096, 'b'), 2000ms));
    auto got = receive(pull, 300ms);
    ASSERT_TRUE(got.ok()) << got.get_status().to_string();
    EXPECT_FALSE(got->has_value());

    zmq::socket_t small(_ctx, zmq::socket_type::push);
    tune(small);
    ASSERT_TRUE(zmqx::connect(small, "ipc://" + path).ok());
    ASSERT_TRUE(send(small, sample(), 2000ms));
    auto later = receive(pull, 2000ms);
    ASSERT_TRUE(later.ok() && later->has_value());
    EXPECT_EQ((*later)->header_view(), sample().header);
    ::close(fd);
}

TEST_F(zmq_util_test, send_without_peer_returns_false) {
    zmq::socket_t push(_ctx, zmq::socket_type::push);
    tune(push);  // ZMQ_IMMEDIATE: nothing queues before a peer connects
    ASSERT_TRUE(zmqx::bind(push, "inproc://nobody").ok());
    EXPECT_FALSE(send(push, "h", "b"));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(send(push, "h", "b", 50ms));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 40ms);
}

TEST_F(zmq_util_test, send_stops_at_high_water_mark) {
    zmq::socket_t pull(_ctx, zmq::socket_type::pull);
    zmq::socket_t push(_ctx, zmq::socket_type::push);
    socket_tuning t;
    t.send_hwm = 2;
    t.recv_hwm = 2;
    tune(pull, t);
    tune(push, t);
    ASSERT_TRUE(zmqx::bind(pull, "inproc://hwm").ok());
    ASSERT_TRUE(zmqx::connect(push, "inproc://hwm").ok());
    int sent = 0;
    while (sent < 1000 && send(push, "h", "b")) ++sent;
    EXPECT_GT(sent, 0);
    EXPECT_LT(sent, 1000);  // bounded by the HWMs, never unbounded queueing
    int got = 0;
    while (true) {
        auto r = receive(pull, 100ms);
        ASSERT_TRUE(r.ok());
        if (!r->has_value()) break;
        ++got;
    }
    EXPECT_EQ(got, sent);
}

TEST_F(zmq_util_test, terminated_context_is_an_error_not_an_exception) {
    auto ctx = std::make_unique<zmq::context_t>();
    zmq::socket_t pull(*ctx, zmq::socket_type::pull);
    ASSERT_TRUE(zmqx::bind(pull, "inproc://term").ok());
    std::thread closer([&] { ctx->shutdown(); });
    closer.join();
    auto got = receive(pull, 1000ms);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.get_status().code(), errc::cancelled);
    EXPECT_FALSE(send(pull, "h", "b"));
    pull.close();
}

}  // namespace
}  // namespace syncline::zmqx
