// Edges that lost, misplaced or exposed data (issue 13, items 5-11), each reproduced against the
// real binaries: hostile frames on the worker's and the sink's sockets, secrets on every surface,
// channel ids on replay, offsets moved under a running pipeline, trimming under dead letters.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/curve.h"
#include "common/metrics_endpoint.h"
#include "common/wire.h"
#include "common/zmq_util.h"
#include "store/change_log.h"
#include "store/run_lock.h"
#include "store/state_store.h"
#include "tests/support/harness.h"
#include "tests/support/pipeline.h"
#include "tests/support/http_receiver.h"

namespace syncline::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
namespace fs = std::filesystem;

// A batch body of `count` records from `first` on, as the ventilator cuts them.
std::string batch_body(std::uint64_t first, std::uint64_t count) {
    codec::batch_body_builder builder;
    for (std::uint64_t o = first; o < first + count; ++o) {
        record r;
        r.offset = o;
        r.ts_ms = 1;
        r.collection = "users";
        r.key = "k" + std::to_string(o);
        r.operation = op::upsert;
        r.value = R"({"n":1})";
        builder.add(codec::encode_record(r));
    }
    return builder.finish();
}

// A real worker between a fake ventilator (PUSH, bound here) and a fake sink (PULL, bound here).
class worker_edges_test : public pipeline_fixture {
protected:
    void SetUp() override {
        pipeline_fixture::SetUp();
        zmqx::tune(work, {.immediate = false, .linger = milliseconds(0)});
        zmqx::tune(acks, {.immediate = false, .linger = milliseconds(0)});
        auto w = zmqx::bind(work, "tcp://127.0.0.1:*");
        auto a = zmqx::bind(acks, "tcp://127.0.0.1:*");
        ASSERT_TRUE(w.ok() && a.ok());
        work_at = *w;
        acks_at = *a;
    }
    child_process start_worker(const std::string& work_endpoint) {
        syncline::workers::worker_options o;
        o.target = "jsonl:" + (dir / "out.jsonl");
        o.pipeline = "p1";
        o.work = work_endpoint;
        o.acks = acks_at;
        o.id = "w1";
        return launch(o, dir / "worker.log");
    }
    // The next ack for `pipeline` p1 the worker sends (receipts skipped); nullopt after `timeout`.
    std::optional<wire::ack> next_ack(milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + scaled(timeout);
        while (std::chrono::steady_clock::now() < end) {
            auto got = zmqx::receive(acks, milliseconds(100));
            if (!got.ok() || !got->has_value()) continue;
            auto msg = wire::decode((*got)->header_view(), (*got)->body_view());
            if (!msg.ok()) continue;
            if (auto* a = std::get_if<wire::ack>(&*msg)) return *a;
        }
        return std::nullopt;
    }

    zmq::context_t ctx{1};
    zmq::socket_t work{ctx, zmq::socket_type::push};
    zmq::socket_t acks{ctx, zmq::socket_type::pull};
    std::string work_at, acks_at;
};

TEST_F(worker_edges_test, a_batch_header_whose_range_wraps_around_is_dropped_and_the_worker_goes_on) {
    auto worker = start_worker(work_at);
    // first=0, last=2^64-1, count=0: last - first + 1 wraps to 0 == count. The worker used to take
    // it, find the body "empty", and dead-letter every offset of the range: it looped until it died.
    wire::batch forged;
    forged.pipeline = "p1";
    forged.batch_id = 1;
    forged.offsets = {0, ~std::uint64_t{0}};
    forged.count = 0;
    const std::string empty_body = batch_body(1, 0);
    ASSERT_TRUE(zmqx::send(work, wire::encode_header(forged), empty_body, seconds(10)));

    wire::batch real;
    real.pipeline = "p1";
    real.batch_id = 2;
    real.offsets = {1, 3};
    real.count = 3;
    const std::string body = batch_body(1, 3);
    ASSERT_TRUE(zmqx::send(work, wire::encode_header(real), body, seconds(10)));

    auto ack = next_ack(seconds(20));
    ASSERT_TRUE(ack.has_value()) << "the worker never acked the valid batch sent after the forged one";
    EXPECT_EQ(ack->batch_id, 2u) << "the forged batch was acked (dead-lettered) instead of dropped";
    EXPECT_EQ(ack->offsets, (wire::range{1, 3}));
    EXPECT_TRUE(ack->failures.empty());
    EXPECT_TRUE(worker.running());
    worker.signal(SIGTERM);
    EXPECT_EQ(worker.wait_for(seconds(20)), 0);
    EXPECT_EQ(count_lines_with(dir / "worker.log", "bad_frames=1"), 1u) << read_file(dir / "worker.log");
}

// Raw ZMTP 3.0 (RFC 23) by hand, as a hostile "ventilator" would speak it: greeting, NULL
// mechanism, READY as a PUSH socket, then a message frame that claims 1 GiB: libzmq allocates that
// (overcommitted) and waits for the bytes, holding the connection, unless ZMQ_MAXMSGSIZE is set.
TEST_F(worker_edges_test, a_peer_announcing_a_huge_message_on_the_work_socket_is_disconnected) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    auto worker = start_worker("tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));

    pollfd accept_poll{listener, POLLIN, 0};
    ASSERT_EQ(::poll(&accept_poll, 1, static_cast<int>(scaled(seconds(20)).count())), 1);
    const int peer = ::accept(listener, nullptr, nullptr);
    ASSERT_GE(peer, 0);
    auto read_exactly = [&](std::size_t n) {
        std::string got;
        while (got.size() < n) {
            pollfd p{peer, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(scaled(seconds(10)).count())) != 1) break;
            char buf[256];
            const ssize_t r = ::read(peer, buf, std::min(sizeof buf, n - got.size()));
            if (r <= 0) break;
            got.append(buf, static_cast<std::size_t>(r));
        }
        return got;
    };
    auto write_all = [&](const std::string& bytes) {
        return ::write(peer, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
    };
    std::string greeting(64, '\0');
    greeting[0] = '\xff';
    greeting[9] = '\x7f';
    greeting[10] = 3;  // version 3.0
    std::memcpy(&greeting[12], "NULL", 4);
    ASSERT_TRUE(write_all(greeting));
    ASSERT_EQ(read_exactly(64).size(), 64u);
    std::string ready = std::string("\x05READY", 6) + std::string("\x0bSocket-Type", 12) +
                        std::string("\x00\x00\x00\x04PUSH", 8);
    ASSERT_TRUE(write_all(std::string(1, '\x04') + std::string(1, static_cast<char>(ready.size())) + ready));
    // The worker's READY: a short command frame.
    const std::string header = read_exactly(2);
    ASSERT_EQ(header.size(), 2u);
    ASSERT_EQ(read_exactly(static_cast<unsigned char>(header[1])).substr(0, 6), std::string("\x05READY", 6));
    // A long message frame of 1 GiB (2^30): above the limit, far below what malloc refuses.
    std::string huge = std::string(1, '\x02') + std::string("\x00\x00\x00\x00\x40\x00\x00\x00", 8) + "x";
    ASSERT_TRUE(write_all(huge));
    // Disconnected: the worker's end closes the connection (EOF), and the worker lives on.
    pollfd p{peer, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, static_cast<int>(scaled(seconds(20)).count())), 1);
    char buf[16];
    EXPECT_LE(::read(peer, buf, sizeof buf), 0) << "the worker kept the connection of a peer announcing 1 GiB";
    EXPECT_TRUE(worker.running()) << read_file(dir / "worker.log");
    ::close(peer);
    ::close(listener);
    worker.signal(SIGTERM);
    EXPECT_EQ(worker.wait_for(seconds(20)), 0);
}

// The real sink and ventilator; workers started by the test.
class sink_edges_test : public pipeline_fixture {
protected:
    void start_servers(const std::vector<std::string>& sink_extra = {}, const std::vector<std::string>& vent_extra = {}) {
        syncline::sink::sink_options s;
        s.state = state;
        s.pipeline = "p1";
        s.log = log_dir;
        s.acks = "tcp://127.0.0.1:*";
        s.control = "tcp://127.0.0.1:*";
        sink.emplace(launch(s, dir / "sink.log", sink_extra));
        acks = logged_endpoint(dir / "sink.log", "acks");
        control = logged_endpoint(dir / "sink.log", "control");
        ASSERT_FALSE(acks.empty() || control.empty());
        syncline::ventilator::ventilator_options v;
        v.log = log_dir;
        v.pipeline = "p1";
        v.work = "tcp://127.0.0.1:*";
        v.control = control;
        ventilator.emplace(launch(v, dir / "ventilator.log", vent_extra));
        work = logged_endpoint(dir / "ventilator.log", "work");
        ASSERT_FALSE(work.empty());
    }
    child_process start_worker(const std::vector<std::string>& extra = {}) {
        syncline::workers::worker_options o;
        o.target = "sqlite:" + (dir / "target.db");
        o.pipeline = "p1";
        o.work = work;
        o.acks = acks;
        o.id = "w1";
        return launch(o, dir / "worker.log", extra);
    }

    std::string work, acks, control;
    std::optional<child_process> sink, ventilator;
};

TEST_F(sink_edges_test, an_ack_for_a_range_the_ventilator_never_sent_commits_nothing) {
    append_sample(*writer, 2'000, 200, 1);
    start_servers();
    // Standalone defaults: tcp on 127.0.0.1 without CURVE, so anyone here can push an ack.
    {
        zmq::context_t ctx(1);
        zmq::socket_t forged(ctx, zmq::socket_type::push);
        zmqx::tune(forged, {.immediate = false, .linger = milliseconds(2000)});
        ASSERT_TRUE(zmqx::connect(forged, acks).ok());
        wire::ack a;
        a.pipeline = "p1";
        a.batch_id = 1;
        a.offsets = {1, 1'000'000'000'000ull};
        a.worker = "forger";
        ASSERT_TRUE(zmqx::send(forged, wire::encode(a), seconds(5)));
        // The control socket is open too without CURVE: an announcement of that range is not
        // enough, since it lies past the log's end.
        zmq::socket_t rogue(ctx, zmq::socket_type::dealer);
        zmqx::tune(rogue, {.immediate = false, .linger = milliseconds(2000)});
        ASSERT_TRUE(zmqx::connect(rogue, control).ok());
        ASSERT_TRUE(zmqx::send(rogue, wire::encode(wire::sent{"p1", {a.offsets}}), seconds(5)));
        ASSERT_TRUE(zmqx::send(forged, wire::encode(a), seconds(5)));
    }
    auto worker = start_worker();
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 2'000; }, seconds(60)));
    sink->signal(SIGTERM);
    EXPECT_EQ(sink->wait_for(seconds(20)), 0);
    EXPECT_EQ(committed(state, "p1"), 2'000u) << "the sink committed past the log on a forged ack";
}

TEST_F(sink_edges_test, a_worker_key_cannot_talk_to_the_control_socket) {
    append_sample(*writer, 500, 50, 1);
    const std::string keys = dir / "keys";
    for (const char* name : {"server", "worker"})
        ASSERT_EQ(run_to_exit("syncline", {"keygen", "--out", keys, "--name", name}, dir / "keygen.log"), 0);
    const std::vector<std::string> curve{"--curve-secret", keys + "/server.key", "--curve-allow", keys};
    start_servers(curve, curve);
    auto worker = start_worker({"--curve-secret", keys + "/worker.key", "--curve-server-key", keys + "/server.pub"});
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 500; }, seconds(60)));

    // An admitted worker key connects to the control socket as if it were the ventilator.
    zmq::context_t ctx(1);
    zmq::socket_t rogue(ctx, zmq::socket_type::dealer);
    zmqx::tune(rogue, {.immediate = false, .linger = milliseconds(0)});
    auto own = curve::load_secret_key(keys + "/worker.key");
    auto server = curve::load_public_key(keys + "/server.pub");
    ASSERT_TRUE(own.ok() && server.ok());
    ASSERT_TRUE(curve::apply_client(rogue, {*own, *server, ""}).ok());
    ASSERT_TRUE(zmqx::connect(rogue, control).ok());
    zmqx::send(rogue, wire::encode(wire::hello{"p1", 42}), seconds(1));
    ASSERT_TRUE(eventually([&] { return count_lines_with(dir / "sink.log", "the control channel admits the server key only") > 0; },
                           seconds(20)))
        << read_file(dir / "sink.log");
    auto got = zmqx::receive(rogue, milliseconds(0));
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value()) << "the sink answered a worker key on the control socket";
    EXPECT_EQ(count_lines_with(dir / "sink.log", "ventilator connected epoch=42"), 0u);
}

// Every file under `root` whose text holds `needle` (logs, run files, restarts.json, state).
std::vector<std::string> files_holding(const std::string& root, const std::string& needle) {
    std::vector<std::string> found;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file() && read_file(it->path().string()).find(needle) != std::string::npos)
            found.push_back(it->path().string());
    return found;
}

// A password planted in the target URI, looked for on every surface: logs, /ready, /live,
// /metrics of every process, `syncline status` (text and JSON), restarts.json and every other
// file the run wrote, and a command's error message.
TEST_F(sink_edges_test, a_planted_password_appears_on_no_surface) {
    append_sample(*writer, 100, 10, 1);
    // A PostgreSQL that takes the connection and never answers: the worker stays in "opening
    // target" (where /ready used to show the raw URI) until connect_timeout, then retries.
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ASSERT_EQ(::listen(listener, 16), 0);
    const std::string secret = "PlantedS3cret";
    const std::string host = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    // A password in the URI is refused at config time (exit 2): it would travel on the workers'
    // command lines, which `ps` shows every local user. The message does not show it.
    ASSERT_EQ(run_to_exit("syncline", {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--workers", "1",
                                       "--target", "postgresql://syncline:" + secret + "@" + host + "/db"},
                          dir / "inline.log", seconds(60)),
              2)
        << read_file(dir / "inline.log");
    EXPECT_NE(read_file(dir / "inline.log").find("password_file"), std::string::npos) << read_file(dir / "inline.log");
    const std::string password_file = dir / "pg.password";
    std::ofstream(password_file) << secret << "\n";
    const std::string target = "postgresql://syncline@" + host + "/db?connect_timeout=2&password_file=" + password_file;
    // Nothing is ever delivered: no drain on stop.
    auto run = start("syncline", {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--workers", "1",
                                  "--target", target, "--ventilator-args", "--drain-timeout-ms 0"},
                     dir / "run.log");
    const std::string run_dir = state + "/p1.run";
    // What `ps` and /proc show of the runner and each child: command line and environment.
    auto proc_views = [&] {
        std::string shown;
        for (const auto& entry : fs::directory_iterator("/proc")) {
            const std::string stat = read_file(entry.path().string() + "/stat");
            const auto close = stat.rfind(')');
            if (close == std::string::npos) continue;
            const pid_t ppid = static_cast<pid_t>(std::atoi(stat.c_str() + close + 4));
            const pid_t pid = static_cast<pid_t>(std::atoi(entry.path().filename().c_str()));
            if (pid != run.pid() && ppid != run.pid()) continue;
            shown += read_file(entry.path().string() + "/cmdline") + "\n" + read_file(entry.path().string() + "/environ") + "\n";
        }
        return shown;
    };
    auto get = [&](const std::string& process, const std::string& path) {
        const std::string text = read_file(run_dir + "/" + process + ".metrics");
        auto got = metrics::http_get(text.substr(0, text.find('\n')), path);
        return got.ok() ? std::to_string(got->status) + " " + got->body : std::string();
    };
    std::string surfaces;
    // While the worker is opening the target, and again once it has failed to.
    ASSERT_TRUE(eventually([&] { return get("worker-1", "/ready").starts_with("503 "); }, seconds(30)));
    surfaces += get("worker-1", "/ready");
    ASSERT_TRUE(eventually([&] { return count_lines_with(run_dir + "/worker-1.log", "target unavailable") > 0; }, seconds(30)));
    for (const char* process : {"worker-1", "sink", "ventilator", "run"})
        for (const char* path : {"/ready", "/live", "/metrics"}) surfaces += get(process, path);
    const std::string processes = proc_views();
    EXPECT_NE(processes.find("syncline-worker"), std::string::npos) << processes;  // The children were seen.
    EXPECT_NE(processes.find("syncline-sink"), std::string::npos) << processes;
    EXPECT_NE(processes.find("password_file=" + password_file), std::string::npos) << processes;
    EXPECT_EQ(processes.find(secret), std::string::npos) << processes;
    EXPECT_NE(surfaces.find("syncline_worker_batches_received_total"), std::string::npos) << surfaces;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"status", "--state", state, "--log", log_dir},
          std::vector<std::string>{"status", "--state", state, "--log", log_dir, "--json"},
          std::vector<std::string>{"verify", "--log", log_dir, "--state", state, "--pipeline", "p1", "--target", target}}) {
        (void)run_to_exit("syncline", args, dir / "commands.out", seconds(60));
    }
    surfaces += read_file(dir / "commands.out");
    EXPECT_EQ(surfaces.find(secret), std::string::npos) << surfaces;
    run.signal(SIGTERM);
    EXPECT_TRUE(run.wait_for(seconds(60)).has_value());
    ::close(listener);
    fs::remove(password_file);  // The one file meant to hold it.
    const auto leaked = files_holding(dir.path(), secret);
    EXPECT_TRUE(leaked.empty()) << leaked.size() << " files hold the secret, first: " << (leaked.empty() ? "" : leaked[0])
                                << "\n" << (leaked.empty() ? "" : read_file(leaked[0]));
}

// A sink started by hand (or by a systemd unit) holds the pipeline's run lock, as `syncline run`
// does: a second sink, or a runner, for the same pipeline exits 1 naming the holder's pid, and
// `offsets set --execute` refuses. Once it stops, `syncline run` (whose own sink runs under the
// runner's lock) works.
TEST_F(sink_edges_test, a_hand_started_sink_holds_the_run_lock_against_a_second_sink_and_a_runner) {
    append_sample(*writer, 20, 20, 1);
    syncline::sink::sink_options s;
    s.state = state;
    s.pipeline = "p1";
    s.acks = "tcp://127.0.0.1:*";
    s.control = "tcp://127.0.0.1:*";
    auto first = launch(s, dir / "sink.log");
    ASSERT_FALSE(logged_endpoint(dir / "sink.log", "acks").empty()) << read_file(dir / "sink.log");
    const std::string holder = "pid " + std::to_string(first.pid()) + " holds its run lock";
    auto second = launch(s, dir / "sink2.log");
    const auto second_code = second.wait_for(seconds(60));
    ASSERT_TRUE(second_code.has_value());
    EXPECT_EQ(*second_code, 1);
    EXPECT_NE(read_file(dir / "sink2.log").find(holder), std::string::npos) << read_file(dir / "sink2.log");
    EXPECT_EQ(run_to_exit("syncline", {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--workers", "1",
                                       "--target", "jsonl:" + (dir / "out.jsonl"), "--until-caught-up"},
                          dir / "run.log", seconds(60)),
              1)
        << read_file(dir / "run.log");
    EXPECT_NE(read_file(dir / "run.log").find(holder), std::string::npos) << read_file(dir / "run.log");
    EXPECT_EQ(run_to_exit("syncline", {"offsets", "set", "--state", state, "--pipeline", "p1", "--to-offset", "10",
                                       "--execute"},
                          dir / "offsets.out", seconds(60)),
              1)
        << read_file(dir / "offsets.out");
    EXPECT_NE(read_file(dir / "offsets.out").find("(pid " + std::to_string(first.pid()) + ")"), std::string::npos)
        << read_file(dir / "offsets.out");
    first.signal(SIGTERM);
    ASSERT_EQ(first.wait_for(seconds(60)), std::optional<int>(0));
    ASSERT_EQ(run_to_exit("syncline", {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--workers", "1",
                                       "--target", "jsonl:" + (dir / "out.jsonl"), "--until-caught-up"},
                          dir / "run2.log", seconds(120)),
              0)
        << read_file(dir / "run2.log");
    EXPECT_EQ(store::run_lock::holder(state, "p1"), std::nullopt);
}

// Issue 13 item 6: a replay runs as the temporary pipeline p1.replay, and every channel id derived
// from the pipeline name changed with it, so receivers' dedupe missed the replayed records.
TEST_F(sink_edges_test, a_replay_sends_the_channel_ids_of_the_pipeline_the_records_belong_to) {
    append_sample(*writer, 20, 20, 1);
    http_receiver receiver("whsec-test");
    const std::string secret_file = dir / "webhook.secret";
    {
        std::ofstream(secret_file) << "whsec-test";
    }
    const std::string target = receiver.url() + "?syncline.secret_file=" + secret_file + "&syncline.mode=record";
    ASSERT_EQ(run_to_exit("syncline", {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--workers", "1",
                                       "--target", target, "--until-caught-up"},
                          dir / "run.log", seconds(60)),
              0) << read_file(dir / "run.log");
    std::map<std::uint64_t, std::string> first_keys;
    const auto delivered = receiver.requests();
    for (const auto& r : delivered)
        if (r.offsets.size() == 1) first_keys.emplace(r.offsets[0], r.idempotency_key);
    ASSERT_EQ(first_keys.size(), 20u);
    EXPECT_EQ(first_keys[7], "p1:7-7");

    ASSERT_EQ(run_to_exit("syncline", {"replay", "--log", log_dir, "--state", state, "--pipeline", "p1", "--from", "1",
                                       "--workers", "1", "--target", target},
                          dir / "replay.log", seconds(60)),
              0) << read_file(dir / "replay.log");
    const auto all = receiver.requests();
    ASSERT_GE(all.size(), delivered.size() + 20);
    for (std::size_t i = delivered.size(); i < all.size(); ++i) {
        ASSERT_EQ(all[i].offsets.size(), 1u);
        EXPECT_EQ(all[i].idempotency_key, first_keys[all[i].offsets[0]]) << "offset " << all[i].offsets[0];
        EXPECT_NE(all[i].body.find("\"pipeline\":\"p1\""), std::string::npos) << all[i].body;
    }
}

// Issue 13 item 7: while `syncline run` waits to restart a crashed sink, the state's writer lock is
// free and `offsets set --execute` went through, though the ventilator and workers still ran and
// never adopted the moved offset.
TEST_F(sink_edges_test, offsets_set_is_refused_while_the_runner_restarts_its_sink) {
    append_sample(*writer, 2'000, 200, 1);
    auto run = start("syncline", {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--workers", "1",
                                  "--target", "sqlite:" + (dir / "target.db"), "--metrics-listen", "off"},
                     dir / "run.log");
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 2'000; }, seconds(60)));
    // Kill the sink and hold its state lock, so its restarts fail and the runner backs off: 0.5,
    // 1, 2, then 4 s. That last window is where the operator's command lands.
    const std::string sink_pid_file = state + "/p1.run/sink.pid";
    const pid_t sink_pid = static_cast<pid_t>(std::stol(read_file(sink_pid_file)));
    ::kill(sink_pid, SIGKILL);
    std::unique_ptr<store::state_store> held;
    ASSERT_TRUE(eventually([&] {
        auto opened = store::state_store::open({.root = state, .pipeline = "p1", .sync = true});
        if (opened.ok()) held = std::move(*opened);
        return held != nullptr;
    }, seconds(10)));
    ASSERT_TRUE(eventually([&] { return count_lines_with(dir / "run.log", "restarting in 4000 ms") > 0; }, seconds(30)))
        << read_file(dir / "run.log");
    held.reset();
    const int code = run_to_exit("syncline", {"offsets", "set", "--state", state, "--pipeline", "p1", "--to-offset",
                                              "1000", "--execute"},
                                 dir / "offsets.out", seconds(30));
    EXPECT_EQ(code, 1) << read_file(dir / "offsets.out");
    EXPECT_NE(read_file(dir / "offsets.out").find("is running under syncline run or its sink"), std::string::npos)
        << read_file(dir / "offsets.out");
    EXPECT_EQ(committed(state, "p1"), 2'000u);
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait_for(seconds(60)), 0) << read_file(dir / "run.log");
    // Stopped: now it goes through.
    EXPECT_EQ(run_to_exit("syncline", {"offsets", "set", "--state", state, "--pipeline", "p1", "--to-offset", "1000",
                                       "--execute"},
                          dir / "offsets.out", seconds(30)),
              0)
        << read_file(dir / "offsets.out");
}

// Review of item 11: a target's refusal quotes the receiver's answer, and that reason becomes a
// dead letter that `syncline dlq list` shows in a process that never saw the secret.
TEST_F(sink_edges_test, a_secret_the_target_echoes_never_reaches_the_dead_letters) {
    append_sample(*writer, 5, 5, 1);
    const std::string secret = "whsec-Echoed77";
    http_receiver receiver(secret);
    receiver.answer_when([&](const received_request&) { return std::optional<answer>(answer::with(400, "bad key " + secret)); });
    const std::string secret_file = dir / "webhook.secret";
    {
        std::ofstream(secret_file) << secret;
    }
    const std::string target = receiver.url() + "?syncline.secret_file=" + secret_file;
    ASSERT_EQ(run_to_exit("syncline", {"run", "--log", log_dir, "--state", state, "--pipeline", "p1", "--workers", "1",
                                       "--target", target, "--until-caught-up"},
                          dir / "run.log", seconds(60)),
              0) << read_file(dir / "run.log");
    ASSERT_EQ(run_to_exit("syncline", {"dlq", "list", "--state", state, "--pipeline", "p1"}, dir / "dlq.out", seconds(30)), 0);
    const std::string listed = read_file(dir / "dlq.out");
    EXPECT_NE(listed.find("bad key ***"), std::string::npos) << listed;
    EXPECT_EQ(listed.find(secret), std::string::npos) << listed;
}

// Issue 13 item 8: a sink started without --log keeps no copy of a dead-lettered record, so
// trimming the log destroyed the only one. Trim now keeps every offset such a dead letter needs.
TEST_F(sink_edges_test, log_trim_keeps_the_records_of_dead_letters_that_hold_no_copy) {
    append_sample(*writer, 100, 10, 1);
    writer.reset();  // trim takes the log's writer lock
    {
        auto s = store::state_store::open({.root = state, .pipeline = "p1", .sync = true});
        ASSERT_TRUE(s.ok());
        // What a sink without --log commits: the dead letter's record is empty.
        store::dead_letter bare{.offset = 40, .record = "", .error = "refused", .attempts = 1, .ts_ms = 1};
        ASSERT_TRUE((*s)->commit(100, std::vector<store::dead_letter>{bare}).ok());
    }
    const int code = run_to_exit("syncline", {"log", "trim", "--log", log_dir, "--state", state, "--execute"},
                                 dir / "trim.out", seconds(30));
    EXPECT_EQ(code, 0) << read_file(dir / "trim.out");
    EXPECT_NE(read_file(dir / "trim.out").find("dead letter"), std::string::npos) << read_file(dir / "trim.out");
    auto log = store::change_log::open_reader(log_dir);
    ASSERT_TRUE(log.ok());
    bool found = false;
    ASSERT_TRUE((*log)->scan(40, 1, 1, [&](std::uint64_t at, std::string_view) { return (found = at == 40), false; }).ok());
    EXPECT_TRUE(found) << "the only copy of dead letter 40 was trimmed\n" << read_file(dir / "trim.out");
    EXPECT_EQ((*log)->first_offset(), 40u) << "trim kept more than dead letter 40 needs";
    (void)run_to_exit("syncline", {"dlq", "show", "--state", state, "--pipeline", "p1", "--log", log_dir, "--offset", "40"},
                      dir / "dlq.out", seconds(30));
    EXPECT_EQ(read_file(dir / "dlq.out").find("no longer holds"), std::string::npos) << read_file(dir / "dlq.out");
}

}  // namespace
}  // namespace syncline::testing
