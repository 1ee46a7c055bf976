#pragma once
// tests/support/http_receiver.h: a real HTTP server in the test process (cpp-httplib) on
// 127.0.0.1 and a free port, standing in for a webhook receiver. It records every request
// (path, headers, body, the offsets in the body), checks its Syncline-Signature with the shared
// secret the way docs/targets/webhook.md tells receivers to (its own HMAC code, OpenSSL's
// one-shot HMAC, not the target's), and answers as told: 200 by default; a status, Retry-After
// and/or a delay for the next N requests, for a time window, or for requests a predicate picks.
// stop() and start() again (same port) make an outage. Thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace syncline::testing {

struct received_request {
    std::string path;                            // With its query string.
    std::multimap<std::string, std::string> headers;  // Names as sent.
    std::string body;
    std::string idempotency_key;                 // "" when absent.
    bool signature_valid = false;                // HMAC matches and the timestamp is fresh.
    std::int64_t signed_at = 0;                  // The signature's t=.
    std::vector<std::uint64_t> offsets;          // records[].offset of the body (empty if unparsable).
    int answered = 0;                            // The status this receiver answered.
    int remote_port = 0;                         // The client's port: one per connection.
    std::chrono::steady_clock::time_point at;    // When it arrived.
};

struct answer {
    int status = 200;
    std::string body = "ok";
    std::optional<int> retry_after_seconds;      // A Retry-After header.
    std::chrono::milliseconds delay{0};          // Waits this long before answering.

    static answer with(int status, std::string body = "ok") {
        answer a;
        a.status = status;
        a.body = std::move(body);
        return a;
    }
    answer retry_after(int seconds) && {
        retry_after_seconds = seconds;
        return std::move(*this);
    }
    answer after(std::chrono::milliseconds wait) && {
        delay = wait;
        return std::move(*this);
    }
};

class http_receiver {
public:
    // Accepts signatures made with `secret` within `tolerance` of now. Starts listening.
    explicit http_receiver(std::string secret, std::chrono::seconds tolerance = std::chrono::seconds(300));
    ~http_receiver();
    http_receiver(const http_receiver&) = delete;
    http_receiver& operator=(const http_receiver&) = delete;

    void start();  // Listens again on the same port (after stop()).
    void stop();   // Closes the port: connections are refused until start().
    int port() const { return _port; }
    // "http://127.0.0.1:PORT" + path.
    std::string url(const std::string& path = "/hook") const;

    // The next `n` requests get `a`; then the earlier rules apply again.
    void answer_next(int n, answer a);
    // Requests within the next `window` get `a` (after any answer_next ones).
    void answer_for(std::chrono::milliseconds window, answer a);
    // Other requests get what `pick` returns, or 200 when it returns nullopt.
    void answer_when(std::function<std::optional<answer>(const received_request&)> pick);

    std::vector<received_request> requests() const;
    std::size_t request_count() const;
    // Waits until at least `n` requests arrived; false on timeout.
    bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;

    // The receiver's own signature check (exposed so tests can check it rejects bad input).
    static bool verify_signature(const std::string& secret, const std::string& header, const std::string& body,
                                 std::int64_t now, std::chrono::seconds tolerance, std::int64_t* signed_at = nullptr);

private:
    struct server;
    answer choose(const received_request& r);

    std::string _secret;
    std::chrono::seconds _tolerance;
    int _port = 0;
    std::unique_ptr<server> _server;
    std::thread _thread;

    mutable std::mutex _mutex;
    mutable std::condition_variable _arrived;
    std::vector<received_request> _requests;
    int _next_count = 0;
    answer _next_answer;
    std::chrono::steady_clock::time_point _window_end{};
    answer _window_answer;
    std::function<std::optional<answer>(const received_request&)> _pick;
};

}  // namespace syncline::testing
