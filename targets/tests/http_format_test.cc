// The http target's wire format (http_format.h): body bytes, idempotency keys, signatures (a known
// answer computed independently with Python's hmac module), status classes, Retry-After; and
// the http(s) URI options, checked without any server.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "targets/internal/json_text.h"
#include "targets/target.h"
#include "targets/http_format.h"
#include "targets/tests/test_util.h"

namespace syncline::targets {
namespace {

using nlohmann::json;

std::string body_of(std::vector<record>& rs, std::string_view pipeline = "p1") {
    auto v = testing::views(rs);
    std::string out;
    http::append_body(out, pipeline, v);
    return out;
}

TEST(http_body, is_json_with_the_range_and_every_record) {
    std::vector<record> rs{testing::upsert(7, "users", "42", R"({"name": "Ada",
 "n": [1, 2]})"),
                           testing::upsert(8, "users", "43", "")};
    rs[1].operation = op::del;
    const std::string body = body_of(rs);
    EXPECT_EQ(body,
              R"({"pipeline":"p1","first_offset":7,"last_offset":8,"records":[)"
              R"({"offset":7,"ts":1700000000007,"collection":"users","key":"42","op":"upsert","value":{"name": "Ada",)"
              "\n"
              R"( "n": [1, 2]}},)"
              R"({"offset":8,"ts":1700000000008,"collection":"users","key":"43","op":"delete"}]})");
    json j = json::parse(body);
    EXPECT_EQ(j["records"][0]["value"]["name"], "Ada");
    EXPECT_FALSE(j["records"][1].contains("value"));
}

TEST(http_body, bytes_that_are_not_utf8_or_json_travel_as_base64) {
    std::vector<record> rs{testing::upsert(1, "c", std::string("\xff\x00k", 3), "not json"),
                           testing::upsert(2, "\xc3", "k", "\xEF\xBB\xBF{}")};
    rs[0].headers = {{"trace", "abc"}, {"trace", "def"}};
    rs[1].headers = {{"bin", "\xfe"}};
    json j = json::parse(body_of(rs));
    const auto& a = j["records"][0];
    EXPECT_EQ(a["collection"], "c");
    EXPECT_EQ(a["key_base64"], "/wBr");
    EXPECT_FALSE(a.contains("key"));
    EXPECT_EQ(a["value_base64"], "bm90IGpzb24=");
    EXPECT_EQ(a["headers"], json::parse(R"([["trace","abc"],["trace","def"]])"));
    const auto& b = j["records"][1];
    EXPECT_EQ(b["collection_base64"], "ww==");
    EXPECT_EQ(b["key"], "k");
    EXPECT_EQ(b["value_base64"], "77u/e30=");  // The BOM is kept: lossless.
    EXPECT_EQ(b["headers_base64"], json::parse(R"([["Ymlu","/g=="]])"));
}

TEST(http_body, is_the_same_bytes_for_the_same_records) {
    std::vector<record> rs{testing::upsert(1, "c", "k", "{}"), testing::upsert(2, "c", "k", "[1]")};
    EXPECT_EQ(body_of(rs), body_of(rs));
}

TEST(http_base64, matches_rfc4648_test_vectors) {
    const std::pair<std::string, std::string> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (const auto& [in, want] : vectors) {
        std::string out;
        internal::append_base64(out, in);
        EXPECT_EQ(out, want) << in;
    }
}

TEST(http_headers, idempotency_key_and_a_known_signature) {
    EXPECT_EQ(http::idempotency_key("orders", 1001, 2000), "orders:1001-2000");
    // python3 -c "import hmac,hashlib; print(hmac.new(b'whsec_test', b'1700000000.{\"a\":1}', hashlib.sha256).hexdigest())"
    EXPECT_EQ(http::signature_header("whsec_test", 1'700'000'000, R"({"a":1})"),
              "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
    EXPECT_NE(http::signature_header("other", 1'700'000'000, R"({"a":1})"),
              http::signature_header("whsec_test", 1'700'000'000, R"({"a":1})"));
}

TEST(http_status, classes) {
    using http::classify;
    using http::response_kind;
    EXPECT_EQ(classify(200), response_kind::delivered);
    EXPECT_EQ(classify(204), response_kind::delivered);
    EXPECT_EQ(classify(500), response_kind::transient);
    EXPECT_EQ(classify(503), response_kind::transient);
    EXPECT_EQ(classify(429), response_kind::transient);
    EXPECT_EQ(classify(408), response_kind::transient);
    EXPECT_EQ(classify(301), response_kind::transient);
    EXPECT_EQ(classify(400), response_kind::refused);
    EXPECT_EQ(classify(404), response_kind::refused);
    EXPECT_EQ(classify(422), response_kind::refused);
}

TEST(http_retry_after, seconds_and_http_dates) {
    using std::chrono::seconds;
    const std::time_t now = 1'700'000'000;  // Tue, 14 Nov 2023 22:13:20 GMT
    EXPECT_EQ(http::parse_retry_after("3", now), seconds(3));
    EXPECT_EQ(http::parse_retry_after(" 120 ", now), seconds(120));
    EXPECT_EQ(http::parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now), seconds(10));
    EXPECT_EQ(http::parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now), seconds(0));
    EXPECT_EQ(http::parse_retry_after("", now), std::nullopt);
    EXPECT_EQ(http::parse_retry_after("-1", now), std::nullopt);
    EXPECT_EQ(http::parse_retry_after("3x", now), std::nullopt);
    EXPECT_EQ(http::parse_retry_after("soon", now), std::nullopt);
}

class http_uri : public ::testing::Test {
protected:
    void SetUp() override {
        std::ofstream(secret_file) << "s3cr3t-value\n";
        ::setenv("SYNCLINE_TEST_WEBHOOK_SECRET", "s3cr3t-value", 1);
    }
    void TearDown() override { ::unsetenv("SYNCLINE_TEST_WEBHOOK_SECRET"); }

    testing::temp_dir dir;
    std::string secret_file = dir.file("secret");
};

TEST_F(http_uri, valid_forms_check_and_open_without_connecting) {
    // Port 9 (discard) on loopback: nothing listens, and nothing is contacted by a check or open.
    for (const std::string& uri : std::vector<std::string>{
         "http://127.0.0.1:9/hook?syncline.secret_env=SYNCLINE_TEST_WEBHOOK_SECRET",
          "https://example.invalid/a/b?token=x&syncline.secret_file=" + secret_file + "&y=1&syncline.mode=record"
          "&syncline.timeout_ms=500&syncline.connect_timeout_ms=100&syncline.verify_tls=false#fragment",
          "http://[::1]:9/?syncline.secret_file=" + secret_file + "&syncline.mode=batch&syncline.ca_file=" + secret_file,
          "http://127.0.0.1:9/hook?flag&a=%zz&syncline.secret_env=SYNCLINE_TEST_WEBHOOK_SECRET"}) {  // the endpoint's own query: not ours to judge
        EXPECT_TRUE(check_target_uri(uri, {"p1"}).ok()) << check_target_uri(uri, {"p1"}).message();
        auto t = open_target(uri, {"p1"});
        ASSERT_TRUE(t.ok()) << t.get_status().message();
        EXPECT_FALSE(find_target_kind(uri)->capabilities.joins_batches);
        auto state = (*t)->read_state();
        ASSERT_TRUE(state.ok());
        EXPECT_FALSE(state->has_value());
    }
}

TEST_F(http_uri, bad_forms_are_invalid_and_never_show_the_secret) {
    for (const std::string& uri : std::vector<std::string>{
         "http://127.0.0.1:9/hook",                                                        // no secret
          "http://127.0.0.1:9/hook?secret_env=SYNCLINE_TEST_WEBHOOK_SECRET",              // without the prefix
          "http://127.0.0.1:9/hook?syncline.secret=s3cr3t-value",  // the secret in the URI
          "http://127.0.0.1:9/hook?syncline.secret_env=SYNCLINE_TEST_NO_SUCH_VARIABLE",
          "http://127.0.0.1:9/hook?syncline.secret_file=" + dir.file("missing"),
          "http://127.0.0.1:9/hook?syncline.secret_env=SYNCLINE_TEST_WEBHOOK_SECRET&syncline.secret_file=" + secret_file,
          "http://127.0.0.1:9/hook?syncline.secret_file=" + secret_file + "&syncline.mode=stream",
          "http://127.0.0.1:9/hook?syncline.secret_file=" + secret_file + "&syncline.timeout_ms=0",
          "http://127.0.0.1:9/hook?syncline.secret_file=" + secret_file + "&syncline.verify_tls=maybe",
          "http://127.0.0.1:9/hook?syncline.secret_file=" + secret_file + "&syncline.retries=3",
          "http:///hook?syncline.secret_file=" + secret_file,
          "http://exa mple.com/?syncline.secret_file=" + secret_file}) {
        status s = check_target_uri(uri, {"p1"});
        EXPECT_EQ(s.code(), errc::invalid_argument) << uri;
        EXPECT_NE(s.message().find("http(s)://"), std::string::npos) << s.message();
        if (uri.find("secret=") == std::string::npos) {
            EXPECT_EQ(s.message().find("s3cr3t-value"), std::string::npos) << s.message();
        }
    }
    std::ofstream(dir.file("empty")).flush();
    EXPECT_EQ(check_target_uri("http://127.0.0.1:9/?syncline.secret_file=" + dir.file("empty")).code(), errc::invalid_argument);
}

}  // namespace
}  // namespace syncline::targets
