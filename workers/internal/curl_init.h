#pragma once
// workers/internal/curl_init.h: libcurl's global set-up, shared by the targets built on it
// (http(s):, smtp(s):).
#include <curl/curl.h>

#include <mutex>

namespace syncline::workers::internal {

// libcurl's global state must be set up once, before any handle, and not concurrently.
inline void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace syncline::workers::internal
