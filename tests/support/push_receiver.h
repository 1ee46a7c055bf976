#pragma once
// tests/support/push_receiver.h: a local HTTP/2 server standing in for FCM and APNs
// (tests/support/push_receiver.py, python3-h2 over TLS with ALPN h2), run as a child process on
// 127.0.0.1 and a free port. The constructor makes a temp dir with a self-signed certificate for
// 127.0.0.1 (the targets trust it with ca_file=), an APNs signing key (.p8, P-256) whose public
// half the server verifies JWTs with, and an FCM access token file. Every request is recorded
// (path, headers, body, answer, shape problems); answers depend on the device token's prefix
// (unregistered*, invalid*, toolarge*, throttled*, unavailable*, expired*: see the script).
// stop() and start() again (same port) make an outage. The destructor kills and reaps the server.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "tests/support/harness.h"

namespace syncline::testing {

struct push_request_seen {
    std::string service;  // "fcm" or "apns".
    std::string path;
    std::map<std::string, std::string> headers;  // Lower-case names.
    std::string body;
    int status = 0;                       // What the receiver answered.
    std::string reason;                   // The error code it answered ("" for 200).
    std::vector<std::string> problems;    // Where the request breaks the service's documented shape.
    std::string device_token;             // From the FCM body or the APNs path.
    std::string id;                       // FCM data.syncline_id, or the apns-id header.
    int connection = 0;                   // Which connection (numbered from 1 per server start) carried it.
};

class push_receiver {
public:
    static constexpr const char* fcm_token = "ya29.test-access-token";
    static constexpr const char* apns_key_id = "KEYID12345";
    static constexpr const char* apns_team_id = "TEAMID6789";

    push_receiver();  // Starts it; throws std::runtime_error if it does not come up.
    ~push_receiver();
    push_receiver(const push_receiver&) = delete;
    push_receiver& operator=(const push_receiver&) = delete;

    void start();
    void stop();  // SIGKILL: connections drop mid-stream, as in a crash.
    int port() const { return _port; }
    std::string endpoint() const { return "https://127.0.0.1:" + std::to_string(_port); }
    std::string ca_file() const { return _dir / "cert.pem"; }
    std::string apns_key_file() const { return _dir / "apns.p8"; }
    std::string fcm_token_file() const { return _dir / "fcm.token"; }

    // Every request so far, in arrival order.
    std::vector<push_request_seen> requests() const;
    bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
    // The server's own output (for failure messages).
    std::string log() const { return read_file(_dir / "server.log"); }

private:
    temp_dir _dir;
    int _port = 0;
    std::optional<child_process> _process;
};

}  // namespace syncline::testing
