#include "targets/push_format.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include <array>
#include <memory>

#include "targets/internal/text.h"

namespace syncline::targets::push {
namespace {

using nlohmann::json;

status refused(std::string why) { return status{errc::invalid_argument, std::move(why)}; }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string base64url(std::string_view bytes) {
    static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += digits[(acc >> bits) & 63];
        }
    }
    if (bits > 0) out += digits[(acc << (6 - bits)) & 63];
    return out;  // JWTs drop the '=' padding.
}

// Renders the data template into a JSON object; a record that yields anything else is refused.
result<json> render_data(const message_templates& t, const record_view& r, std::string_view pipeline) {
    if (!t.data) return json::object();
    auto text = t.data->render(r, pipeline, internal::template_escaping::json_string);
    if (!text.ok()) return text.get_status();
    json j = json::parse(text.value(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return refused("the data template did not render a JSON object: '" + internal::printable(text.value()) + "'");
    return j;
}

result<std::optional<std::string>> render_optional(const std::optional<internal::message_template>& t, const record_view& r,
                                                   std::string_view pipeline) {
    if (!t) return std::optional<std::string>{};
    auto text = t->render(r, pipeline);
    if (!text.ok()) return text.get_status();
    return std::optional<std::string>(std::move(text.value()));
}

// The error code in a service's JSON error body (FCM: error.details[].errorCode, else
// error.status; APNs: reason); "" when the body says none.
std::string fcm_error_code(std::string_view body) {
    const json j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
    const json& e = j["error"];
    if (e.contains("details") && e["details"].is_array())
        for (const json& d : e["details"])
            if (d.is_object() && d.contains("errorCode") && d["errorCode"].is_string()) return d["errorCode"];
    if (e.contains("status") && e["status"].is_string()) return e["status"];
    return "";
}

std::string apns_reason(std::string_view body) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("reason") && j["reason"].is_string()) return j["reason"];
    return "";
}

}  // namespace

std::string message_id(std::string_view pipeline, std::uint64_t offset) {
    return std::string(pipeline) + ":" + std::to_string(offset);
}

std::string apns_id(std::string_view pipeline, std::uint64_t offset) {
    const std::string id = message_id(pipeline, offset);
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(id.data()), id.size(), digest.data());
    digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x80);  // Version 8: custom.
    digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 9562 variant.
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

result<std::string> device_token(const message_templates& t, const record_view& r, std::string_view pipeline) {
    auto token = t.device_token.render(r, pipeline);
    if (!token.ok()) return token.get_status();
    const std::string& text = token.value();
    if (text.empty()) return refused("the device token is empty");
    // FCM registration tokens are [A-Za-z0-9_:-]; APNs tokens hex. Anything else would change the
    // request's path or JSON.
    for (char c : text)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != ':' && c != '.')
            return refused("the device token '" + internal::printable(text, 100) + "' holds a character no device token has");
    return token;
}

result<std::string> fcm_body(const message_templates& t, const record_view& r, std::string_view pipeline,
                             std::string_view token) {
    auto title = render_optional(t.title, r, pipeline);
    if (!title.ok()) return title.get_status();
    auto body = render_optional(t.body, r, pipeline);
    if (!body.ok()) return body.get_status();
    auto data = render_data(t, r, pipeline);
    if (!data.ok()) return data.get_status();
    json message = {{"token", token}};
    if (title.value() || body.value()) {
        json& n = message["notification"] = json::object();
        if (title.value()) n["title"] = *title.value();
        if (body.value()) n["body"] = *body.value();
    }
    // FCM data values are strings: other JSON values travel as their JSON text.
    json strings = json::object();
    for (auto& [name, v] : data.value().items()) strings[name] = v.is_string() ? v.get<std::string>() : dump(v);
    strings["syncline_id"] = message_id(pipeline, r.offset);
    message["data"] = std::move(strings);
    return dump(json{{"message", std::move(message)}});
}

namespace {
constexpr std::pair<std::string_view, apns_push_type> push_types[] = {
    {"alert", apns_push_type::alert},        {"background", apns_push_type::background},
    {"voip", apns_push_type::voip},          {"complication", apns_push_type::complication},
    {"fileprovider", apns_push_type::fileprovider}, {"mdm", apns_push_type::mdm},
    {"location", apns_push_type::location},  {"liveactivity", apns_push_type::liveactivity},
    {"pushtotalk", apns_push_type::pushtotalk}, {"widgets", apns_push_type::widgets}};
}  // namespace

std::optional<apns_push_type> parse_apns_push_type(std::string_view name) {
    for (const auto& [spelling, type] : push_types)
        if (spelling == name) return type;
    return std::nullopt;
}

std::string_view apns_push_type_name(apns_push_type type) {
    for (const auto& [spelling, t] : push_types)
        if (t == type) return spelling;
    return "alert";
}

result<std::string> apns_payload(const message_templates& t, apns_push_type type, const record_view& r,
                                 std::string_view pipeline) {
    auto title = render_optional(t.title, r, pipeline);
    if (!title.ok()) return title.get_status();
    auto body = render_optional(t.body, r, pipeline);
    if (!body.ok()) return body.get_status();
    auto data = render_data(t, r, pipeline);
    if (!data.ok()) return data.get_status();
    json payload = std::move(data.value());
    if (payload.contains("aps")) return refused("the data template may not set \"aps\" (the title and body options do)");
    json aps = json::object();
    if (type == apns_push_type::background) {
        aps["content-available"] = 1;
    } else if (title.value() || body.value()) {
        json& alert = aps["alert"] = json::object();
        if (title.value()) alert["title"] = *title.value();
        if (body.value()) alert["body"] = *body.value();
    }
    payload["aps"] = std::move(aps);
    return dump(payload);
}

result<EVP_PKEY*> load_apns_key(const std::string& pem, const std::string& path) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (key == nullptr) return refused("key_file " + path + " is not a PEM private key (the .p8 file from Apple)");
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 256) {
        EVP_PKEY_free(key);
        return refused("key_file " + path + " is not a P-256 EC key (APNs tokens are signed with ES256)");
    }
    return key;
}

result<std::string> apns_jwt(EVP_PKEY* key, std::string_view key_id, std::string_view team_id, std::time_t iat) {
    const std::string signing_input = base64url(dump(json{{"alg", "ES256"}, {"kid", key_id}})) + "." +
                                      base64url(dump(json{{"iss", team_id}, {"iat", static_cast<std::int64_t>(iat)}}));
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::size_t der_size = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &der_size, reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1)
        return status{errc::unavailable, "cannot sign the APNs token"};
    std::string der(der_size, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &der_size,
                       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1)
        return status{errc::unavailable, "cannot sign the APNs token"};
    // OpenSSL writes ECDSA signatures in DER; JWS wants r and s as two 32-byte big-endian numbers.
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_size)),
                                                              ECDSA_SIG_free);
    if (!sig) return status{errc::unavailable, "cannot decode the APNs token signature"};
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    return signing_input + "." + base64url(raw);
}

reply_meaning classify_fcm(long http_status, std::string_view body) {
    std::string code = fcm_error_code(body);
    if (http_status / 100 == 2) return {verdict::delivered, ""};
    if (http_status == 401 || http_status == 403)  // Credentials can be fixed: the messages wait.
        return {verdict::transient, code.empty() ? "credentials refused" : code};
    if (http_status == 429 || http_status / 100 == 5 || http_status == 408 || http_status < 200 || http_status / 100 == 3)
        return {verdict::transient, code};
    return {verdict::dead_letter, code};
}

reply_meaning classify_apns(long http_status, std::string_view body) {
    std::string reason = apns_reason(body);
    if (http_status / 100 == 2) return {verdict::delivered, ""};
    if (http_status == 403 && reason == "ExpiredProviderToken") return {verdict::refresh_credentials, reason};
    if (http_status == 403 || http_status == 429 || http_status / 100 == 5 || http_status == 408 ||
        http_status < 200 || http_status / 100 == 3)
        return {verdict::transient, reason};
    return {verdict::dead_letter, reason};
}

}  // namespace syncline::targets::push
