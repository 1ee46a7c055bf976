#include "tests/support/push_receiver.h"

#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/launch.h"

namespace syncline::testing {
namespace {

void run_openssl(const std::vector<std::string>& args, const std::string& log) {
    spawn_options opts;
    opts.argv = {"/usr/bin/openssl"};
    opts.argv.insert(opts.argv.end(), args.begin(), args.end());
    opts.stdout_path = log;
    opts.stderr_path = log;
    opts.stdin_path = "/dev/null";
    auto child = child_process::spawn(opts);
    if (!child.ok()) throw std::runtime_error("openssl: " + child.get_status().message());
    const auto code = child.value().wait_for(std::chrono::seconds(30));
    if (code != 0) throw std::runtime_error("openssl " + args.front() + " failed: " + read_file(log));
}

}  // namespace

push_receiver::push_receiver() {
    const std::string log = _dir / "openssl.log";
    run_openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                 _dir / "key.pem", "-out", _dir / "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                 "subjectAltName=IP:127.0.0.1"},
                log);
    run_openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", _dir / "apns.p8"}, log);
    run_openssl({"pkey", "-in", _dir / "apns.p8", "-pubout", "-out", _dir / "apns.pub"}, log);
    std::ofstream(fcm_token_file()) << fcm_token << "\n";
    start_on_free_ports([this] {
        _port = free_tcp_port();
        start();
    });
}

push_receiver::~push_receiver() { _process.reset(); }

void push_receiver::start() {
    if (_process) return;
    const std::string server_log = _dir / "server.log";
    const std::size_t lines_before = count_lines_with(server_log, "listening on");
    _process = launch_server("push receiver on port " + std::to_string(_port),
                             {"/usr/bin/python3", SYNCLINE_PUSH_RECEIVER_SCRIPT, "--port", std::to_string(_port), "--cert",
                              ca_file(), "--key", _dir / "key.pem", "--log", _dir / "requests.jsonl", "--fcm-token",
                              fcm_token, "--apns-public-key", _dir / "apns.pub", "--apns-key-id", apns_key_id,
                              "--apns-team-id", apns_team_id},
                             server_log, [&] { return count_lines_with(server_log, "listening on") > lines_before; });
}

void push_receiver::stop() {
    if (!_process) return;
    _process->signal(SIGKILL);
    _process->wait_for(std::chrono::seconds(10));
    _process.reset();
}

std::vector<push_request_seen> push_receiver::requests() const {
    std::vector<push_request_seen> out;
    std::istringstream in(read_file(_dir / "requests.jsonl"));
    for (std::string line; std::getline(in, line);) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object()) continue;  // A line cut by a kill.
        push_request_seen r;
        r.service = j["service"];
        r.path = j["path"];
        for (const auto& [name, value] : j["headers"].items()) r.headers[name] = value;
        r.body = j["body"];
        r.status = j["status"];
        r.reason = j["reason"];
        r.connection = j["connection"];
        for (const auto& p : j["problems"]) r.problems.push_back(p);
        if (r.service == "apns") {
            r.device_token = r.path.substr(r.path.rfind('/') + 1);
            r.id = r.headers["apns-id"];
        } else {
            const auto body = nlohmann::json::parse(r.body, nullptr, false);
            if (body.is_object() && body.contains("message")) {
                const auto& m = body["message"];
                if (m.contains("token") && m["token"].is_string()) r.device_token = m["token"];
                if (m.contains("data") && m["data"].contains("syncline_id") && m["data"]["syncline_id"].is_string())
                    r.id = m["data"]["syncline_id"];
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}

bool push_receiver::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
    return eventually([&] { return count_lines_with(_dir / "requests.jsonl", "\"service\"") >= n; }, timeout);
}

}  // namespace syncline::testing
