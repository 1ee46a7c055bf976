#include "targets/internal/h2_client.h"

#include <string_view>

namespace syncline::targets::internal {

struct h2_client::stream {
    CURL* curl = nullptr;
    response_buffer response;
    curl_slist* headers = nullptr;
    std::size_t request = 0;  // Which request of post_all it carries.
    bool busy = false;

    ~stream() {
        if (headers != nullptr) curl_slist_free_all(headers);
        if (curl != nullptr) curl_easy_cleanup(curl);
    }
};

result<std::unique_ptr<h2_client>> h2_client::open(const http_transport& transport, std::string user_agent) {
    init_curl_once();
    std::unique_ptr<h2_client> c(new h2_client());
    c->_transport = transport;
    c->_user_agent = std::move(user_agent);
    c->_multi = curl_multi_init();
    if (c->_multi == nullptr) return status{errc::unavailable, "curl_multi_init failed"};
    // One connection, its streams multiplexed: what both services ask of their clients.
    if (curl_multi_setopt(c->_multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX) != CURLM_OK ||
        curl_multi_setopt(c->_multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L) != CURLM_OK)
        return status{errc::unavailable, "libcurl cannot multiplex HTTP/2 streams"};
    return c;
}

h2_client::~h2_client() {
    _streams.clear();  // Every stream left the multi handle when its transfer ended.
    if (_multi != nullptr) curl_multi_cleanup(_multi);
}

h2_client::stream& h2_client::idle_stream() {
    for (auto& s : _streams)
        if (!s->busy) return *s;
    auto s = std::make_unique<stream>();
    s->curl = curl_easy_init();
    SYNCLINE_CHECK(s->curl != nullptr);
    const bool ok = configure_post_handle(s->curl, _transport, _user_agent.c_str(), s->response) &&
                    curl_easy_setopt(s->curl, CURLOPT_PIPEWAIT, 1L) == CURLE_OK &&
                    curl_easy_setopt(s->curl, CURLOPT_PRIVATE, s.get()) == CURLE_OK;
    SYNCLINE_CHECK(ok);
    _streams.push_back(std::move(s));
    return *_streams.back();
}

std::vector<h2_response> h2_client::post_all(std::span<const h2_request> requests) {
    std::vector<h2_response> out(requests.size());
    std::size_t next = 0, in_flight = 0;
    auto start = [&](std::size_t i) {
        const h2_request& r = requests[i];
        stream& s = idle_stream();
        s.busy = true;
        s.request = i;
        s.response.clear();
        if (s.headers != nullptr) curl_slist_free_all(s.headers);
        s.headers = nullptr;
        for (const std::string& h : r.headers) s.headers = curl_slist_append(s.headers, h.c_str());
        // http:// endpoints (tests, staging proxies) have no ALPN to negotiate HTTP/2 with.
        const long version = std::string_view(r.url).starts_with("http://") ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                                                           : CURL_HTTP_VERSION_2TLS;
        curl_easy_setopt(s.curl, CURLOPT_URL, r.url.c_str());
        curl_easy_setopt(s.curl, CURLOPT_HTTP_VERSION, version);
        curl_easy_setopt(s.curl, CURLOPT_HTTPHEADER, s.headers);
        curl_easy_setopt(s.curl, CURLOPT_POSTFIELDS, r.body.data());
        curl_easy_setopt(s.curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
        curl_multi_add_handle(_multi, s.curl);
        ++in_flight;
    };
    auto finish = [&](stream& s, CURLcode result) {
        h2_response& r = out[s.request];
        if (result != CURLE_OK) {
            r.transport_error = s.response.error[0] != '\0' ? s.response.error : curl_easy_strerror(result);
        } else {
            curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &r.status);
            r.body = s.response.body;
            r.retry_after = retry_after(s.curl, max_retry_after);
        }
        curl_multi_remove_handle(_multi, s.curl);
        s.busy = false;
        --in_flight;
    };
    while (next < requests.size() || in_flight > 0) {
        while (next < requests.size() && in_flight < max_streams) start(next++);
        int running = 0;
        const CURLMcode mc = curl_multi_perform(_multi, &running);
        int queued = 0;
        while (CURLMsg* m = curl_multi_info_read(_multi, &queued)) {
            if (m->msg != CURLMSG_DONE) continue;
            stream* s = nullptr;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &s);
            finish(*s, m->data.result);
        }
        if (mc != CURLM_OK) {  // Out of memory or a libcurl bug: every open transfer failed.
            for (auto& s : _streams)
                if (s->busy) {
                    out[s->request].transport_error = curl_multi_strerror(mc);
                    curl_multi_remove_handle(_multi, s->curl);
                    s->busy = false;
                }
            for (; next < requests.size(); ++next) out[next].transport_error = curl_multi_strerror(mc);
            in_flight = 0;
            break;
        }
        if (in_flight > 0 && (next == requests.size() || in_flight == max_streams))
            curl_multi_poll(_multi, nullptr, 0, 1000, nullptr);
    }
    return out;
}

}  // namespace syncline::targets::internal
