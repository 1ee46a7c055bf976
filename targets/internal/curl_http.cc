#include "targets/internal/curl_http.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>

#include "targets/http_format.h"

namespace syncline::targets::internal {
namespace {

std::size_t keep_response(char* data, std::size_t size, std::size_t count, void* user) {
    auto* kept = static_cast<std::string*>(user);
    const std::size_t n = size * count;
    if (kept->size() < response_buffer::kept_bytes)
        kept->append(data, std::min(n, response_buffer::kept_bytes - kept->size()));
    return n;  // Everything "consumed": a long answer is not an error.
}

}  // namespace

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

status check_curl_url(const std::string& url, uri_options& options) {
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

result<http_transport> take_transport_options(uri_options& options, http_transport t) {
    SYNCLINE_RETURN_IF_ERROR(options.take_timeouts(t.connect_timeout, t.timeout));
    auto verify = options.take_bool("verify_tls", t.verify_tls);
    if (!verify.ok()) return verify.get_status();
    t.verify_tls = verify.value();
    if (auto ca = options.take("ca_file")) {
        if (!std::ifstream(*ca)) return options.error("cannot read ca_file " + *ca);
        t.ca_file = std::move(*ca);
    }
    return t;
}

bool configure_post_handle(CURL* c, const http_transport& t, const char* user_agent, response_buffer& response) {
    bool ok = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USERAGENT, user_agent) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t.connect_timeout.count())) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(t.timeout.count())) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, t.verify_tls ? 1L : 0L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, t.verify_tls ? 2L : 0L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_ERRORBUFFER, response.error) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_response) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body) == CURLE_OK;
    if (ok && !t.ca_file.empty()) ok = curl_easy_setopt(c, CURLOPT_CAINFO, t.ca_file.c_str()) == CURLE_OK;
    return ok;
}

std::optional<std::chrono::milliseconds> retry_after(CURL* curl, std::chrono::milliseconds cap) {
    curl_header* h = nullptr;
    if (curl_easy_header(curl, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == nullptr) return std::nullopt;
    auto wait = http::parse_retry_after(h->value, std::time(nullptr));
    if (!wait) return std::nullopt;
    return std::min(std::chrono::duration_cast<std::chrono::milliseconds>(*wait), cap);
}

std::string shown_url(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return std::string(url.substr(0, url.find('?')));
    std::string_view rest = url.substr(scheme_end + 3);
    rest = rest.substr(0, rest.find('?'));
    const auto at = rest.substr(0, rest.find('/')).rfind('@');
    if (at != std::string_view::npos) rest.remove_prefix(at + 1);
    return std::string(url.substr(0, scheme_end + 3)) + std::string(rest);
}

}  // namespace syncline::targets::internal
