#pragma once
// targets/internal/curl_http.h: the libcurl plumbing the HTTP-speaking targets share (the webhook,
// fcm:, apns:): global set-up, one easy handle configured the same way everywhere (timeouts, TLS
// trust, response excerpt), Retry-After and the transport options of their URIs.
#include <curl/curl.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "targets/internal/uri.h"

namespace syncline::targets::internal {

// libcurl's global state: set up once, before any handle, and not concurrently.
void init_curl_once();

// invalid_argument (via `options`) unless `url` is a URL with a host that libcurl accepts
// (http(s):// for the webhook and push targets, smtp(s):// for email).
status check_curl_url(const std::string& url, uri_options& options);

struct http_transport {
    std::chrono::milliseconds connect_timeout{5'000};  // Default: 5 s.
    std::chrono::milliseconds timeout{30'000};         // Whole request, connect included. Default: 30 s.
    bool verify_tls = true;                            // Certificate and host name. Default: on.
    std::string ca_file;                               // PEM bundle to trust. Default: the system's.
};

// Takes connect_timeout_ms, timeout_ms (uri_options::take_timeouts), verify_tls and ca_file (a
// readable file) from `options`; what is absent keeps its value in `defaults`.
result<http_transport> take_transport_options(uri_options& options, http_transport defaults = {});

// What a handle keeps of one response: the first bytes of the body and libcurl's error text.
struct response_buffer {
    static constexpr std::size_t kept_bytes = 4096;
    std::string body;
    char error[CURL_ERROR_SIZE] = {};
    void clear() {
        body.clear();
        error[0] = '\0';
    }
};

// Sets the options every target's handle has: POST, http/https only, no signals, keep-alive,
// timeouts, TLS trust, the user agent, and the response into `response`. false when libcurl
// refuses one.
bool configure_post_handle(CURL* curl, const http_transport& transport, const char* user_agent,
                           response_buffer& response);

// Longest Retry-After honoured; longer waits are cut to this (the batch is meanwhile held).
inline constexpr std::chrono::seconds max_retry_after{60};

// The last response's Retry-After as a wait from now, capped at `cap`; nullopt when absent or malformed.
std::optional<std::chrono::milliseconds> retry_after(CURL* curl, std::chrono::milliseconds cap);

// A URL as messages show it: without user info and query string (they often hold credentials).
std::string shown_url(std::string_view url);

}  // namespace syncline::targets::internal
