#include "common/curve.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/zmq_util.h"

namespace syncline::curve {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const logger test_log("curve-test");

class curve_test : public ::testing::Test {
protected:
    void SetUp() override {
        _dir = fs::temp_directory_path() / ("syncline-curve-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(_dir);
        fs::create_directories(_dir / "allow");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(_dir, ec);
    }
    std::string path(const std::string& name) const { return (_dir / name).string(); }

    // A key pair written as DIR/NAME.key + .pub.
    key_pair make(const std::string& dir, const std::string& name) {
        auto k = generate();
        EXPECT_TRUE(k.ok());
        EXPECT_TRUE(write_key_pair(dir, name, *k).ok());
        return *k;
    }

    fs::path _dir;
};

mode_t mode_of(const std::string& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
}

TEST_F(curve_test, keygen_writes_an_owner_only_secret_and_a_public_key_that_load_back) {
    const auto k = make(path("keys"), "server");
    EXPECT_EQ(mode_of(path("keys/server.key")), 0600u);
    EXPECT_EQ(mode_of(path("keys/server.pub")), 0644u);
    EXPECT_EQ(mode_of(path("keys")), 0700u);
    auto secret = load_secret_key(path("keys/server.key"));
    ASSERT_TRUE(secret.ok()) << secret.get_status().message();
    EXPECT_EQ(secret->secret_key, k.secret_key);
    EXPECT_EQ(secret->public_key, k.public_key);  // Derived from the secret.
    auto pub = load_public_key(path("keys/server.pub"));
    ASSERT_TRUE(pub.ok());
    EXPECT_EQ(*pub, k.public_key);
    EXPECT_EQ(to_z85(k.public_key).size(), z85_chars);
}

TEST_F(curve_test, keygen_never_overwrites_a_key) {
    make(path("keys"), "worker");
    auto again = write_key_pair(path("keys"), "worker", *generate());
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.get_status().message().find("already exists"), std::string::npos);
    EXPECT_FALSE(write_key_pair(path("keys"), "../evil", *generate()).ok());
}

TEST_F(curve_test, a_secret_key_others_can_read_is_refused_with_the_fix) {
    make(path("keys"), "worker");
    const std::string file = path("keys/worker.key");
    for (mode_t mode : {0640, 0604, 0660, 0602}) {
        ::chmod(file.c_str(), mode);
        auto loaded = load_secret_key(file);
        ASSERT_FALSE(loaded.ok()) << std::oct << mode;
        EXPECT_EQ(loaded.get_status().code(), errc::invalid_argument);
        EXPECT_NE(loaded.get_status().message().find(file), std::string::npos);
        EXPECT_NE(loaded.get_status().message().find("chmod 600 " + file), std::string::npos);
    }
    ::chmod(file.c_str(), 0400);
    EXPECT_TRUE(load_secret_key(file).ok());
}

TEST_F(curve_test, files_without_a_z85_key_are_refused) {
    std::ofstream(path("short.pub")) << "# comment\nabc\n";
    std::ofstream(path("empty.pub")) << "# only a comment\n";
    std::ofstream(path("bad.pub")) << std::string(40, '"') << "\n";  // '"' is not a z85 character
    for (const char* f : {"short.pub", "empty.pub", "bad.pub", "missing.pub"}) {
        auto k = load_public_key(path(f));
        ASSERT_FALSE(k.ok()) << f;
        EXPECT_NE(k.get_status().message().find(path(f)), std::string::npos);
    }
}

TEST_F(curve_test, options_that_do_not_go_together_are_refused) {
    make(path("keys"), "server");
    const std::string secret = path("keys/server.key"), pub = path("keys/server.pub"), allow = path("allow");
    auto off = load({}, role::client);
    ASSERT_TRUE(off.ok());
    EXPECT_FALSE(off->has_value());
    EXPECT_FALSE(load({.secret_key_file = "", .server_key_file = pub, .allow_dir = ""}, role::client).ok());
    EXPECT_FALSE(load({.secret_key_file = secret, .server_key_file = "", .allow_dir = ""}, role::client).ok());  // No server key.
    EXPECT_FALSE(load({.secret_key_file = secret, .server_key_file = "", .allow_dir = ""}, role::server).ok());  // No allow dir.
    EXPECT_FALSE(load({.secret_key_file = secret, .server_key_file = "", .allow_dir = path("nope")}, role::server).ok());
    auto client = load({.secret_key_file = secret, .server_key_file = pub, .allow_dir = ""}, role::client);
    ASSERT_TRUE(client.ok() && client->has_value());
    auto both = load({.secret_key_file = secret, .server_key_file = "", .allow_dir = allow}, role::server_and_client);
    ASSERT_TRUE(both.ok() && both->has_value());
    EXPECT_EQ((*both)->server_public, (*both)->own.public_key);  // Shares the sink's server key by default.
}

TEST_F(curve_test, endpoints_other_hosts_can_reach) {
    for (const char* local : {"ipc:///tmp/x.sock", "inproc://x", "tcp://127.0.0.1:5557", "tcp://localhost:1",
                              "tcp://[::1]:5", "tcp://127.0.0.1:0;127.0.0.1:5557"})
        EXPECT_TRUE(is_local_endpoint(local)) << local;
    for (const char* remote : {"tcp://*:5557", "tcp://0.0.0.0:1", "tcp://10.1.2.3:5557", "tcp://eth0:5", "tcp://[::]:5"})
        EXPECT_FALSE(is_local_endpoint(remote)) << remote;
}

TEST_F(curve_test, the_allow_list_follows_its_directory) {
    const auto a = make(path("allow"), "a");
    const auto b = make(path("elsewhere"), "b");
    std::ofstream(path("allow/junk.pub")) << "not a key\n";
    allow_list list(path("allow"), test_log);
    EXPECT_TRUE(list.admits(a.public_key));
    EXPECT_FALSE(list.admits(b.public_key));
    EXPECT_FALSE(list.admits(a.secret_key));
    fs::copy_file(path("elsewhere/b.pub"), path("allow/b.pub"));
    EXPECT_TRUE(list.admits(b.public_key));
    fs::remove(path("allow/a.pub"));
    EXPECT_FALSE(list.admits(a.public_key));
}

// Real sockets over tcp: the ZAP guard decides who may connect.
class zap_test : public curve_test {
protected:
    void SetUp() override {
        curve_test::SetUp();
        server_pair = make(path("keys"), "server");
        allowed = make(path("allow"), "allowed");
        stranger = make(path("keys"), "stranger");
        server_keys = keys{server_pair, "", path("allow")};
        auto g = zap_guard::start(ctx, server_keys, test_log);
        ASSERT_TRUE(g.ok()) << g.get_status().message();
        guard = std::move(g.value());
        zmqx::tune(pull);
        guard->watch(pull, "test");
        ASSERT_TRUE(apply_server(pull, server_keys).ok());
        auto at = zmqx::bind(pull, "tcp://127.0.0.1:*");
        ASSERT_TRUE(at.ok());
        endpoint = *at;
    }
    void TearDown() override {
        guard.reset();
        curve_test::TearDown();
    }

    // A client PUSH with `own` keys (or plain when null) that sends one message.
    std::unique_ptr<zmq::socket_t> client(const key_pair* own) {
        auto push = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::push);
        zmqx::tune(*push, {.immediate = false, .linger = 0ms});
        if (own) {
            EXPECT_TRUE(apply_client(*push, keys{*own, server_pair.public_key, ""}).ok());
        }
        EXPECT_TRUE(zmqx::connect(*push, endpoint).ok());
        zmqx::send(*push, "h", "b", 0ms);
        return push;
    }
    bool received_within(std::chrono::milliseconds t) {
        auto got = zmqx::receive(pull, t);
        return got.ok() && got->has_value();
    }

    zmq::context_t ctx;
    zmq::socket_t pull{ctx, zmq::socket_type::pull};
    key_pair server_pair, allowed, stranger;
    keys server_keys;
    std::unique_ptr<zap_guard> guard;
    std::string endpoint;
};

TEST_F(zap_test, an_allowed_client_gets_through) {
    auto c = client(&allowed);
    EXPECT_TRUE(received_within(5s));
    EXPECT_EQ(guard->admitted(), 1u);
    EXPECT_EQ(guard->rejected(), 0u);
}

TEST_F(zap_test, a_stranger_is_rejected_and_counted_until_its_key_is_added) {
    auto c = client(&stranger);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (guard->rejected() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    EXPECT_GE(guard->rejected(), 1u);
    EXPECT_FALSE(received_within(300ms));  // Its connection was refused: nothing was delivered.
    // Added at runtime: the next connection is admitted without restarting anything.
    fs::copy_file(path("keys/stranger.pub"), path("allow/stranger.pub"));
    auto again = client(&stranger);
    EXPECT_TRUE(received_within(10s));
}

TEST_F(zap_test, a_client_without_curve_fails_the_handshake_and_is_counted) {
    auto c = client(nullptr);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (guard->handshake_failures() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_GE(guard->handshake_failures(), 1u);
    EXPECT_FALSE(received_within(200ms));
}

TEST_F(zap_test, a_client_with_the_wrong_server_key_fails_the_handshake) {
    auto push = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::push);
    zmqx::tune(*push, {.immediate = false, .linger = 0ms});
    ASSERT_TRUE(apply_client(*push, keys{allowed, stranger.public_key, ""}).ok());
    ASSERT_TRUE(zmqx::connect(*push, endpoint).ok());
    zmqx::send(*push, "h", "b", 0ms);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (guard->handshake_failures() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_GE(guard->handshake_failures(), 1u);
    EXPECT_EQ(guard->admitted(), 0u);
    EXPECT_FALSE(received_within(200ms));
}

}  // namespace
}  // namespace syncline::curve
