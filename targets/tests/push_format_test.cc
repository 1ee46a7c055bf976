// The push wire formats (push_format.h): FCM bodies and APNs payloads byte for byte, the ids,
// the APNs JWT (verified here with OpenSSL's own ECDSA verification of the r||s signature), the
// services' reply mapping; and the fcm:// and apns:// URI options, checked without any server.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "targets/target.h"
#include "targets/push_format.h"
#include "targets/tests/test_util.h"

namespace syncline::targets {
namespace {

using nlohmann::json;

push::message_templates templates(const std::string& token, std::optional<std::string> title,
                                  std::optional<std::string> body, std::optional<std::string> data) {
    push::message_templates t;
    t.device_token = internal::message_template::parse(token).value();
    if (title) t.title = internal::message_template::parse(*title).value();
    if (body) t.body = internal::message_template::parse(*body).value();
    if (data) t.data = internal::message_template::parse(*data).value();
    return t;
}

std::string base64url_decode(std::string text) {
    for (char& c : text) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (text.size() % 4) text += '=';
    std::string out(text.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    out.resize(static_cast<std::size_t>(n) - (text.size() - text.find_last_not_of('=') - 1));
    return out;
}

TEST(push_ids, are_derived_from_pipeline_and_offset_only) {
    EXPECT_EQ(push::message_id("orders", 42), "orders:42");
    const std::string id = push::apns_id("orders", 42);
    EXPECT_EQ(id, push::apns_id("orders", 42));
    EXPECT_NE(id, push::apns_id("orders", 43));
    EXPECT_NE(id, push::apns_id("orders2", 42));
    ASSERT_EQ(id.size(), 36u);
    for (std::size_t i : {8u, 13u, 18u, 23u}) EXPECT_EQ(id[i], '-');
    EXPECT_EQ(id[14], '8') << "version 8";
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "RFC 9562 variant";
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef-"), std::string::npos) << id;
}

TEST(fcm_body, is_the_v1_message_with_the_rendered_templates_and_the_id) {
    auto t = templates("{value.device_token}", "Order {key}", "{value.status}", R"({"order":"{key}","n":{value.n}})");
    auto r = testing::upsert(7, "orders", "o-1", R"({"device_token":"tok:A_b-1","status":"shipped \"today\"","n":3})");
    auto token = push::device_token(t, testing::view_of(r), "p1");
    ASSERT_TRUE(token.ok()) << token.get_status().to_string();
    EXPECT_EQ(token.value(), "tok:A_b-1");
    auto body = push::fcm_body(t, testing::view_of(r), "p1", token.value());
    ASSERT_TRUE(body.ok()) << body.get_status().to_string();
    EXPECT_EQ(body.value(),
              R"({"message":{"data":{"n":"3","order":"o-1","syncline_id":"p1:7"},)"
              R"("notification":{"body":"shipped \"today\"","title":"Order o-1"},"token":"tok:A_b-1"}})");
}

TEST(fcm_body, without_title_and_body_has_no_notification) {
    auto t = templates("{key}", std::nullopt, std::nullopt, R"({"k":"{key}"})");
    auto r = testing::upsert(9, "c", "tok", "x");
    auto body = push::fcm_body(t, testing::view_of(r), "p", "tok");
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(body.value(), R"({"message":{"data":{"k":"tok","syncline_id":"p:9"},"token":"tok"}})");
}

TEST(push_templates, records_that_cannot_fill_them_are_refused) {
    auto t = templates("{value.device_token}", "{value.title}", std::nullopt, R"({"a":"{value.a}"})");
    const std::string pipeline = "p";
    auto refused = [&](const std::string& value) {
        auto r = testing::upsert(1, "c", "k", value);
        auto v = testing::view_of(r);
        auto token = push::device_token(t, v, pipeline);
        if (!token.ok()) return token.get_status().message();
        auto body = push::fcm_body(t, v, pipeline, token.value());
        return body.ok() ? std::string() : body.get_status().message();
    };
    EXPECT_NE(refused("not json").find("not a JSON object"), std::string::npos);
    EXPECT_NE(refused(R"({"title":"t","a":"x"})").find("no field 'device_token'"), std::string::npos);
    EXPECT_NE(refused(R"({"device_token":"a/b","title":"t","a":"x"})").find("no device token has"), std::string::npos);
    EXPECT_NE(refused(R"({"device_token":"","title":"t","a":"x"})").find("empty"), std::string::npos);
    EXPECT_EQ(refused(R"({"device_token":"abc","title":"t","a":"x\"y"})"), "") << "quotes in data are escaped";
    auto not_object = templates("{key}", std::nullopt, std::nullopt, R"("{key}")");
    auto r = testing::upsert(1, "c", "k", "");
    EXPECT_FALSE(push::fcm_body(not_object, testing::view_of(r), "p", "k").ok());
}

TEST(apns_payload, is_aps_with_the_alert_beside_the_data_members) {
    auto t = templates("{key}", "Hi {value.name}", "{collection}", R"({"order":"{key}","n":{value.n}})");
    auto r = testing::upsert(3, "orders", "ab12", R"({"name":"Ann","n":[1,2]})");
    auto payload = push::apns_payload(t, push::apns_push_type::alert, testing::view_of(r), "p");
    ASSERT_TRUE(payload.ok()) << payload.get_status().to_string();
    EXPECT_EQ(payload.value(), R"({"aps":{"alert":{"body":"orders","title":"Hi Ann"}},"n":[1,2],"order":"ab12"})");
    auto background = templates("{key}", std::nullopt, std::nullopt, R"({"sync":"{key}"})");
    payload = push::apns_payload(background, push::apns_push_type::background, testing::view_of(r), "p");
    ASSERT_TRUE(payload.ok());
    EXPECT_EQ(payload.value(), R"({"aps":{"content-available":1},"sync":"ab12"})");
    auto sets_aps = templates("{key}", "t", std::nullopt, R"({"aps":{}})");
    EXPECT_FALSE(push::apns_payload(sets_aps, push::apns_push_type::alert, testing::view_of(r), "p").ok());
}

TEST(apns_jwt, is_es256_signed_with_kid_iss_and_iat_and_verifies_with_the_public_key) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    ASSERT_NE(key, nullptr);
    auto jwt = push::apns_jwt(key, "KEY123", "TEAM456", 1'700'000'000);
    ASSERT_TRUE(jwt.ok()) << jwt.get_status().to_string();
    const std::string& text = jwt.value();
    const auto dot1 = text.find('.'), dot2 = text.rfind('.');
    ASSERT_NE(dot1, dot2);
    EXPECT_EQ(text.find_first_of("=+/"), std::string::npos) << "base64url without padding";
    EXPECT_EQ(json::parse(base64url_decode(text.substr(0, dot1))), json::parse(R"({"alg":"ES256","kid":"KEY123"})"));
    EXPECT_EQ(json::parse(base64url_decode(text.substr(dot1 + 1, dot2 - dot1 - 1))),
              json::parse(R"({"iss":"TEAM456","iat":1700000000})"));
    const std::string raw = base64url_decode(text.substr(dot2 + 1));
    ASSERT_EQ(raw.size(), 64u);
    // r||s back to DER, and OpenSSL's verification over "header.claims".
    ECDSA_SIG* sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr),
                   BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int der_size = i2d_ECDSA_SIG(sig, &der);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const std::string signed_part = text.substr(0, dot2);
    ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
    EXPECT_EQ(EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_size),
                               reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()),
              1);
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EVP_PKEY_free(key);
}

TEST(apns_key, must_be_a_p256_pem_key) {
    EXPECT_FALSE(push::load_apns_key("not a key", "k.p8").ok());
    EVP_PKEY* rsa = EVP_RSA_gen(2048);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    auto loaded = push::load_apns_key(std::string(data, static_cast<std::size_t>(n)), "rsa.p8");
    EXPECT_FALSE(loaded.ok());
    EXPECT_NE(loaded.get_status().message().find("P-256"), std::string::npos);
    BIO_free(bio);
    EVP_PKEY_free(rsa);
}

TEST(push_replies, map_as_the_services_document) {
    using push::verdict;
    const std::string unregistered =
        R"({"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}})";
    EXPECT_EQ(push::classify_fcm(200, "{}").kind, verdict::delivered);
    EXPECT_EQ(push::classify_fcm(404, unregistered).kind, verdict::dead_letter);
    EXPECT_EQ(push::classify_fcm(404, unregistered).reason, "UNREGISTERED");
    EXPECT_EQ(push::classify_fcm(400, R"({"error":{"status":"INVALID_ARGUMENT"}})").reason, "INVALID_ARGUMENT");
    EXPECT_EQ(push::classify_fcm(400, "").kind, verdict::dead_letter);
    for (long transient : {401L, 403L, 429L, 500L, 503L})
        EXPECT_EQ(push::classify_fcm(transient, "").kind, verdict::transient) << transient;

    EXPECT_EQ(push::classify_apns(200, "").kind, verdict::delivered);
    for (long dead : {400L, 410L, 413L})
        EXPECT_EQ(push::classify_apns(dead, R"({"reason":"X"})").kind, verdict::dead_letter) << dead;
    EXPECT_EQ(push::classify_apns(410, R"({"reason":"Unregistered","timestamp":1})").reason, "Unregistered");
    EXPECT_EQ(push::classify_apns(403, R"({"reason":"ExpiredProviderToken"})").kind, verdict::refresh_credentials);
    EXPECT_EQ(push::classify_apns(403, R"({"reason":"InvalidProviderToken"})").kind, verdict::transient);
    for (long transient : {429L, 500L, 503L})
        EXPECT_EQ(push::classify_apns(transient, "").kind, verdict::transient) << transient;
}

class push_uri : public ::testing::Test {
protected:
    void SetUp() override {
        std::ofstream(dir.file("token")) << "ya29.token\n";
        std::ofstream(dir.file("key.p8")) << "stand-in\n";
    }
    std::string fcm(const std::string& extra) const { return "fcm://my-project?token_file=" + dir.file("token") + extra; }
    std::string apns(const std::string& extra) const {
        return "apns://com.example.app?key_file=" + dir.file("key.p8") + "&key_id=K1&team_id=T1" + extra;
    }
    testing::temp_dir dir;
};

TEST_F(push_uri, accepts_the_documented_forms) {
    for (const std::string& uri : {fcm("&title=Hi%20{key}"), fcm("&data={\"a\":\"{value.a}\"}&deletes=send&endpoint=http://127.0.0.1:9"),
                                  fcm("&body=x&endpoint=https://127.0.0.1:8443/&timeout_ms=100&verify_tls=false&ca_file=" + dir.file("token")),
                                  apns("&title=t"), apns("&body=b&push_type=alert&priority=5&collapse_id={key}&sandbox=true"),
                                  apns("&push_type=background&data={\"k\":1}")}) {
        status s = check_target_uri(uri, {"p1"});
        EXPECT_TRUE(s.ok()) << uri << ": " << s.message();
    }
    setenv("SYNCLINE_TEST_FCM_TOKEN", "ya29.env", 1);
    EXPECT_TRUE(check_target_uri("fcm://p?token_env=SYNCLINE_TEST_FCM_TOKEN&title=t").ok());
}

TEST_F(push_uri, refuses_bad_options_with_a_reason) {
    const std::pair<std::string, std::string> cases[] = {
        {"fcm://my-project?title=t", "token_env"},
        {"fcm://my-project?token=abc&title=t", "never goes into the URI"},
        {fcm(""), "title, body or data"},
        {fcm("&title={nope}"), "unknown placeholder"},
        {fcm("&title=t&deletes=maybe"), "deletes must be skip or send"},
        {fcm("&title=t&endpoint=ftp://x"), "endpoint must be"},
        {fcm("&title=t&collapse_id=x"), "unknown option 'collapse_id'"},
        {"fcm://bad_project!?title=t", "PROJECT_ID"},
        {apns("&title=t&push_type=loud"), "push_type must be"},
        {apns("&push_type=background&title=t"), "background push has no alert"},
        {apns(""), "title or body"},
        {apns("&title=t&priority=7"), "priority must be 10, 5 or 1"},
        {apns("&push_type=background&priority=10"), "priority 5 or 1"},
        {"apns://com.example.app?key_file=" + dir.file("key.p8") + "&title=t", "key_id"},
        {"apns://com.example.app?key_file=" + dir.file("missing") + "&key_id=K&team_id=T&title=t", "cannot read key_file"},
    };
    for (const auto& [uri, reason] : cases) {
        status s = check_target_uri(uri, {"p1"});
        EXPECT_EQ(s.code(), errc::invalid_argument) << uri;
        EXPECT_NE(s.message().find(reason), std::string::npos) << uri << ": " << s.message();
    }
}

TEST_F(push_uri, an_apns_key_that_is_not_a_p256_key_fails_when_the_target_opens) {
    auto t = open_target(apns("&title=t"), {"p1"});
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.get_status().message().find("not a PEM private key"), std::string::npos) << t.get_status().message();
}

}  // namespace
}  // namespace syncline::targets
