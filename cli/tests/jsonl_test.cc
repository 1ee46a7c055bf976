#include "cli/jsonl.h"

#include <gtest/gtest.h>

namespace syncline::cli {
namespace {

// The problem message for `line`, or "" when it parses.
std::string problem(std::string_view line, const jsonl_limits& limits = {}) {
    record r;
    status s = parse_jsonl_line(line, r, limits);
    if (s.ok()) return "";
    EXPECT_EQ(s.code(), errc::invalid_argument);
    return s.message();
}

record parsed(std::string_view line) {
    record r;
    status s = parse_jsonl_line(line, r);
    EXPECT_TRUE(s.ok()) << s.message();
    return r;
}

TEST(jsonl, upsert_with_object_value_is_stored_compact) {
    record r = parsed(R"({"collection": "users", "key": "42", "op": "upsert", "value": {"b": 1, "a": [1, 2]}})");
    EXPECT_EQ(r.collection, "users");
    EXPECT_EQ(r.key, "42");
    EXPECT_EQ(r.operation, op::upsert);
    EXPECT_EQ(r.value, R"({"b":1,"a":[1,2]})");  // Compact, key order kept.
    EXPECT_TRUE(r.headers.empty());
}

TEST(jsonl, string_value_is_stored_as_its_text) {
    EXPECT_EQ(parsed(R"({"collection":"c","key":"k","value":"hello \"world\"\n"})").value, "hello \"world\"\n");
    EXPECT_EQ(parsed(R"({"collection":"c","key":"k","value":""})").value, "");
}

TEST(jsonl, scalar_values_are_stored_as_json) {
    EXPECT_EQ(parsed(R"({"collection":"c","key":"k","value":12.5})").value, "12.5");
    EXPECT_EQ(parsed(R"({"collection":"c","key":"k","value":true})").value, "true");
}

TEST(jsonl, op_defaults_to_upsert) {
    EXPECT_EQ(parsed(R"({"collection":"c","key":"k","value":1})").operation, op::upsert);
}

TEST(jsonl, integer_keys_become_decimal_text) {
    EXPECT_EQ(parsed(R"({"collection":"c","key":7,"value":1})").key, "7");
    EXPECT_EQ(parsed(R"({"collection":"c","key":-7,"value":1})").key, "-7");
    EXPECT_EQ(parsed(R"({"collection":"c","key":18446744073709551615,"value":1})").key, "18446744073709551615");
}

TEST(jsonl, delete_without_value_or_with_null) {
    record a = parsed(R"({"collection":"c","key":"k","op":"delete"})");
    EXPECT_EQ(a.operation, op::del);
    EXPECT_EQ(a.value, "");
    record b = parsed(R"({"collection":"c","key":"k","op":"delete","value":null})");
    EXPECT_EQ(b.operation, op::del);
    EXPECT_EQ(b.value, "");
}

TEST(jsonl, headers_are_kept) {
    record r = parsed(R"({"collection":"c","key":"k","value":1,"headers":{"src":"crm","trace":"abc"}})");
    ASSERT_EQ(r.headers.size(), 2u);
    EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"src", "crm"}));
    EXPECT_EQ(r.headers[1], (std::pair<std::string, std::string>{"trace", "abc"}));
}

TEST(jsonl, offset_and_ts_from_log_show_json_are_ignored) {
    record r = parsed(R"({"offset":9,"ts":1700000000000,"collection":"c","key":"k","op":"upsert","value":{"a":1},"headers":{}})");
    EXPECT_EQ(r.offset, 0u);
    EXPECT_EQ(r.ts_ms, 0);
    EXPECT_EQ(r.value, R"({"a":1})");
}

TEST(jsonl, a_reused_record_is_fully_overwritten) {
    record r;
    ASSERT_TRUE(parse_jsonl_line(R"({"collection":"c","key":"k","value":"long value","headers":{"h":"v"}})", r).ok());
    ASSERT_TRUE(parse_jsonl_line(R"({"collection":"d","key":"j","op":"delete"})", r).ok());
    EXPECT_EQ(r.collection, "d");
    EXPECT_EQ(r.key, "j");
    EXPECT_EQ(r.value, "");
    EXPECT_TRUE(r.headers.empty());
}

// The log's record limits (common/record.h) are checked per line, so `append` names the line
// instead of storing a record no worker could decode.
TEST(jsonl, lines_over_the_record_limits_are_refused) {
    std::string line = R"({"collection":"c","key":"k","value":1,"headers":{)";
    for (int h = 0; h < 300; ++h) line += (h ? ",\"h" : "\"h") + std::to_string(h) + "\":\"v\"";
    line += "}}";
    EXPECT_EQ(problem(line), "300 headers, more than the limit of 256");
}

TEST(jsonl, errors_name_the_problem) {
    EXPECT_EQ(problem(R"({"collection":"c","value":1})"), R"(missing "key")");
    EXPECT_EQ(problem(R"({"key":"k","value":1})"), R"(missing "collection")");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","op":"upsrt","value":1})"),
              R"(unknown op "upsrt" (expected "upsert" or "delete"))");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","op":1,"value":1})"), R"("op" must be a string, got number)");
    EXPECT_EQ(problem(R"({"collection":"","key":"k","value":1})"), R"("collection" is empty)");
    EXPECT_EQ(problem(R"({"collection":3,"key":"k","value":1})"), R"("collection" must be a string, got number)");
    EXPECT_EQ(problem(R"({"collection":"c","key":"","value":1})"), R"("key" is empty)");
    EXPECT_EQ(problem(R"({"collection":"c","key":1.5,"value":1})"),
              R"("key" must be a string or an integer, got a fractional number)");
    EXPECT_EQ(problem(R"({"collection":"c","key":[1],"value":1})"), R"("key" must be a string or an integer, got array)");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k"})"), R"(missing "value" (required for an upsert))");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":null})"),
              R"("value" is null (use "op": "delete" to remove a key))");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","op":"delete","value":"x"})"),
              R"(a delete must not have a "value" (omit it or use null))");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":1,"headers":[]})"), R"("headers" must be an object, got array)");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":1,"headers":{"a":1}})"), R"(header "a" must be a string, got number)");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":1,"colection":"x"})"),
              R"(unknown field "colection" (expected collection, key, op, value, headers))");
    EXPECT_EQ(problem("[1,2]"), "expected a JSON object, got array");
    EXPECT_EQ(problem("42"), "expected a JSON object, got number");
}

TEST(jsonl, not_json_reports_the_parser_message_without_its_prefix) {
    const std::string p = problem(R"({"collection":"c","key":)");
    EXPECT_TRUE(p.starts_with("not JSON: column ")) << p;
    EXPECT_EQ(p.find("json.exception"), std::string::npos) << p;
    EXPECT_TRUE(problem(R"({"a":1} {"b":2})").starts_with("not JSON: ")) << problem(R"({"a":1} {"b":2})");
    // Control bytes from the input are escaped in the message.
    EXPECT_EQ(problem("\x01\x02").find('\x01'), std::string::npos);
}

// Issue 13 item 12: ambiguous JSON is refused, never guessed at.
TEST(jsonl, duplicate_keys_are_refused_at_any_depth) {
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","key":"j","value":1})"), R"(duplicate field "key")");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":{"a":1,"b":2,"a":3}})"),
              R"(duplicate key "a" in "value")");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":[{"x":{"y":1,"y":1}}]})"),
              R"(duplicate key "y" in "value")");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":1,"headers":{"h":"a","h":"b"}})"),
              R"(duplicate key "h" in "headers")");
    // Equal keys in different objects are fine.
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":{"a":{"a":1},"b":{"a":2}}})"), "");
    // Objects of more than 8 keys take another path (sorted): the same answers.
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"b":10}})"),
              R"(duplicate key "b" in "value")");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"i":10}})"),
              R"(duplicate key "i" in "value")");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10}})"), "");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}})"), "");
}

TEST(jsonl, integers_beyond_64_bits_are_refused) {
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":{"n":123456789012345678901234}})"),
              "integer 123456789012345678901234 does not fit in 64 bits (it would lose precision: send it as a string)");
    EXPECT_EQ(problem(R"({"collection":"c","key":18446744073709551616,"value":1})"),
              "integer 18446744073709551616 does not fit in 64 bits (it would lose precision: send it as a string)");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":[-9223372036854775809]})"),
              "integer -9223372036854775809 does not fit in 64 bits (it would lose precision: send it as a string)");
    // The extremes that do fit are kept exactly; fractions and exponents stay numbers.
    EXPECT_EQ(parsed(R"({"collection":"c","key":"k","value":[18446744073709551615,-9223372036854775808]})").value,
              "[18446744073709551615,-9223372036854775808]");
    EXPECT_EQ(parsed(R"({"collection":"c","key":"k","value":[1.5]})").value, "[1.5]");
}

TEST(jsonl, value_size_limit) {
    const jsonl_limits limits{10};
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":"0123456789"})", limits), "");
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":"0123456789a"})", limits),
              "value is 11 bytes, more than --max-value-bytes 10");
    // The limit applies to the stored form (compact dump) of non-string values.
    EXPECT_EQ(problem(R"({"collection":"c","key":"k","value":{"abc":  123456}})", limits),
              "value is 14 bytes, more than --max-value-bytes 10");
}

TEST(jsonl, blank_lines) {
    EXPECT_TRUE(is_blank_line(""));
    EXPECT_TRUE(is_blank_line(" \t\r"));
    EXPECT_FALSE(is_blank_line(" {"));
}

}  // namespace
}  // namespace syncline::cli
