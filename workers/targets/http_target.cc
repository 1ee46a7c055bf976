#include "workers/targets/http_target.h"

#include <curl/curl.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>

#include "workers/internal/text.h"
#include "workers/targets/http_format.h"

namespace syncline::workers {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kept_response_bytes = 4096;  // Of a response body; only an excerpt is reported.
constexpr std::size_t body_excerpt_bytes = 200;

// The URL as messages show it: user info and query strings often hold credentials.
std::string shown_url(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return std::string(url.substr(0, url.find('?')));
    std::string_view rest = url.substr(scheme_end + 3);
    rest = rest.substr(0, rest.find('?'));
    const auto at = rest.substr(0, rest.find('/')).rfind('@');
    if (at != std::string_view::npos) rest.remove_prefix(at + 1);
    return std::string(url.substr(0, scheme_end + 3)) + std::string(rest);
}

// libcurl's global state must be set up once, before any handle, and not concurrently.
void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t keep_response(char* data, std::size_t size, std::size_t count, void* user) {
    auto* kept = static_cast<std::string*>(user);
    const std::size_t n = size * count;
    if (kept->size() < kept_response_bytes) kept->append(data, std::min(n, kept_response_bytes - kept->size()));
    return n;  // Everything "consumed": a long answer is not an error.
}

result<std::string> read_secret(internal::uri_options& options) {
    auto secret = internal::take_secret(options, "secret");
    if (!secret.ok()) return secret.get_status();
    if (!secret.value()) return options.error("needs syncline.secret_env=NAME or syncline.secret_file=PATH (the HMAC-SHA256 key)");
    return std::move(*secret.value());
}

status check_url(const std::string& url, internal::uri_options& options) {
    // libcurl reads http:///x as host "x"; an empty authority is a typo here.
    const auto authority = url.find("://");
    if (authority == std::string::npos || url.size() == authority + 3 || url[authority + 3] == '/')
        return options.error("the URL has no host");
    init_curl_once();
    CURLU* u = curl_url();
    SYNCLINE_CHECK(u != nullptr);
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url.c_str(), 0);
    char* host = nullptr;
    if (rc == CURLUE_OK) rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    const bool has_host = host != nullptr && *host != '\0';
    curl_free(host);
    curl_url_cleanup(u);
    if (rc != CURLUE_OK) return options.error(std::string("not a valid URL: ") + curl_url_strerror(rc));
    if (!has_host) return options.error("the URL has no host");
    return {};
}

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
    SYNCLINE_RETURN_IF_ERROR(check_url(o.url, options));
    auto secret = read_secret(options);
    if (!secret.ok()) return secret.get_status();
    o.secret = std::move(secret.value());
    if (auto mode = options.take("mode")) {
        if (*mode == "record") o.per_record = true;
        else if (*mode != "batch") return options.error("mode must be batch or record, not '" + *mode + "'");
    }
    auto connect_ms = options.take_uint("connect_timeout_ms", static_cast<std::uint64_t>(o.connect_timeout.count()), 1, 600'000);
    if (!connect_ms.ok()) return connect_ms.get_status();
    o.connect_timeout = milliseconds(connect_ms.value());
    auto timeout_ms = options.take_uint("timeout_ms", static_cast<std::uint64_t>(o.timeout.count()), 1, 3'600'000);
    if (!timeout_ms.ok()) return timeout_ms.get_status();
    o.timeout = milliseconds(timeout_ms.value());
    auto verify = options.take_bool("verify_tls", o.verify_tls);
    if (!verify.ok()) return verify.get_status();
    o.verify_tls = verify.value();
    if (auto ca = options.take("ca_file")) {
        if (!std::ifstream(*ca)) return options.error("cannot read ca_file " + *ca);
        o.ca_file = std::move(*ca);
    }
    return o;
}

struct http_target::impl {
    http_target_options options;
    std::string shown;  // The URL for messages.
    CURL* curl = nullptr;
    std::string body;      // Reused: no allocation per request once warm.
    std::string response;  // The first bytes of the last response body.
    char error[CURL_ERROR_SIZE] = {};

    ~impl() {
        if (curl != nullptr) curl_easy_cleanup(curl);
    }

    // Posts `records` as one request and records the outcome in `out`; false when the failure
    // is transient (then nothing of this delivery may count as done).
    bool post(std::span<const record_view> records, delivery_outcome& out) {
        body.clear();
        webhook::append_body(body, options.pipeline, records);
        const std::string key = webhook::idempotency_key(options.pipeline, records.front().offset, records.back().offset);
        // Signed at sending time, so a request retried after an outage is not stale.
        const std::string signature = webhook::signature_header(options.secret, std::time(nullptr), body);
        curl_slist* headers = nullptr;
        for (const std::string& h : {std::string("Content-Type: application/json"), std::string("Expect:"),
                                     "Idempotency-Key: " + key, "Syncline-Signature: " + signature})
            headers = curl_slist_append(headers, h.c_str());
        SYNCLINE_CHECK(headers != nullptr);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        response.clear();
        error[0] = '\0';
        const CURLcode rc = curl_easy_perform(curl);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
        curl_slist_free_all(headers);
        if (rc != CURLE_OK) {
            out.transient = {errc::unavailable, "webhook " + shown + ": " + (error[0] ? error : curl_easy_strerror(rc))};
            return false;
        }
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        const std::string answer = "HTTP " + std::to_string(code) + " from " + shown;
        switch (webhook::classify(code)) {
            case webhook::response_kind::delivered:
                return true;
            case webhook::response_kind::refused: {
                const std::string reason = answer + ": " + internal::printable(response, body_excerpt_bytes);
                for (const record_view& r : records) out.failures.push_back({r.offset, reason});
                return true;
            }
            case webhook::response_kind::transient:
                break;
        }
        std::string why = answer;
        if (auto wait = retry_after()) {
            out.retry_after = std::min<milliseconds>(*wait, max_retry_after);
            why += " (Retry-After " + std::to_string(out.retry_after.count()) + " ms)";
        }
        if (code >= 300 && code <= 399) {
            char* location = nullptr;
            curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
            why += ": redirects are not followed, fix the target URL";
            if (location != nullptr) why += " (Location: " + shown_url(location) + ")";
        } else {
            why += ": " + internal::printable(response, body_excerpt_bytes);
        }
        out.transient = {errc::unavailable, std::move(why)};
        return false;
    }

    std::optional<milliseconds> retry_after() {
        curl_header* h = nullptr;
        if (curl_easy_header(curl, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == nullptr) return std::nullopt;
        auto wait = webhook::parse_retry_after(h->value, std::time(nullptr));
        if (!wait) return std::nullopt;
        return std::chrono::duration_cast<milliseconds>(*wait);
    }
};

http_target::http_target(std::unique_ptr<impl> i) : _impl(std::move(i)) {}
http_target::~http_target() = default;

result<std::unique_ptr<http_target>> http_target::open(const http_target_options& opts) {
    init_curl_once();
    if (opts.secret.empty()) return status{errc::invalid_argument, "webhook " + shown_url(opts.url) + ": empty secret"};
    auto i = std::make_unique<impl>();
    i->options = opts;
    i->shown = shown_url(opts.url);
    i->curl = curl_easy_init();
    if (i->curl == nullptr) return status{errc::unavailable, "webhook " + i->shown + ": curl_easy_init failed"};
    CURL* c = i->curl;
    // One handle for the target's lifetime: libcurl keeps the connection alive between requests.
    bool ok = curl_easy_setopt(c, CURLOPT_URL, opts.url.c_str()) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USERAGENT, "syncline-webhook/1") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count())) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count())) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, opts.verify_tls ? 1L : 0L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, opts.verify_tls ? 2L : 0L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_ERRORBUFFER, i->error) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_response) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEDATA, &i->response) == CURLE_OK;
    if (ok && !opts.ca_file.empty()) ok = curl_easy_setopt(c, CURLOPT_CAINFO, opts.ca_file.c_str()) == CURLE_OK;
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

}  // namespace syncline::workers
