#include "targets/http_format.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <memory>

#include <curl/curl.h>

#include "common/status.h"
#include "targets/internal/json_text.h"

namespace syncline::targets::http {
namespace {

using internal::append_base64;
using internal::append_json_string;
using internal::append_number;
using internal::valid_utf8;

// `"name":"text"` when `bytes` is UTF-8, else `"name_base64":"..."`: never lossy.
void append_bytes_field(std::string& out, std::string_view name, std::string_view bytes) {
    out.push_back('"');
    out += name;
    if (valid_utf8(bytes)) {
        out += "\":";
        append_json_string(out, bytes);
    } else {
        out += "_base64\":\"";
        append_base64(out, bytes);
        out.push_back('"');
    }
}

void append_headers(std::string& out, const record_view& r) {
    bool utf8 = true;
    for (const auto& [name, value] : r.headers) utf8 = utf8 && valid_utf8(name) && valid_utf8(value);
    out += utf8 ? ",\"headers\":[" : ",\"headers_base64\":[";
    auto text = [&](std::string_view s) {
        if (utf8) {
            append_json_string(out, s);
        } else {
            out.push_back('"');
            append_base64(out, s);
            out.push_back('"');
        }
    };
    bool first = true;
    for (const auto& [name, value] : r.headers) {
        if (!first) out.push_back(',');
        first = false;
        out.push_back('[');
        text(name);
        out.push_back(',');
        text(value);
        out.push_back(']');
    }
    out.push_back(']');
}

void append_record(std::string& out, const record_view& r) {
    out += "{\"offset\":";
    append_number(out, r.offset);
    out += ",\"ts\":";
    append_number(out, r.ts_ms);
    out.push_back(',');
    append_bytes_field(out, "collection", r.collection);
    out.push_back(',');
    append_bytes_field(out, "key", r.key);
    if (r.operation == op::del) {
        out += ",\"op\":\"delete\"";
    } else if (internal::embeddable_json(r.value)) {
        out += ",\"op\":\"upsert\",\"value\":";
        out += r.value;
    } else {
        out += ",\"op\":\"upsert\",\"value_base64\":\"";
        append_base64(out, r.value);
        out.push_back('"');
    }
    if (!r.headers.empty()) append_headers(out, r);
    out.push_back('}');
}

struct mac_deleter {
    void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

}  // namespace

void append_body(std::string& out, std::string_view pipeline, std::span<const record_view> records) {
    out += "{\"pipeline\":";
    append_json_string(out, pipeline);
    out += ",\"first_offset\":";
    append_number(out, records.front().offset);
    out += ",\"last_offset\":";
    append_number(out, records.back().offset);
    out += ",\"records\":[";
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (i > 0) out.push_back(',');
        append_record(out, records[i]);
    }
    out += "]}";
}

std::string idempotency_key(std::string_view pipeline, std::uint64_t first, std::uint64_t last) {
    std::string key(pipeline);
    key.push_back(':');
    append_number(key, first);
    key.push_back('-');
    append_number(key, last);
    return key;
}

std::string signature_header(std::string_view secret, std::int64_t unix_seconds, std::string_view body) {
    std::string t;
    append_number(t, unix_seconds);
    // The signed payload is "<t>.<body>", fed in pieces so the body is never copied.
    std::unique_ptr<EVP_MAC, mac_deleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    SYNCLINE_CHECK(mac != nullptr);
    std::unique_ptr<EVP_MAC_CTX, mac_deleter> ctx(EVP_MAC_CTX_new(mac.get()));
    SYNCLINE_CHECK(ctx != nullptr);
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                           OSSL_PARAM_construct_end()};
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t out_len = 0;
    const bool ok = EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) &&
                    EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(t.data()), t.size()) &&
                    EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>("."), 1) &&
                    EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(body.data()), body.size()) &&
                    EVP_MAC_final(ctx.get(), out, &out_len, sizeof out);
    SYNCLINE_CHECK(ok);
    static constexpr char hex[] = "0123456789abcdef";
    std::string header = "t=" + t + ",v1=";
    for (std::size_t i = 0; i < out_len; ++i) {
        header.push_back(hex[out[i] >> 4]);
        header.push_back(hex[out[i] & 15]);
    }
    return header;
}

response_kind classify(long http_status) {
    if (http_status >= 200 && http_status <= 299) return response_kind::delivered;
    if (http_status == 408 || http_status == 429) return response_kind::transient;
    if (http_status >= 400 && http_status <= 499) return response_kind::refused;
    return response_kind::transient;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::time_t now) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    if (value.front() >= '0' && value.front() <= '9') {
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc{} || end != value.data() + value.size()) return std::nullopt;
        return std::chrono::seconds(std::min<std::uint64_t>(n, 365ull * 24 * 3600));
    }
    const std::string date(value);
    const std::time_t at = curl_getdate(date.c_str(), nullptr);
    if (at < 0) return std::nullopt;
    return std::chrono::seconds(at > now ? at - now : 0);
}

}  // namespace syncline::targets::http
