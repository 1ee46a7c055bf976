// CURVE end to end (docs/security.md): the real sink, ventilator and workers on tcp with keys
// made by `syncline keygen`; a worker whose key is not allowed gets nothing and commits nothing,
// is admitted once its key is added at runtime; a byte flipped or a frame replayed on the wire is rejected.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "common/curve.h"
#include "common/wire.h"
#include "common/zmq_util.h"
#include "tests/support/harness.h"
#include "tests/support/pipeline.h"
#include "targets/target.h"
#include "targets/verify.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
namespace fs = std::filesystem;

class security_test : public pipeline_fixture {
protected:
    void SetUp() override {
        pipeline_fixture::SetUp();
        append_sample(*writer, 30'000, 3'000, 7);
        for (const char* name : {"server", "worker"})
            ASSERT_EQ(run_to_exit("syncline", {"keygen", "--out", keys, "--name", name}, dir / "keygen.log"), 0);
        ASSERT_EQ(run_to_exit("syncline", {"keygen", "--out", dir / "stranger", "--name", "stranger"}, dir / "keygen.log"), 0);
        fs::create_directories(allow);
        fs::copy_file(keys + "/worker.pub", allow + "/worker.pub");
    }

    std::vector<std::string> server_curve() const {
        return {"--curve-secret", keys + "/server.key", "--curve-allow", allow};
    }
    void start_servers() {
        syncline::sink::sink_options s;
        s.state = state;
        s.pipeline = "p1";
        s.log = log_dir;
        s.acks = "tcp://127.0.0.1:*";
        s.control = "tcp://127.0.0.1:*";
        sink.emplace(launch(s, dir / "sink.log", server_curve()));
        acks = logged_endpoint(dir / "sink.log", "acks");
        const std::string control = logged_endpoint(dir / "sink.log", "control");
        ASSERT_FALSE(acks.empty() || control.empty());
        syncline::ventilator::ventilator_options v;
        v.log = log_dir;
        v.pipeline = "p1";
        v.work = "tcp://127.0.0.1:*";
        v.control = control;
        v.window.ack_timeout = std::chrono::milliseconds(1500);
        ventilator.emplace(launch(v, dir / "ventilator.log", server_curve()));
        work = logged_endpoint(dir / "ventilator.log", "work");
        ASSERT_FALSE(work.empty());
    }
    child_process start_worker(const std::string& name, const std::string& key_dir, const std::string& acks_at = "",
                               const std::string& own_target = "") {
        syncline::workers::worker_options w;
        w.target = own_target.empty() ? target : own_target;
        w.pipeline = "p1";
        w.work = work;
        w.acks = acks_at.empty() ? acks : acks_at;
        w.id = name;
        return launch(w, dir / (name + ".log"),
                      {"--curve-secret", key_dir + "/" + name + ".key", "--curve-server-key", keys + "/server.pub"});
    }
    void expect_verified() {
        auto log = store::change_log::open_reader(log_dir);
        ASSERT_TRUE(log.ok());
        auto t = targets::open_target(target, {"p1"});
        ASSERT_TRUE(t.ok());
        auto report = targets::verify_target(**log, committed(state, "p1"), **t);
        ASSERT_TRUE(report.ok()) << report.get_status().message();
        EXPECT_TRUE(report->clean()) << targets::format_report(*report, 20);
    }

    std::string keys = dir / "keys", allow = dir / "allow";
    std::string target = "sqlite:" + (dir / "target.db");
    std::string work, acks;
    std::optional<child_process> sink, ventilator;
};

TEST_F(security_test, a_curve_pipeline_delivers_only_through_allowed_workers_and_verifies) {
    start_servers();
    // The stranger writes a file of its own: of a pipeline's workers on one SQLite file the first
    // to open it writes and the others stand by (docs/targets/sqlite.md), and a refused worker
    // holding that slot would keep the admitted one standing by. What is checked here is that
    // the stranger gets no work.
    auto stranger = start_worker("stranger", dir / "stranger", "", "sqlite:" + (dir / "stranger.db"));
    // A forged ack from the stranger's key for the whole log: refused at the handshake.
    {
        zmq::context_t ctx(1);
        zmq::socket_t forged(ctx, zmq::socket_type::push);
        zmqx::tune(forged, {.immediate = false, .linger = milliseconds(0)});
        auto own = curve::load_secret_key(dir / "stranger/stranger.key");
        auto server = curve::load_public_key(keys + "/server.pub");
        ASSERT_TRUE(own.ok() && server.ok());
        ASSERT_TRUE(curve::apply_client(forged, {*own, *server, ""}).ok());
        ASSERT_TRUE(zmqx::connect(forged, acks).ok());
        wire::ack a;
        a.pipeline = "p1";
        a.batch_id = 1;
        a.offsets = {1, 30'000};
        a.attempt = 1;
        a.worker = "forger";
        ASSERT_TRUE(zmqx::send(forged, wire::encode(a), milliseconds(100)));
        ASSERT_TRUE(eventually([&] { return count_lines_with(dir / "sink.log", "rejected client") > 0; }, seconds(10)));
    }
    ASSERT_TRUE(eventually([&] { return count_lines_with(dir / "ventilator.log", "rejected client") > 0; }, seconds(10)));
    EXPECT_EQ(committed(state, "p1"), 0u) << "an ack from a key not in the allow list was committed";

    auto worker = start_worker("worker", keys);
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 30'000; }, seconds(60)))
        << "committed " << committed(state, "p1");
    expect_verified();
    stranger.signal(SIGTERM);
    EXPECT_EQ(stranger.wait_for(seconds(10)), 0);
    EXPECT_EQ(count_lines_with(dir / "stranger.log", "stopped batches=0 records=0"), 1u) << "the stranger got work";
    ventilator->signal(SIGTERM);
    EXPECT_EQ(ventilator->wait_for(seconds(20)), 0);
    EXPECT_EQ(count_lines_with(dir / "ventilator.log", "curve_rejected=0"), 0u);
}

TEST_F(security_test, a_worker_whose_key_is_added_at_runtime_is_admitted) {
    start_servers();
    auto stranger = start_worker("stranger", dir / "stranger");
    ASSERT_TRUE(eventually([&] { return count_lines_with(dir / "ventilator.log", "rejected client") > 0; }, seconds(10)));
    EXPECT_EQ(committed(state, "p1"), 0u);
    // No restart: the servers re-read the allow directory when it changes; the worker keeps retrying.
    fs::copy_file(dir / "stranger/stranger.pub", allow + "/stranger.pub");
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 30'000; }, seconds(60)))
        << "committed " << committed(state, "p1");
    expect_verified();
}

TEST_F(security_test, syncline_run_with_curve_keys_secures_every_child_and_verifies) {
    // keys/ holds server.* and worker.*: as its own allow list it admits the runner's workers.
    ASSERT_EQ(run_to_exit("syncline",
                          {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--target", target,
                           "--workers", "2", "--until-caught-up", "--curve-keys", keys},
                          dir / "run.log", seconds(90)),
              0)
        << read_file(dir / "run.log");
    EXPECT_EQ(committed(state, "p1"), 30'000u);
    expect_verified();
    const std::string run_dir = state + "/p1.run";
    for (const char* child : {"sink", "ventilator"})
        EXPECT_EQ(count_lines_with(run_dir + "/" + child + ".log", "curve on:"), 1u) << child;
    // A missing key is one clear message at once (exit 2), naming the command that creates it.
    EXPECT_EQ(run_to_exit("syncline",
                          {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--target", target,
                           "--until-caught-up", "--curve-keys", dir / "nokeys"},
                          dir / "run-missing.log", seconds(30)),
              2);
    EXPECT_EQ(count_lines_with(dir / "run-missing.log", "syncline keygen --out"), 1u) << read_file(dir / "run-missing.log");
}

// A TCP relay from a local port to `upstream` that tampers with the client's stream once, after
// `tamper_after` bytes (past the CURVE handshake): it flips one byte, or it replays a chunk (sends
// bytes it already forwarded, whole recorded frames when the chunk holds them, again). It records
// whether the server then closed that connection. Later connections are relayed untouched.
enum class tampering { flip_byte, replay_chunk };

class tampering_relay {
public:
    tampering_relay(int upstream_port, std::size_t tamper_after, tampering how)
        : _upstream(upstream_port), _tamper_after(tamper_after), _how(how) {
        _listener = ::socket(AF_INET, SOCK_STREAM, 0);
        const int one = 1;
        ::setsockopt(_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(_listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(_listener, 8) != 0 ||
            ::getsockname(_listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            throw std::runtime_error("relay: cannot listen");
        _port = ntohs(addr.sin_port);
        _thread = std::thread([this] { run(); });
    }
    ~tampering_relay() {
        _stop = true;
        _thread.join();
        ::close(_listener);
    }
    int port() const { return _port; }
    bool tampered() const { return _tampered; }
    bool server_closed_tampered_connection() const { return _closed_after_tampering; }

private:
    int connect_upstream() const {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<std::uint16_t>(_upstream));
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd);
            return -1;
        }
        return fd;
    }
    void run() {
        struct link {
            int client, server;
            std::size_t forwarded = 0;
            bool tampered = false;
        };
        std::vector<link> links;
        char buf[65536];
        while (!_stop) {
            std::vector<pollfd> fds{{_listener, POLLIN, 0}};
            for (auto& l : links) fds.push_back({l.client, POLLIN, 0}), fds.push_back({l.server, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
            const std::size_t polled = links.size();  // A link accepted below has no entry in fds yet.
            if (fds[0].revents & POLLIN) {
                const int client = ::accept(_listener, nullptr, nullptr);
                const int server = client >= 0 ? connect_upstream() : -1;
                if (server >= 0) links.push_back({client, server});
                else if (client >= 0) ::close(client);
            }
            for (std::size_t i = 0; i < polled; ++i) {
                auto& l = links[i];
                bool closed = false;
                if (fds[1 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)) {
                    const ssize_t n = ::read(l.client, buf, sizeof buf);
                    if (n <= 0) closed = true;
                    else {
                        const bool tamper_now = !_tampered && l.forwarded + n > _tamper_after;
                        if (tamper_now && _how == tampering::flip_byte)
                            buf[n - 1] ^= 0x20;  // The last byte of this chunk: a frame's MAC or payload.
                        l.forwarded += n;
                        bool sent = ::send(l.server, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) == n;
                        if (tamper_now && _how == tampering::replay_chunk && sent)
                            sent = ::send(l.server, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) == n;
                        if (tamper_now) {
                            _tampered = true;
                            l.tampered = true;
                        }
                        if (!sent) {
                            closed = true;  // The server closed it first.
                            if (l.tampered) _closed_after_tampering = true;
                        }
                    }
                }
                if (!closed && (fds[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))) {
                    const ssize_t n = ::read(l.server, buf, sizeof buf);
                    if (n <= 0) {
                        closed = true;
                        if (l.tampered) _closed_after_tampering = true;
                    } else {
                        closed = ::send(l.client, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n;
                    }
                }
                if (closed) {
                    ::close(l.client);
                    ::close(l.server);
                    links.erase(links.begin() + static_cast<long>(i));
                    break;  // fds no longer match links: poll again.
                }
            }
        }
        for (auto& l : links) ::close(l.client), ::close(l.server);
    }

    int _upstream;
    std::size_t _tamper_after;
    tampering _how;
    int _listener = -1;
    int _port = 0;
    std::atomic<bool> _stop{false}, _tampered{false}, _closed_after_tampering{false};
    std::thread _thread;
};

class tampering_test : public security_test, public ::testing::WithParamInterface<tampering> {};

// A flipped byte fails CURVE's MAC; a replayed frame carries a nonce the sink has seen (CurveZMQ
// nonces only grow), so neither is applied.
TEST_P(tampering_test, tampered_or_replayed_bytes_on_the_wire_are_rejected_and_commit_nothing_wrong) {
    start_servers();
    const int acks_port = std::stoi(acks.substr(acks.rfind(':') + 1));
    // Acks flow worker -> sink through the relay; 2 KB is well past the handshake (~600 bytes).
    tampering_relay relay(acks_port, 2048, GetParam());
    auto worker = start_worker("worker", keys, "tcp://127.0.0.1:" + std::to_string(relay.port()));
    ASSERT_TRUE(eventually([&] { return relay.tampered(); }, seconds(30)));
    // CURVE's MAC (or the framing inside the box) catches the altered byte: the sink drops the
    // connection's input, counts it and logs it, and applies nothing from it.
    EXPECT_TRUE(eventually([&] { return count_lines_with(dir / "sink.log", "handshake failed channel=acks") > 0; },
                           seconds(10)))
        << "the sink did not notice the altered bytes";
    // Whatever is committed was really delivered: the target equals the log up to the watermark.
    expect_verified();
    // TODO(security): libzmq 4.3.4 keeps the TCP connection open after such a protocol error, so
    // the worker's acks stall until it restarts (see docs/security.md, "Tampering"); the relay's
    // view is reported here rather than asserted.
    std::fprintf(stderr, "relay: server closed the tampered connection: %s\n",
                 relay.server_closed_tampered_connection() ? "yes" : "no");
}

INSTANTIATE_TEST_SUITE_P(on_the_acks_link, tampering_test,
                         ::testing::Values(tampering::flip_byte, tampering::replay_chunk),
                         [](const ::testing::TestParamInfo<tampering>& info) {
                             return std::string(info.param == tampering::flip_byte ? "byte_flipped" : "chunk_replayed");
                         });

}  // namespace
}  // namespace syncline::testing
