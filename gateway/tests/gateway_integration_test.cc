// The real syncline-gateway on loopback: idempotency across restarts, backpressure, auth, hostile
// input, and producers publishing with retries while the gateway is SIGKILLed and restarted.
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/curve.h"
#include "common/zmq_util.h"
#include "gateway/client.h"
#include "gateway/gateway.h"
#include "gateway/protocol.h"
#include "store/change_log.h"
#include "tests/support/harness.h"

namespace syncline::gateway {
namespace {

using namespace std::chrono_literals;
using syncline::testing::eventually;
using syncline::testing::read_file;
using syncline::testing::scaled;
using syncline::testing::temp_dir;

// One running gateway with its log in `dir`.
class gateway_process {
public:
    gateway_process(const temp_dir& dir, std::vector<std::string> extra, std::string zmq = "")
        : _dir(dir), _log(dir / "log"), _output(dir / "gateway.log") {
        _zmq = zmq.empty() ? "ipc://" + dir.path() + "/gw.sock" : zmq;
        _args = {"--log", _log, "--zmq-listen", _zmq, "--http-listen", "127.0.0.1:0"};
        _args.insert(_args.end(), extra.begin(), extra.end());
    }
    ~gateway_process() {
        if (_child) _child->stop(5s);
    }

    void start() {
        std::error_code ec;
        std::filesystem::remove(_log + "/" + endpoints_file_name, ec);
        const std::size_t before = syncline::testing::count_lines_with(_output, "listening channel=http");
        _child.emplace(syncline::testing::start("syncline-gateway", _args, _output));
        ASSERT_TRUE(eventually([&] { return syncline::testing::count_lines_with(_output, "listening channel=http") > before; }, 10s))
            << read_file(_output);
        ASSERT_TRUE(eventually([&] { return read_endpoints_file(_log).has_value(); }, 10s));
        _http = read_endpoints_file(_log)->http;
    }
    int stop() {
        const int code = _child->stop(10s);
        _child.reset();
        return code;
    }
    void kill() {
        _child->signal(SIGKILL);
        _child->wait_for(10s);
        _child.reset();
    }
    bool running() { return _child && _child->running(); }

    httplib::Client http() const {
        httplib::Client c(_http);
        c.set_read_timeout(10, 0);
        return c;
    }
    const std::string& zmq() const { return _zmq; }
    const std::string& log_dir() const { return _log; }
    const std::string& output() const { return _output; }

private:
    const temp_dir& _dir;
    std::string _log, _output, _zmq, _http;
    std::vector<std::string> _args;
    std::optional<child_process> _child;
};

std::string jsonl(int from, int to, const std::string& prefix = "k") {
    std::string body;
    for (int i = from; i < to; ++i)
        body += "{\"collection\":\"c\",\"key\":\"" + prefix + std::to_string(i) + "\",\"value\":{\"i\":" + std::to_string(i) + "}}\n";
    return body;
}

// Every key of the log -> its offsets.
std::map<std::string, std::vector<std::uint64_t>> keys_in_log(const std::string& log_dir) {
    std::map<std::string, std::vector<std::uint64_t>> keys;
    auto log = store::change_log::open_reader(log_dir);
    EXPECT_TRUE(log.ok()) << log.get_status().message();
    if (!log.ok()) return keys;
    std::uint64_t from = 1;
    for (;;) {
        std::uint64_t last_seen = 0;
        auto n = (*log)->scan(from, 10'000, 64u << 20, [&](std::uint64_t offset, std::string_view bytes) {
            auto r = codec::decode_record(bytes);
            EXPECT_TRUE(r.ok());
            if (r.ok()) keys[std::string(r->key)].push_back(offset);
            last_seen = offset;
            return true;
        });
        EXPECT_TRUE(n.ok());
        if (!n.ok() || *n == 0) break;
        from = last_seen + 1;
    }
    return keys;
}

std::uint64_t last_offset(const std::string& log_dir) {
    auto log = store::change_log::open_reader(log_dir);
    return log.ok() ? (*log)->last_offset() : 0;
}

TEST(gateway, http_publish_is_atomic_and_idempotent_across_a_restart) {
    temp_dir dir;
    gateway_process gw(dir, {});
    gw.start();
    {
        auto c = gw.http();
        auto res = c.Post("/v1/changes", {{"Syncline-Producer", "crm"}, {"Syncline-Sequence", "1"}}, jsonl(0, 3),
                          "application/x-ndjson");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200) << res->body;
        EXPECT_EQ(res->body, "{\"count\":3,\"first_offset\":1,\"last_offset\":3}\n");
        // One bad record refuses the whole request, naming it; nothing of it is appended.
        std::string bad = jsonl(10, 12) + "{\"collection\":\"c\",\"value\":1}\n";
        res = c.Post("/v1/changes", bad, "application/x-ndjson");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400);
        EXPECT_EQ(res->body, "{\"error\":\"missing \\\"key\\\"\",\"index\":2,\"line\":3}\n");
    }
    EXPECT_EQ(gw.stop(), 0);  // SIGTERM: drains, exits 0.
    EXPECT_FALSE(read_endpoints_file(gw.log_dir()).has_value()) << "a clean stop removes the endpoints file";
    EXPECT_EQ(last_offset(gw.log_dir()), 3u);

    gw.start();
    {
        auto c = gw.http();
        // The retry after the restart: the original offsets, nothing appended.
        auto res = c.Post("/v1/changes", {{"Syncline-Producer", "crm"}, {"Syncline-Sequence", "1"}}, jsonl(0, 3),
                          "application/x-ndjson");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
        EXPECT_EQ(res->body, "{\"count\":3,\"duplicate\":true,\"first_offset\":1,\"last_offset\":3}\n");
        // Over ZeroMQ too: the client resumes above the producer's last sequence.
        client_options o;
        o.endpoint = gw.zmq();
        o.producer = "crm";
        auto zc = client::connect(o);
        ASSERT_TRUE(zc.ok()) << zc.get_status().message();
        EXPECT_EQ((*zc)->next_sequence(), 2u);
        // An older sequence is refused (409), never appended.
        res = c.Post("/v1/changes", {{"Syncline-Producer", "crm"}, {"Syncline-Sequence", "0"}}, jsonl(0, 1), "application/json");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400);
        o.first_sequence = 1;
        o.producer = "crm";
        auto stale = client::connect(o);
        ASSERT_TRUE(stale.ok());
        std::vector<record> one(1);
        one[0].collection = "c";
        one[0].key = "x";
        one[0].value = "1";
        auto dup = (*stale)->publish(one);  // Sequence 1 again, other content: answered as the retry it claims to be.
        ASSERT_TRUE(dup.ok()) << dup.get_status().message();
        EXPECT_TRUE(dup->duplicate);
        EXPECT_EQ(dup->first, 1u);
        auto next = (*zc)->publish(one);
        ASSERT_TRUE(next.ok()) << next.get_status().message();
        EXPECT_EQ(next->first, 4u);
        EXPECT_FALSE(next->duplicate);
        auto log = c.Get("/v1/log");
        ASSERT_TRUE(log);
        EXPECT_NE(log->body.find("\"last_offset\":4"), std::string::npos) << log->body;
    }
    EXPECT_EQ(gw.stop(), 0);
    EXPECT_EQ(last_offset(gw.log_dir()), 4u);
}

TEST(gateway, bearer_token_is_required_and_never_logged) {
    temp_dir dir;
    const std::string secret = "s3cr3t-token-value";
    {
        std::ofstream(dir / "token") << secret << "\n";
    }
    gateway_process gw(dir, {"--http-token-file", dir / "token"});
    gw.start();
    auto c = gw.http();
    auto res = c.Post("/v1/changes", jsonl(0, 1), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    res = c.Post("/v1/changes", {{"Authorization", "Bearer wrong"}}, jsonl(0, 1), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    res = c.Get("/v1/log");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    res = c.Post("/v1/changes", {{"Authorization", "Bearer " + secret}}, jsonl(0, 1), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    auto metrics = c.Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->body.find(secret), std::string::npos);
    EXPECT_EQ(gw.stop(), 0);
    EXPECT_EQ(read_file(gw.output()).find(secret), std::string::npos);
    EXPECT_EQ(last_offset(gw.log_dir()), 1u);
}

TEST(gateway, https_with_a_certificate) {
    temp_dir dir;
    auto openssl = child_process::spawn({.argv = {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                                  "-keyout", dir / "key.pem", "-out", dir / "cert.pem", "-days", "1",
                                                  "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                                         .stdout_path = dir / "openssl.log", .stderr_path = dir / "openssl.log"});
    ASSERT_TRUE(openssl.ok());
    ASSERT_EQ(openssl->wait_for(scaled(30s)), 0) << read_file(dir / "openssl.log");
    gateway_process gw(dir, {"--http-tls-cert", dir / "cert.pem", "--http-tls-key", dir / "key.pem"});
    gw.start();
    httplib::Client c = gw.http();
    c.set_ca_cert_path((dir / "cert.pem").c_str());
    c.enable_server_certificate_verification(true);
    auto res = c.Post("/v1/changes", jsonl(0, 2), "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "{\"count\":2,\"first_offset\":1,\"last_offset\":2}\n");
    EXPECT_EQ(gw.stop(), 0);
    EXPECT_EQ(last_offset(gw.log_dir()), 2u);
}

TEST(gateway, backpressure_answers_busy_and_nothing_is_lost_when_producers_retry) {
    temp_dir dir;
    // A 1 KiB cap: any request arriving while another is being written is turned away.
    gateway_process gw(dir, {"--max-in-flight-kib", "1", "--max-request-kib", "64"});
    gw.start();
    constexpr int threads = 6, per_thread = 40;
    std::atomic<int> busy{0};
    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t) {
        producers.emplace_back([&, t] {
            auto c = gw.http();
            for (int i = 0; i < per_thread; ++i) {
                const std::string body = jsonl(i * 5, i * 5 + 5, "t" + std::to_string(t) + "-");
                for (;;) {
                    auto res = c.Post("/v1/changes", {{"Syncline-Producer", "t" + std::to_string(t)},
                                                      {"Syncline-Sequence", std::to_string(i + 1)}},
                                      body, "application/json");
                    if (res && res->status == 200) break;
                    if (res && res->status == 429) {
                        EXPECT_EQ(res->get_header_value("Retry-After"), "1");
                        ++busy;
                        std::this_thread::sleep_for(2ms);  // Back off, then the same request again.
                        continue;
                    }
                    ADD_FAILURE() << "unexpected answer " << (res ? res->status : -1);
                    return;
                }
            }
        });
    }
    for (auto& p : producers) p.join();
    EXPECT_GT(busy.load(), 0) << "six producers against a 1 KiB cap never saw a 429";
    EXPECT_EQ(gw.stop(), 0);
    const auto keys = keys_in_log(gw.log_dir());
    EXPECT_EQ(keys.size(), static_cast<std::size_t>(threads * per_thread * 5));
    for (const auto& [key, offsets] : keys) EXPECT_EQ(offsets.size(), 1u) << key;
}

TEST(gateway, hostile_input_is_refused_or_dropped_and_the_gateway_carries_on) {
    temp_dir dir;
    gateway_process gw(dir, {"--max-request-kib", "64"});
    gw.start();
    auto c = gw.http();
    for (const std::string& body : {std::string("\x00\xff\xfe garbage", 12), std::string("[{\"collection\":"),
                                   std::string("{\"collection\":\"c\",\"key\":\"k\",\"value\":1,\"key\":\"j\"}"),
                                   std::string("[1,2,3]"), std::string("")}) {
        auto res = c.Post("/v1/changes", body, "application/json");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400) << body;
        EXPECT_NE(res->body.find("\"error\""), std::string::npos);
    }
    auto res = c.Post("/v1/changes", std::string(70 * 1024, ' '), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 413);
    res = c.Post("/v1/changes", {{"Syncline-Sequence", "1"}}, jsonl(0, 1), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);

    // ZeroMQ: garbage frames are counted and dropped; a well-formed request with a bad record is refused.
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect(gw.zmq());
    s.send(zmq::buffer(std::string("junk")), zmq::send_flags::none);                           // one frame
    s.send(zmq::buffer(std::string("\xc1")), zmq::send_flags::sndmore);                         // bad header
    s.send(zmq::buffer(std::string("x")), zmq::send_flags::none);
    s.send(zmq::buffer(std::string("a")), zmq::send_flags::sndmore);                            // three frames
    s.send(zmq::buffer(std::string("b")), zmq::send_flags::sndmore);
    s.send(zmq::buffer(std::string("c")), zmq::send_flags::none);
    const wire::frames body_garbage = {encode_publish("p", 1, {}).header, std::string("\xdd\xff\xff\xff\xff", 5)};
    ASSERT_TRUE(zmqx::send(s, body_garbage, 1s));
    auto got = zmqx::receive(s, scaled(10s));
    ASSERT_TRUE(got.ok() && got->has_value());
    auto r = decode_reply((*got)->header_view(), (*got)->body_view());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->type, reply::kind::refused);
    std::vector<record> recs(2);
    recs[0] = {0, 0, "c", "k", op::upsert, "1", {}};
    recs[1] = {0, 0, "c", "", op::upsert, "1", {}};
    ASSERT_TRUE(zmqx::send(s, encode_publish("p", 1, recs), 1s));
    got = zmqx::receive(s, scaled(10s));
    ASSERT_TRUE(got.ok() && got->has_value());
    r = decode_reply((*got)->header_view(), (*got)->body_view());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->type, reply::kind::refused);
    EXPECT_EQ(r->index, 1u);
    EXPECT_EQ(r->reason, "empty key");

    // Still serving, and the drops are counted.
    res = c.Post("/v1/changes", jsonl(0, 2), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ASSERT_TRUE(eventually([&] {
        auto m = c.Get("/metrics");
        return m && m->body.find("syncline_gateway_bad_frames_dropped_total 3") != std::string::npos;
    }, 10s)) << c.Get("/metrics")->body;
    EXPECT_EQ(gw.stop(), 0);
    EXPECT_EQ(last_offset(gw.log_dir()), 2u);
}

TEST(gateway, syncline_append_names_the_gateway_and_goes_through_it_with_via) {
    temp_dir dir;
    gateway_process gw(dir, {});
    gw.start();
    {
        std::ofstream(dir / "in.jsonl") << jsonl(0, 3);
    }
    // Without --via the log is locked: the error names the gateway's endpoint.
    EXPECT_EQ(syncline::testing::run_to_exit("syncline", {"append", "--log", gw.log_dir(), dir / "in.jsonl"}, dir / "append1.log"), 1);
    const std::string err = read_file(dir / "append1.log");
    EXPECT_NE(err.find("held by a syncline gateway"), std::string::npos) << err;
    EXPECT_NE(err.find("--via " + gw.zmq()), std::string::npos) << err;
    // With --via it is appended through the gateway; a bad input appends nothing.
    EXPECT_EQ(syncline::testing::run_to_exit("syncline", {"append", "--via", gw.zmq(), dir / "in.jsonl"}, dir / "append2.log"), 0)
        << read_file(dir / "append2.log");
    EXPECT_NE(read_file(dir / "append2.log").find("appended 3 records: offsets 1..3"), std::string::npos);
    {
        std::ofstream(dir / "bad.jsonl") << jsonl(0, 1) << "{\"collection\":\"c\",\"key\":\"k\",\"value\":1e999999}\n";
    }
    EXPECT_EQ(syncline::testing::run_to_exit("syncline", {"append", "--via", gw.zmq(), dir / "bad.jsonl"}, dir / "append3.log"), 1);
    EXPECT_EQ(syncline::testing::run_to_exit("syncline", {"generate", "--via", gw.zmq(), "--records", "2500"}, dir / "gen.log"), 0)
        << read_file(dir / "gen.log");
    EXPECT_EQ(gw.stop(), 0);
    EXPECT_EQ(last_offset(gw.log_dir()), 2503u);
    // `syncline serve` is the gateway (exec'd from the same directory).
    EXPECT_EQ(syncline::testing::run_to_exit("syncline", {"serve", "--help"}, dir / "serve.log"), 0);
    EXPECT_NE(read_file(dir / "serve.log").find("usage: syncline-gateway --log DIR"), std::string::npos)
        << read_file(dir / "serve.log");
}

TEST(gateway, curve_admits_only_allowed_producers) {
    temp_dir dir;
    std::filesystem::create_directories(dir / "allow");
    auto write_pair = [&](const std::string& where, const std::string& name) {
        auto k = curve::generate();
        ASSERT_TRUE(k.ok());
        ASSERT_TRUE(curve::write_key_pair(where, name, *k).ok());
    };
    write_pair(dir / "keys", "server");
    write_pair(dir / "allow", "producer");
    write_pair(dir / "other", "stranger");
    gateway_process gw(dir, {"--curve-secret", dir / "keys/server.key", "--curve-allow", dir / "allow"},
                       "tcp://127.0.0.1:" + std::to_string(syncline::testing::free_tcp_port()));
    gw.start();
    auto server_pub = curve::load_public_key(dir / "keys/server.pub");
    ASSERT_TRUE(server_pub.ok());
    auto options_for = [&](const std::string& key_file) {
        client_options o;
        o.endpoint = gw.zmq();
        o.first_sequence = 1;
        o.producer = "curved";
        o.reply_timeout = 300ms;
        o.give_up_after = 700ms;
        auto own = curve::load_secret_key(key_file);
        EXPECT_TRUE(own.ok());
        o.curve = curve::keys{*own, *server_pub, ""};
        return o;
    };
    std::vector<record> one{{0, 0, "c", "k", op::upsert, "1", {}}};
    auto stranger = client::connect(options_for(dir / "other/stranger.key"));
    ASSERT_TRUE(stranger.ok());
    auto refused = (*stranger)->publish(one);
    EXPECT_FALSE(refused.ok());
    EXPECT_EQ(refused.get_status().code(), errc::unavailable);
    auto allowed = client::connect(options_for(dir / "allow/producer.key"));
    ASSERT_TRUE(allowed.ok());
    auto ack = (*allowed)->publish(one);
    ASSERT_TRUE(ack.ok()) << ack.get_status().message();
    EXPECT_EQ(ack->first, 1u);
    EXPECT_EQ(gw.stop(), 0);
    EXPECT_EQ(last_offset(gw.log_dir()), 1u);
    EXPECT_NE(read_file(gw.output()).find("curve_rejected="), std::string::npos);
    EXPECT_EQ(read_file(gw.output()).find("curve_rejected=0"), std::string::npos) << "the stranger was not counted";
}

// The README's flow: a gateway, one change with curl's request (HTTP) and one with the Python
// example (pyzmq), and a pipeline on the same log, run while the gateway holds it, delivers both.
TEST(gateway, readme_flow_curl_and_python_changes_reach_a_pipeline) {
    temp_dir dir;
    gateway_process gw(dir, {});
    gw.start();
    auto c = gw.http();
    auto res = c.Post("/v1/changes", {{"Syncline-Producer", "crm-1"}, {"Syncline-Sequence", "1"}},
                      "{\"collection\":\"users\",\"key\":\"42\",\"value\":{\"name\":\"Ada\"}}", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body, "{\"count\":1,\"first_offset\":1,\"last_offset\":1}\n");

    auto probe = child_process::spawn({.argv = {"/usr/bin/python3", "-c", "import zmq"},
                                       .stdout_path = dir / "probe.log", .stderr_path = dir / "probe.log"});
    ASSERT_TRUE(probe.ok());
    const bool have_pyzmq = probe->wait_for(scaled(30s)) == 0;
    if (have_pyzmq) {
        auto py = child_process::spawn({.argv = {"/usr/bin/python3", SYNCLINE_EXAMPLES_DIR "/producer.py", "--endpoint",
                                                 gw.zmq(), "--producer", "crm-2", "users", "43", "{\"name\":\"Grace\"}"},
                                        .stdout_path = dir / "py.out", .stderr_path = dir / "py.err"});
        ASSERT_TRUE(py.ok());
        EXPECT_EQ(py->wait_for(scaled(30s)), 0) << read_file(dir / "py.err");
        EXPECT_EQ(read_file(dir / "py.out"), "{\"first_offset\": 2, \"last_offset\": 2, \"count\": 1, \"duplicate\": false}\n");
    } else {
        ADD_FAILURE() << "python3-zmq is missing (scripts/setup.sh installs it): " << read_file(dir / "probe.log");
    }

    // The pipeline reads the log while the gateway is its writer.
    const std::string state = dir / "state", db = dir / "users.db";
    EXPECT_EQ(syncline::testing::run_to_exit("syncline", {"run", "--log", gw.log_dir(), "--state", state, "--pipeline", "p",
                                                          "--target", "sqlite:" + db, "--workers", "1", "--until-caught-up"},
                                             dir / "run.log", 120s),
              0)
        << read_file(dir / "run.log");
    EXPECT_EQ(syncline::testing::committed(state, "p"), 2u);
    EXPECT_EQ(syncline::testing::run_to_exit("syncline", {"verify", "--log", gw.log_dir(), "--state", state, "--pipeline", "p",
                                                          "--target", "sqlite:" + db},
                                             dir / "verify.log", 60s),
              0)
        << read_file(dir / "verify.log");
    EXPECT_EQ(gw.stop(), 0);
}

// Producers publish with retries while the gateway is SIGKILLed and restarted: every request a
// producer saw acknowledged is in the log exactly once, at the offsets it was told, and no record
// is there twice.
std::vector<record> numbered(const std::string& prefix, int n, bool bad_last = false) {
    std::vector<record> out(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        out[i].collection = "c";
        out[i].key = prefix + "-" + std::to_string(i);
        out[i].value = "{}";
    }
    if (bad_last) out.back().key.clear();  // Refused: a record needs a key.
    return out;
}

TEST(gateway, a_window_keeps_order_through_busy_replies_and_a_refused_request) {
    temp_dir dir;
    // A 1 KiB cap: most of a 16-request window is turned away (busy) and resent, in order.
    gateway_process gw(dir, {"--max-in-flight-kib", "1"});
    gw.start();
    client_options o;
    o.endpoint = gw.zmq();
    o.producer = "w";
    o.window = 16;
    o.retry_backoff = 1ms;
    auto c = client::connect(o);
    ASSERT_TRUE(c.ok()) << c.get_status().message();
    constexpr int requests = 60;
    for (int r = 1; r <= requests; ++r) {
        // Request 30 holds a bad record: refused, and those after it still land, in order.
        auto sent = (*c)->send(numbered("r" + std::to_string(r), 5, r == 30));
        ASSERT_TRUE(sent.ok()) << sent.get_status().message();
        EXPECT_EQ(*sent, static_cast<std::uint64_t>(r));
    }
    auto acks = (*c)->collect();
    ASSERT_TRUE(acks.ok()) << acks.get_status().message();
    ASSERT_EQ(acks->size(), static_cast<std::size_t>(requests));
    std::uint64_t previous_last = 0;
    int resent = 0;
    for (const auto& a : *acks) {
        if (a.sequence == 30) {
            EXPECT_TRUE(a.refused);
            EXPECT_EQ(a.index, 4u);
            continue;
        }
        ASSERT_FALSE(a.refused) << a.sequence << ": " << a.reason;
        EXPECT_EQ(a.first, previous_last + 1) << "sequence " << a.sequence << " is not right after the one before";
        previous_last = a.last;
        if (a.attempts > 1) ++resent;
    }
    EXPECT_GT(resent, 0) << "a 1 KiB cap never turned a request of the window away";
    EXPECT_EQ(gw.stop(), 0);
    const auto keys = keys_in_log(gw.log_dir());
    EXPECT_EQ(keys.size(), static_cast<std::size_t>((requests - 1) * 5));
    for (const auto& [key, offsets] : keys) EXPECT_EQ(offsets.size(), 1u) << key;
    EXPECT_EQ(keys.count("r30-0"), 0u) << "nothing of the refused request is appended";
}

TEST(gateway, the_producer_table_is_bounded_by_count_and_idle_time) {
    temp_dir dir;
    auto post = [](httplib::Client& c, const std::string& producer, int sequence, const std::string& body) {
        auto res = c.Post("/v1/changes", {{"Syncline-Producer", producer}, {"Syncline-Sequence", std::to_string(sequence)}},
                          body, "application/x-ndjson");
        EXPECT_TRUE(res);
        return res ? res->status == 200 && res->body.find("duplicate") != std::string::npos ? std::string("duplicate")
                                                                                           : std::to_string(res->status)
                   : std::string("none");
    };
    {
        gateway_process gw(dir, {"--max-producers", "2"});
        gw.start();
        // A pipelining producer first: it will be the least recently used.
        client_options o;
        o.endpoint = gw.zmq();
        o.producer = "w";
        o.window = 4;
        auto w = client::connect(o);
        ASSERT_TRUE(w.ok()) << w.get_status().message();
        ASSERT_TRUE((*w)->publish(numbered("w1", 1)).ok());
        auto c = gw.http();
        EXPECT_EQ(post(c, "a", 1, jsonl(0, 1, "a")), "200");
        EXPECT_EQ(post(c, "b", 1, jsonl(0, 1, "b")), "200");  // Third id: "w" is dropped.
        EXPECT_EQ(post(c, "b", 1, jsonl(0, 1, "b")), "duplicate");
        // "w" chains its next request to its last: the gateway no longer knows it, and says so
        // rather than guess (a windowed producer is never duplicated by an eviction).
        auto lost = (*w)->publish(numbered("w2", 1));
        ASSERT_FALSE(lost.ok());
        EXPECT_NE(lost.get_status().message().find("--producer-idle-hours"), std::string::npos) << lost.get_status().message();
        // A one-at-a-time producer's very late retry is appended again (docs/producers.md).
        EXPECT_EQ(post(c, "c", 1, jsonl(0, 1, "c")), "200");  // Drops "a".
        EXPECT_EQ(post(c, "a", 1, jsonl(0, 1, "a")), "200");
        auto log = c.Get("/v1/log");
        ASSERT_TRUE(log);
        EXPECT_NE(log->body.find("\"producers\":2"), std::string::npos) << log->body;
        auto metrics = c.Get("/metrics");
        ASSERT_TRUE(metrics);
        EXPECT_NE(metrics->body.find("syncline_gateway_producers_evicted_total 3\n"), std::string::npos) << metrics->body;
        EXPECT_EQ(gw.stop(), 0);
    }
    {
        // The evictions were written: after a restart the table still holds c and a.
        gateway_process gw(dir, {});
        gw.start();
        auto c = gw.http();
        EXPECT_EQ(post(c, "a", 1, jsonl(0, 1, "a")), "duplicate");
        EXPECT_EQ(post(c, "c", 1, jsonl(0, 1, "c")), "duplicate");
        auto log = c.Get("/v1/log");
        ASSERT_TRUE(log);
        EXPECT_NE(log->body.find("\"producers\":2"), std::string::npos) << log->body;
        EXPECT_EQ(gw.stop(), 0);
    }
    std::this_thread::sleep_for(1s);
    {
        // An idle bound of 0.36 s: a second later, the gateway drops both entries as it starts.
        gateway_process gw(dir, {"--producer-idle-hours", "0.0001"});
        gw.start();
        auto c = gw.http();
        EXPECT_EQ(post(c, "a", 1, jsonl(0, 1, "a")), "200") << "an expired producer's retry is appended again";
        auto log = c.Get("/v1/log");
        ASSERT_TRUE(log);
        EXPECT_NE(log->body.find("\"producers\":1"), std::string::npos) << log->body;
        EXPECT_EQ(gw.stop(), 0);
    }
    const auto keys = keys_in_log(dir / "log");
    EXPECT_EQ(keys.at("a0").size(), 3u);
    EXPECT_EQ(keys.at("b0").size(), 1u);
}

TEST(gateway, a_producer_entry_of_the_first_form_is_kept_and_given_a_time) {
    temp_dir dir;
    {
        // A table written before entries had a time: [sequence, first, last, count].
        store::change_log_options o;
        o.path = dir / "log";
        auto log = store::change_log::open_writer(o);
        ASSERT_TRUE(log.ok()) << log.get_status().message();
        std::vector<record> one = numbered("old", 1);
        const std::vector<store::meta_entry> meta{{"producer/old", std::string("\x94\x07\x01\x01\x01", 5)}};
        ASSERT_TRUE((*log)->append(one, meta).ok());
    }
    gateway_process gw(dir, {});
    gw.start();
    auto c = gw.http();
    auto res = c.Post("/v1/changes", {{"Syncline-Producer", "old"}, {"Syncline-Sequence", "7"}}, jsonl(0, 1), "application/x-ndjson");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body, "{\"count\":1,\"duplicate\":true,\"first_offset\":1,\"last_offset\":1}\n");
    EXPECT_EQ(gw.stop(), 0);
    auto log = store::change_log::open_reader(gw.log_dir());
    ASSERT_TRUE(log.ok());
    auto bytes = (*log)->get_meta("producer/old");
    ASSERT_TRUE(bytes.ok() && bytes->has_value());
    auto entry = decode_producer_entry(**bytes);
    ASSERT_TRUE(entry.ok());
    EXPECT_EQ(entry->sequence, 7u);
    EXPECT_GT(entry->at_ms, 0u) << "rewritten with a time, so that the idle bound reaches it";
}

TEST(gateway, sigkill_restarts_lose_and_duplicate_nothing) {
    temp_dir dir;
    gateway_process gw(dir, {});
    gw.start();
    constexpr int producers = 4, requests = 60, per_request = 20, kills = 10;
    std::vector<child_process> children;
    for (int p = 0; p < producers; ++p) {
        // p0 and p1 send one request at a time; p2 and p3 keep a window of 8 in flight.
        const std::string id = "p" + std::to_string(p);
        children.push_back(syncline::testing::start(
            "gateway_test_producer", {gw.zmq(), id, std::to_string(requests), std::to_string(per_request), dir / (id + ".acks"),
                                      p < 2 ? "1" : "8"},
            dir / (id + ".log")));
    }
    auto acked = [&] {
        std::size_t n = 0;
        for (int p = 0; p < producers; ++p) n += syncline::testing::count_lines_with(dir / ("p" + std::to_string(p) + ".acks"), " ");
        return n;
    };
    for (int k = 0; k < kills; ++k) {
        const std::size_t before = acked();
        // Kill once producers made progress since the last restart (or they are all done).
        ASSERT_TRUE(eventually([&] { return acked() >= before + 10 || acked() == producers * requests; }, 30s));
        gw.kill();
        gw.start();
    }
    for (auto& child : children) EXPECT_EQ(child.wait_for(scaled(60s)), 0);
    EXPECT_EQ(gw.stop(), 0);

    const auto keys = keys_in_log(gw.log_dir());
    EXPECT_EQ(keys.size(), static_cast<std::size_t>(producers * requests * per_request));
    for (const auto& [key, offsets] : keys) ASSERT_EQ(offsets.size(), 1u) << key << " is in the log more than once";
    for (int p = 0; p < producers; ++p) {
        const std::string id = "p" + std::to_string(p);
        std::ifstream in(dir / (id + ".acks"));
        std::set<std::uint64_t> sequences;
        std::map<std::uint64_t, std::uint64_t> first_by_sequence;
        std::uint64_t seq, first, last, count;
        int dup;
        while (in >> seq >> first >> last >> count >> dup) {
            sequences.insert(seq);
            first_by_sequence[seq] = first;
            ASSERT_EQ(count, static_cast<std::uint64_t>(per_request));
            ASSERT_EQ(last - first + 1, count);
            for (int i = 0; i < per_request; ++i) {
                const auto it = keys.find(id + "-" + std::to_string(seq) + "-" + std::to_string(i));
                ASSERT_NE(it, keys.end()) << id << " sequence " << seq << " was acknowledged but is not in the log";
                ASSERT_EQ(it->second.front(), first + i) << "acknowledged at another offset";
            }
        }
        EXPECT_EQ(sequences.size(), static_cast<std::size_t>(requests)) << id;
        // A producer's requests are in the log in the order of their sequences, windows included.
        std::uint64_t previous_first = 0;
        for (const auto& [s, f] : first_by_sequence) {
            EXPECT_GT(f, previous_first) << id << " sequence " << s << " landed before an earlier one";
            previous_first = f;
        }
    }
    // A pipeline over the log delivers it and verifies clean.
    const std::string state = dir / "state", db = dir / "items.db";
    EXPECT_EQ(syncline::testing::run_to_exit("syncline", {"run", "--log", gw.log_dir(), "--state", state, "--pipeline", "p",
                                                          "--target", "sqlite:" + db, "--workers", "2", "--until-caught-up"},
                                             dir / "run.log", 120s),
              0)
        << read_file(dir / "run.log");
    EXPECT_EQ(syncline::testing::run_to_exit("syncline", {"verify", "--log", gw.log_dir(), "--state", state, "--pipeline", "p",
                                                          "--target", "sqlite:" + db},
                                             dir / "verify.log", 60s),
              0)
        << read_file(dir / "verify.log");
}

}  // namespace
}  // namespace syncline::gateway
