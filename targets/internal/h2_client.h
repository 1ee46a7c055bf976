#pragma once
// targets/internal/h2_client.h: HTTP/2 POSTs for the push targets (fcm:, apns:). One libcurl
// multi handle per client keeps one connection to the service (HTTP/2 over TLS negotiated by
// ALPN; for an http:// endpoint, HTTP/2 with prior knowledge) and multiplexes a batch's requests
// on it as concurrent streams, at most max_streams at a time. The connection is reused from one
// batch to the next and reopened by libcurl when it was lost. Not thread-safe (one per worker).
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "targets/internal/curl_http.h"

namespace syncline::targets::internal {

struct h2_request {
    std::string url;
    std::vector<std::string> headers;  // "name: value".
    std::string body;
};

struct h2_response {
    std::string transport_error;  // Non-empty: no HTTP answer (connection refused, TLS, timeout).
    long status = 0;
    std::string body;             // Its first response_buffer::kept_bytes.
    std::optional<std::chrono::milliseconds> retry_after;  // Capped at max_retry_after.
};

class h2_client {
public:
    static constexpr std::size_t max_streams = 100;  // In flight at once (the services allow more).

    // `user_agent` is sent with every request. Connects lazily, on the first post_all.
    static result<std::unique_ptr<h2_client>> open(const http_transport& transport, std::string user_agent);
    ~h2_client();
    h2_client(const h2_client&) = delete;
    h2_client& operator=(const h2_client&) = delete;

    // Sends every request and waits for all answers; responses[i] answers requests[i].
    std::vector<h2_response> post_all(std::span<const h2_request> requests);

private:
    struct stream;
    h2_client() = default;
    stream& idle_stream();

    http_transport _transport;
    std::string _user_agent;
    CURLM* _multi = nullptr;
    std::vector<std::unique_ptr<stream>> _streams;  // Easy handles, reused (they keep their buffers).
};

}  // namespace syncline::targets::internal
