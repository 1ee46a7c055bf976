#pragma once
// targets/http_target.h: `http(s)://...` webhooks. POSTs one signed JSON request per
// batch (or per record) to a URL; the body and headers are described in http_format.h and
// docs/targets/webhook.md. Push delivery cannot be fenced: at-least-once, and receivers dedupe
// by the Idempotency-Key header (or by each record's offset).
// Outcomes: 2xx delivered; 5xx, 408, 429, 3xx, timeouts and connection errors transient (with
// the Retry-After wait, capped at max_retry_after, as a hint to the worker); any other 4xx
// refuses the request's records for good (dead letters with the status and a body excerpt).
// One libcurl easy handle per instance: the connection is kept alive between requests.
// read_state() is nullopt: a webhook cannot be read back. Not thread-safe (one per worker).
// Messages name the URL without its query string or user info, and never the secret.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "targets/internal/curl_http.h"
#include "targets/internal/uri.h"
#include "targets/target.h"

namespace syncline::targets {

struct http_target_options {
    std::string url;                                    // http(s)://host[:port]/path[?query], sent as is.
    std::string pipeline;                               // In bodies and idempotency keys.
    std::string secret;                                 // HMAC-SHA256 key. Non-empty; never logged.
    bool per_record = false;                            // One request per record. Default: per batch.
    internal::http_transport transport;                 // Timeouts and TLS trust.
};

using internal::max_retry_after;

// The query items named `syncline.NAME` are syncline's options (secret_env / secret_file, mode,
// timeouts, verify_tls, ca_file); everything else (other query items included) is the endpoint
// URL, sent without them and without a '#' fragment. Reads the secret (from the environment or a
// file) but connects to nothing. invalid_argument on bad input, naming the variable or file but
// never the secret.
inline constexpr std::string_view option_prefix = "syncline.";
result<http_target_options> parse_http_target_options(const std::string& uri, internal::uri_options& options,
                                                      const std::string& pipeline);

class http_target final : public target {
public:
    // invalid_argument for a URL libcurl rejects; connects lazily on the first delivery.
    static result<std::unique_ptr<http_target>> open(const http_target_options& opts);
    ~http_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    result<std::optional<state_map>> read_state() override;

private:
    struct impl;
    explicit http_target(std::unique_ptr<impl> i);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::targets
