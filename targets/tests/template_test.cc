#include "targets/internal/template.h"

#include <gtest/gtest.h>

#include "targets/tests/test_util.h"

namespace syncline::targets::internal {
namespace {

using testing::del;
using testing::upsert;
using testing::view_of;

std::string render(std::string_view text, const record& r, template_escaping escaping = template_escaping::none) {
    auto t = message_template::parse(text);
    EXPECT_TRUE(t.ok()) << t.get_status().to_string();
    if (!t.ok()) return "";
    auto out = t.value().render(view_of(r), "mail", escaping);
    EXPECT_TRUE(out.ok()) << out.get_status().to_string();
    return out.ok() ? out.value() : "";
}

std::string render_error(std::string_view text, const record& r, template_escaping escaping = template_escaping::none) {
    auto t = message_template::parse(text);
    if (!t.ok()) return t.get_status().message();
    auto out = t.value().render(view_of(r), "mail", escaping);
    EXPECT_FALSE(out.ok()) << "rendered: " << (out.ok() ? out.value() : "");
    return out.ok() ? "" : out.get_status().message();
}

TEST(message_template, fills_record_fields_and_value_fields) {
    const record r = upsert(42, "users", "u1", R"({"email":"a@example.com","n":3,"address":{"city":"Oslo"},"tags":["x"]})");
    EXPECT_EQ(render("{op} {collection}/{key} @{offset} in {pipeline}", r), "upsert users/u1 @42 in mail");
    EXPECT_EQ(render("to {value.email}, n={value.n}, {value.address.city}, {value.tags}", r),
              "to a@example.com, n=3, Oslo, [\"x\"]");
    EXPECT_EQ(render("{{literal} {value.n} {} { x } {\"q\"}", r), "{literal} 3 {} { x } {\"q\"}");
    EXPECT_EQ(render("ts={ts_ms}", r), "ts=" + std::to_string(r.ts_ms));
    EXPECT_EQ(render("{op}:{key}", del(7, "users", "u2")), "delete:u2");
    EXPECT_EQ(render("{value}", upsert(1, "c", "k", "plain text")), "plain text");
}

TEST(message_template, escapes_for_json_strings) {
    const record r = upsert(1, "c", "k", R"({"title":"say \"hi\"\n","n":1})");
    EXPECT_EQ(render(R"({"t":"{value.title}","k":"{key}"})", r, template_escaping::json_string),
              R"({"t":"say \"hi\"\n","k":"k"})");
}

TEST(message_template, refuses_line_breaks_in_header_lines) {
    const record r = upsert(1, "c", "k", R"({"subject":"hi\r\nBcc: victim@example.com"})");
    EXPECT_NE(render_error("Subject: {value.subject}", r, template_escaping::header_line).find("line break"),
              std::string::npos);
    EXPECT_EQ(render("Subject: {value.subject}", upsert(1, "c", "k", R"({"subject":"ok"})"),
                     template_escaping::header_line),
              "Subject: ok");
}

TEST(message_template, bad_templates_name_the_column) {
    EXPECT_NE(render_error("hello {nope}", upsert(1, "c", "k", "{}")).find("column 7: unknown placeholder {nope}"),
              std::string::npos);
    EXPECT_NE(render_error("hello {Value.x}", upsert(1, "c", "k", "{}")).find("unknown placeholder {Value.x}"),
              std::string::npos);
    EXPECT_NE(render_error("{value..x}", upsert(1, "c", "k", "{}")).find("empty field name"), std::string::npos);
}

TEST(message_template, records_that_cannot_fill_it_are_errors) {
    EXPECT_NE(render_error("{value.email}", upsert(1, "c", "k", "not json")).find("not a JSON object"),
              std::string::npos);
    EXPECT_NE(render_error("{value.email}", upsert(1, "c", "k", R"({"name":"x"})")).find("no field 'email'"),
              std::string::npos);
    EXPECT_NE(render_error("{value.a.b}", upsert(1, "c", "k", R"({"a":1})")).find("no field 'b'"), std::string::npos);
    auto t = message_template::parse("{value.email}");
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(t.value().reads_value_fields());
    EXPECT_FALSE(message_template::parse("{key}").value().reads_value_fields());
}

}  // namespace
}  // namespace syncline::targets::internal
