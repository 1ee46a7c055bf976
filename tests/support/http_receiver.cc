#include "tests/support/http_receiver.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <ctime>
#include <stdexcept>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/harness.h"

namespace syncline::testing {

struct http_receiver::server {
    httplib::Server http;
};

http_receiver::http_receiver(std::string secret, std::chrono::seconds tolerance)
    : _secret(std::move(secret)), _tolerance(tolerance), _port(free_tcp_port()) {
    start();
}

http_receiver::~http_receiver() { stop(); }

void http_receiver::start() {
    if (_server) return;
    _server = std::make_unique<server>();
    auto& http = _server->http;
    // Workers keep their connection: never close it after a handful of requests.
    http.set_keep_alive_max_count(1'000'000);
    // Answers go out at once: with Nagle's algorithm the body waits behind the headers for the
    // client's delayed ACK, 40 ms per request.
    http.set_tcp_nodelay(true);
    http.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
        received_request r;
        r.at = std::chrono::steady_clock::now();
        r.remote_port = req.remote_port;
        r.path = req.target;
        r.headers.insert(req.headers.begin(), req.headers.end());
        r.body = req.body;
        r.idempotency_key = req.get_header_value("Idempotency-Key");
        r.signature_valid = verify_signature(_secret, req.get_header_value("Syncline-Signature"), req.body,
                                             std::time(nullptr), _tolerance, &r.signed_at);
        auto j = nlohmann::json::parse(req.body, nullptr, false);
        if (j.is_object() && j.contains("records") && j["records"].is_array())
            for (const auto& rec : j["records"])
                if (rec.contains("offset") && rec["offset"].is_number_unsigned()) r.offsets.push_back(rec["offset"].get<std::uint64_t>());
        answer a = choose(r);
        r.answered = a.status;
        {
            std::lock_guard lock(_mutex);
            _requests.push_back(std::move(r));
        }
        _arrived.notify_all();
        if (a.delay.count() > 0) std::this_thread::sleep_for(a.delay);
        res.status = a.status;
        if (a.retry_after_seconds) res.set_header("Retry-After", std::to_string(*a.retry_after_seconds));
        res.set_content(a.body, "text/plain");
    });
    // Bound (and listening) before start() returns: no request can race the server's start.
    if (!http.bind_to_port("127.0.0.1", _port)) throw std::runtime_error("http_receiver: cannot bind 127.0.0.1:" + std::to_string(_port));
    _thread = std::thread([this] { _server->http.listen_after_bind(); });
}

void http_receiver::stop() {
    if (!_server) return;
    _server->http.stop();
    if (_thread.joinable()) _thread.join();
    _server.reset();
}

std::string http_receiver::url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(_port) + path; }

void http_receiver::answer_next(int n, answer a) {
    std::lock_guard lock(_mutex);
    _next_count = n;
    _next_answer = std::move(a);
}

void http_receiver::answer_for(std::chrono::milliseconds window, answer a) {
    std::lock_guard lock(_mutex);
    _window_end = std::chrono::steady_clock::now() + window;
    _window_answer = std::move(a);
}

void http_receiver::answer_when(std::function<std::optional<answer>(const received_request&)> pick) {
    std::lock_guard lock(_mutex);
    _pick = std::move(pick);
}

answer http_receiver::choose(const received_request& r) {
    std::lock_guard lock(_mutex);
    if (_next_count > 0) {
        --_next_count;
        return _next_answer;
    }
    if (std::chrono::steady_clock::now() < _window_end) return _window_answer;
    if (_pick)
        if (auto a = _pick(r)) return *a;
    return answer{};
}

std::vector<received_request> http_receiver::requests() const {
    std::lock_guard lock(_mutex);
    return _requests;
}

std::size_t http_receiver::request_count() const {
    std::lock_guard lock(_mutex);
    return _requests.size();
}

bool http_receiver::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(_mutex);
    return _arrived.wait_for(lock, timeout, [&] { return _requests.size() >= n; });
}

bool http_receiver::verify_signature(const std::string& secret, const std::string& header, const std::string& body,
                                     std::int64_t now, std::chrono::seconds tolerance, std::int64_t* signed_at) {
    // "t=<unix seconds>,v1=<hex>": exactly the recipe of docs/targets/webhook.md.
    std::string t, v1;
    std::size_t from = 0;
    while (from <= header.size()) {
        auto comma = header.find(',', from);
        std::string item = header.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
        if (item.rfind("t=", 0) == 0) t = item.substr(2);
        if (item.rfind("v1=", 0) == 0) v1 = item.substr(3);
        if (comma == std::string::npos) break;
        from = comma + 1;
    }
    std::int64_t ts = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), ts);
    if (t.empty() || ec != std::errc{} || end != t.data() + t.size() || v1.size() != 64) return false;
    if (signed_at) *signed_at = ts;
    if (ts < now - tolerance.count() || ts > now + tolerance.count()) return false;  // Stale or from the future.
    const std::string payload = t + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(payload.data()),
         payload.size(), mac, &mac_len);
    static constexpr char hex[] = "0123456789abcdef";
    std::string expected;
    for (unsigned i = 0; i < mac_len; ++i) {
        expected.push_back(hex[mac[i] >> 4]);
        expected.push_back(hex[mac[i] & 15]);
    }
    return CRYPTO_memcmp(expected.data(), v1.data(), expected.size()) == 0;  // Constant time.
}

}  // namespace syncline::testing
