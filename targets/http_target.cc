#include "targets/http_target.h"

#include <curl/curl.h>

#include <ctime>

#include "targets/internal/text.h"
#include "targets/http_format.h"

namespace syncline::targets {
namespace {

using std::chrono::milliseconds;
using internal::shown_url;

constexpr std::size_t body_excerpt_bytes = 200;

// Splits `uri` into the URL to post to (without syncline.* items and fragment) and the text of
// syncline's options ("name=value&..." with the prefix taken off).
std::pair<std::string, std::string> split_options(std::string_view uri) {
    uri = uri.substr(0, uri.find('#'));  // Never sent by HTTP clients.
    const auto q = uri.find('?');
    if (q == std::string_view::npos) return {std::string(uri), {}};
    std::string url(uri.substr(0, q)), kept, options;
    std::string_view query = uri.substr(q + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        std::string& to = item.starts_with(option_prefix) ? options : kept;
        if (!to.empty()) to.push_back('&');
        to += item.starts_with(option_prefix) ? item.substr(option_prefix.size()) : item;
    }
    if (!kept.empty()) url += "?" + kept;
    return {std::move(url), std::move(options)};
}

}  // namespace

result<http_target_options> parse_http_target_options(const std::string& uri, internal::uri_options& options,
                                                      const std::string& pipeline) {
    auto [url, option_text] = split_options(uri);
    SYNCLINE_RETURN_IF_ERROR(options.parse(option_text));
    http_target_options o;
    o.url = std::move(url);
    o.pipeline = pipeline;
    SYNCLINE_RETURN_IF_ERROR(internal::check_curl_url(o.url, options));
    auto secret = internal::require_secret(options, "secret", option_prefix, "the HMAC-SHA256 key");
    if (!secret.ok()) return secret.get_status();
    o.secret = std::move(secret.value());
    if (auto mode = options.take("mode")) {
        if (*mode == "record") o.per_record = true;
        else if (*mode != "batch") return options.error("mode must be batch or record, not '" + *mode + "'");
    }
    auto transport = internal::take_transport_options(options);
    if (!transport.ok()) return transport.get_status();
    o.transport = std::move(transport.value());
    return o;
}

struct http_target::impl {
    http_target_options options;
    std::string shown;  // The URL for messages.
    CURL* curl = nullptr;
    std::string body;  // Reused: no allocation per request once warm.
    internal::response_buffer response;

    ~impl() {
        if (curl != nullptr) curl_easy_cleanup(curl);
    }

    // Posts `records` as one request and records the outcome in `out`; false when the failure
    // is transient (then nothing of this delivery may count as done).
    bool post(std::span<const record_view> records, delivery_outcome& out) {
        body.clear();
        http::append_body(body, options.pipeline, records);
        const std::string key = http::idempotency_key(options.pipeline, records.front().offset, records.back().offset);
        // Signed at sending time, so a request retried after an outage is not stale.
        const std::string signature = http::signature_header(options.secret, std::time(nullptr), body);
        curl_slist* headers = nullptr;
        for (const std::string& h : {std::string("Content-Type: application/json"), std::string("Expect:"),
                                     "Idempotency-Key: " + key, "Syncline-Signature: " + signature})
            headers = curl_slist_append(headers, h.c_str());
        SYNCLINE_CHECK(headers != nullptr);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        response.clear();
        const CURLcode rc = curl_easy_perform(curl);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
        curl_slist_free_all(headers);
        if (rc != CURLE_OK) {
            // Not reaching the receiver is its state, never a record's (target.h: errc::busy).
            const bool unreachable = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                                     rc == CURLE_COULDNT_RESOLVE_PROXY;
            out.transient = {unreachable ? errc::busy : errc::unavailable,
                             "webhook " + shown + ": " + (response.error[0] ? response.error : curl_easy_strerror(rc))};
            return false;
        }
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        const std::string answer = "HTTP " + std::to_string(code) + " from " + shown;
        switch (http::classify(code)) {
            case http::response_kind::delivered:
                return true;
            case http::response_kind::refused: {
                const std::string reason = answer + ": " + internal::printable(response.body, body_excerpt_bytes);
                for (const record_view& r : records) out.failures.push_back({r.offset, reason});
                return true;
            }
            case http::response_kind::transient:
                break;
        }
        std::string why = answer;
        if (auto wait = internal::retry_after(curl, max_retry_after)) {
            out.retry_after = *wait;
            why += " (Retry-After " + std::to_string(out.retry_after.count()) + " ms)";
        }
        if (code >= 300 && code <= 399) {
            char* location = nullptr;
            curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
            why += ": redirects are not followed, fix the target URL";
            if (location != nullptr) why += " (Location: " + shown_url(location) + ")";
        } else {
            why += ": " + internal::printable(response.body, body_excerpt_bytes);
        }
        // Gateways and overload (502, 503, 504, 429, 408) are the receiver's state, never a
        // record's: poison isolation waits on them (target.h: errc::busy), Retry-After or not.
        const bool busy = code == 502 || code == 503 || code == 504 || code == 429 || code == 408;
        out.transient = {busy ? errc::busy : errc::unavailable, std::move(why)};
        return false;
    }
};

http_target::http_target(std::unique_ptr<impl> i) : _impl(std::move(i)) {}
http_target::~http_target() = default;

result<std::unique_ptr<http_target>> http_target::open(const http_target_options& opts) {
    internal::init_curl_once();
    if (opts.secret.empty()) return status{errc::invalid_argument, "webhook " + shown_url(opts.url) + ": empty secret"};
    auto i = std::make_unique<impl>();
    i->options = opts;
    i->shown = shown_url(opts.url);
    i->curl = curl_easy_init();
    if (i->curl == nullptr) return status{errc::unavailable, "webhook " + i->shown + ": curl_easy_init failed"};
    CURL* c = i->curl;
    // One handle for the target's lifetime: libcurl keeps the connection alive between requests.
    const bool ok = curl_easy_setopt(c, CURLOPT_URL, opts.url.c_str()) == CURLE_OK &&
                    internal::configure_post_handle(c, opts.transport, "syncline-webhook/1", i->response);
    if (!ok) return status{errc::invalid_argument, "webhook " + i->shown + ": libcurl refused the options"};
    return std::unique_ptr<http_target>(new http_target(std::move(i)));
}

delivery_outcome http_target::deliver(std::span<const record_view> records) {
    delivery_outcome out;
    if (records.empty()) return out;
    if (!_impl->options.per_record) {
        _impl->post(records, out);
        return out;
    }
    for (std::size_t i = 0; i < records.size(); ++i)
        if (!_impl->post(records.subspan(i, 1), out)) break;
    // A transient failure voids the whole delivery (the worker retries all of it): records
    // refused before it will be refused again then.
    if (!out.transient.ok()) out.failures.clear();
    return out;
}

result<std::optional<state_map>> http_target::read_state() { return std::optional<state_map>{}; }

}  // namespace syncline::targets
