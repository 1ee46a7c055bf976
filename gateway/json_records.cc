#include "gateway/json_records.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <nlohmann/json.hpp>
#include <simdjson.h>

namespace syncline::gateway {
namespace {

namespace dom = simdjson::dom;
using json = nlohmann::json;

status bad(std::string msg) { return status{errc::invalid_argument, std::move(msg)}; }

// Input bytes in a message: printable ASCII as is, the rest as \xHH, at most `max` bytes shown.
std::string printable(std::string_view s, std::size_t max) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i == max) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\\') out += "\\\\";
        else if (c >= 0x20 && c < 0x7f) out.push_back(static_cast<char>(c));
        else {
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

std::string quoted(std::string_view s) { return "\"" + printable(s, 60) + "\""; }

// nlohmann's type names, which the messages have always used.
const char* type_name(const dom::element& e) {
    switch (e.type()) {
        case dom::element_type::ARRAY: return "array";
        case dom::element_type::OBJECT: return "object";
        case dom::element_type::STRING: return "string";
        case dom::element_type::BOOL: return "boolean";
        case dom::element_type::NULL_VALUE: return "null";
        default: return "number";
    }
}

// One parser and one padded copy per thread: simdjson reads up to SIMDJSON_PADDING bytes past the
// input, so the bytes are copied into a buffer that has them (a memcpy of a line costs far less
// than the parse).
struct thread_parser {
    dom::parser parser;
    std::string buffer;

    simdjson::error_code parse(std::string_view text, dom::element& out) {
        if (buffer.size() < text.size() + simdjson::SIMDJSON_PADDING)
            buffer.resize(std::max(text.size() + simdjson::SIMDJSON_PADDING, buffer.size() * 2));
        std::memcpy(buffer.data(), text.data(), text.size());
        return parser.parse(buffer.data(), text.size(), false).get(out);
    }
};

thread_parser& parser_for_thread() {
    thread_local thread_parser p;
    return p;
}

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at line 1, "; on a
// single line only the column and the reason help the user.
std::string short_parse_message(std::string_view what) {
    if (what.starts_with("[")) {
        if (auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    }
    constexpr std::string_view prefix = "parse error at line 1, ";
    if (what.starts_with(prefix)) what.remove_prefix(prefix.size());
    // The tail ("last read: '...'") echoes input bytes, which may be anything.
    return printable(what, 200);
}

// Finds what nlohmann accepts and simdjson refuses on purpose: an integer beyond 64 bits (nlohmann
// turns it into a double). Tracks which element of a top-level array it is in.
struct big_integer_finder {
    std::string found;
    std::size_t depth = 0;
    std::size_t element = 0;  // Elements of a top-level array started so far.
    bool top_is_array = false;

    void enter(bool is_array) {
        if (depth == 0) top_is_array = is_array;
        else if (depth == 1 && top_is_array) ++element;
        ++depth;
    }
    void scalar() {
        if (depth == 1 && top_is_array) ++element;
    }
    bool null() { scalar(); return true; }
    bool boolean(bool) { scalar(); return true; }
    bool number_integer(std::int64_t) { scalar(); return true; }
    bool number_unsigned(std::uint64_t) { scalar(); return true; }
    bool number_float(double, const std::string& text) {
        scalar();
        if (text.find_first_of(".eE") == std::string::npos) {
            found = text;
            return false;  // Stop here.
        }
        return true;
    }
    bool string(std::string&) { scalar(); return true; }
    bool binary(json::binary_t&) { scalar(); return true; }
    bool start_object(std::size_t) { enter(false); return true; }
    bool end_object() { --depth; return true; }
    bool start_array(std::size_t) { enter(true); return true; }
    bool end_array() { --depth; return true; }
    bool key(std::string&) { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }
};

std::string big_integer_message(const std::string& text) {
    return "integer " + printable(text, 40) +
           " does not fit in 64 bits (it would lose precision: send it as a string)";
}

// The message for text simdjson refused; `element` receives the top-level array element it is
// in (1-based, 0 when unknown).
std::string not_json_message(std::string_view text, simdjson::error_code err, std::size_t* element = nullptr) {
    big_integer_finder finder;
    bool parsed = false;
    try {
        parsed = json::sax_parse(text.begin(), text.end(), &finder);
    } catch (const json::exception& e) {
        return "not JSON: " + short_parse_message(e.what());
    }
    if (!finder.found.empty()) {
        if (element != nullptr) *element = finder.element;
        return big_integer_message(finder.found);
    }
    if (!parsed) {
        // The SAX run stopped on an error without throwing: let the DOM parser word it.
        try {
            const json unused = json::parse(text.begin(), text.end());
            (void)unused;
        } catch (const json::exception& e) {
            return "not JSON: " + short_parse_message(e.what());
        }
    }
    return std::string("not JSON: ") + simdjson::error_message(err);
}

// Refuses an object holding the same key twice, at any depth below `e`.
status check_no_duplicates(const dom::element& e, std::string_view where, int depth = 0) {
    if (depth > 1024) return bad("nesting too deep");
    if (e.type() == dom::element_type::ARRAY) {
        for (dom::element item : dom::array(e))
            SYNCLINE_RETURN_IF_ERROR(check_no_duplicates(item, where, depth + 1));
        return {};
    }
    if (e.type() != dom::element_type::OBJECT) return {};
    dom::object object(e);
    // Up to 8 keys (typical objects) are compared pairwise in a local array: no allocation per
    // object; more go to a sorted vector.
    std::array<std::string_view, 8> few;
    std::size_t count = 0;
    std::vector<std::string_view> keys;
    for (dom::key_value_pair field : object) {
        if (count < few.size()) few[count] = field.key;
        else {
            if (keys.empty()) keys.assign(few.begin(), few.end());
            keys.push_back(field.key);
        }
        ++count;
        SYNCLINE_RETURN_IF_ERROR(check_no_duplicates(field.value, where, depth + 1));
    }
    if (count < 2) return {};
    if (count <= few.size()) {
        for (std::size_t i = 1; i < count; ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (few[i] == few[j]) return bad("duplicate key " + quoted(few[i]) + " in " + std::string(where));
        return {};
    }
    std::sort(keys.begin(), keys.end());
    if (auto dup = std::adjacent_find(keys.begin(), keys.end()); dup != keys.end())
        return bad("duplicate key " + quoted(*dup) + " in " + std::string(where));
    return {};
}

// The fields of one change object into `out`.
status read_change(const dom::element& doc, record& out, const json_limits& limits) {
    if (doc.type() != dom::element_type::OBJECT) return bad(std::string("expected a JSON object, got ") + type_name(doc));

    std::optional<dom::element> collection, key, op_field, value, headers;
    auto take = [](std::optional<dom::element>& slot, std::string_view name, const dom::element& v) -> status {
        if (slot) return bad("duplicate field " + quoted(name));
        slot = v;
        return {};
    };
    bool seen_offset = false, seen_ts = false;
    for (dom::key_value_pair field : dom::object(doc)) {
        const std::string_view name = field.key;
        if (name == "collection") SYNCLINE_RETURN_IF_ERROR(take(collection, name, field.value));
        else if (name == "key") SYNCLINE_RETURN_IF_ERROR(take(key, name, field.value));
        else if (name == "op") SYNCLINE_RETURN_IF_ERROR(take(op_field, name, field.value));
        else if (name == "value") SYNCLINE_RETURN_IF_ERROR(take(value, name, field.value));
        else if (name == "headers") SYNCLINE_RETURN_IF_ERROR(take(headers, name, field.value));
        else if (name == "offset" || name == "ts") {  // Assigned by the log; see json_records.h.
            bool& seen = name == "offset" ? seen_offset : seen_ts;
            if (seen) return bad("duplicate field " + quoted(name));
            seen = true;
        } else {
            return bad("unknown field " + quoted(name) + " (expected collection, key, op, value, headers)");
        }
    }

    std::string_view text;
    if (!collection) return bad("missing \"collection\"");
    if (collection->get_string().get(text)) return bad(std::string("\"collection\" must be a string, got ") + type_name(*collection));
    if (text.empty()) return bad("\"collection\" is empty");
    out.collection.assign(text);

    if (!key) return bad("missing \"key\"");
    switch (key->type()) {
        case dom::element_type::STRING:
            if (key->get_string().get(text)) return bad("\"key\" is not a string");
            if (text.empty()) return bad("\"key\" is empty");
            out.key.assign(text);
            break;
        case dom::element_type::INT64: {
            std::int64_t v = 0;
            if (key->get_int64().get(v)) return bad("\"key\" is not an integer");
            out.key = std::to_string(v);
            break;
        }
        case dom::element_type::UINT64: {
            std::uint64_t v = 0;
            if (key->get_uint64().get(v)) return bad("\"key\" is not an integer");
            out.key = std::to_string(v);
            break;
        }
        case dom::element_type::DOUBLE:
            return bad("\"key\" must be a string or an integer, got a fractional number");
        default: return bad(std::string("\"key\" must be a string or an integer, got ") + type_name(*key));
    }

    out.operation = op::upsert;
    if (op_field) {
        if (op_field->get_string().get(text)) return bad(std::string("\"op\" must be a string, got ") + type_name(*op_field));
        if (text == "delete") out.operation = op::del;
        else if (text != "upsert") return bad("unknown op " + quoted(text) + " (expected \"upsert\" or \"delete\")");
    }

    out.value.clear();
    if (out.operation == op::del) {
        if (value && !value->is_null()) return bad("a delete must not have a \"value\" (omit it or use null)");
    } else {
        if (!value) return bad("missing \"value\" (required for an upsert)");
        if (value->is_null()) return bad("\"value\" is null (use \"op\": \"delete\" to remove a key)");
        if (value->type() == dom::element_type::STRING) {
            if (value->get_string().get(text)) return bad("\"value\" is not a string");
            out.value.assign(text);
        } else {
            if (value->type() == dom::element_type::OBJECT || value->type() == dom::element_type::ARRAY)
                SYNCLINE_RETURN_IF_ERROR(check_no_duplicates(*value, "\"value\""));
            // simdjson::minify(element) builds a fresh string_builder (and grows it) per call;
            // one per thread keeps its capacity.
            thread_local simdjson::internal::string_builder<> compact;
            compact.clear();
            compact.append(*value);
            out.value.assign(compact.str());
        }
        if (out.value.size() > limits.max_value_bytes)
            return bad("value is " + std::to_string(out.value.size()) + " bytes, more than --max-value-bytes " +
                       std::to_string(limits.max_value_bytes));
    }

    out.headers.clear();
    if (headers && !headers->is_null()) {
        if (headers->type() != dom::element_type::OBJECT)
            return bad(std::string("\"headers\" must be an object, got ") + type_name(*headers));
        for (dom::key_value_pair field : dom::object(*headers)) {
            if (field.value.get_string().get(text))
                return bad("header " + quoted(field.key) + " must be a string, got " + type_name(field.value));
            for (const auto& [name, unused] : out.headers)
                if (name == field.key) return bad("duplicate key " + quoted(field.key) + " in \"headers\"");
            out.headers.emplace_back(std::string(field.key), std::string(text));
        }
    }
    out.offset = 0;
    out.ts_ms = 0;
    // The log's own limits (common/record.h), so the record is reported here with its line or
    // index rather than failing the append it would be part of.
    if (std::string problem = check_record(out); !problem.empty()) return bad(std::move(problem));
    return {};
}

}  // namespace

bool is_blank_line(std::string_view line) noexcept {
    for (char c : line)
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
    return true;
}

status parse_jsonl_line(std::string_view line, record& out, const json_limits& limits) {
    dom::element doc;
    if (auto err = parser_for_thread().parse(line, doc); err) return bad(not_json_message(line, err));
    return read_change(doc, out, limits);
}

std::optional<body_problem> parse_json_body(std::string_view body, std::vector<record>& out,
                                            const json_limits& limits, std::size_t max_records) {
    const std::size_t start = body.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return body_problem{std::nullopt, 0, "the body holds no records"};
    auto too_many = [&] {
        return body_problem{max_records, 0, "more than " + std::to_string(max_records) + " records in one request"};
    };

    if (body[start] == '[') {
        dom::element doc;
        if (auto err = parser_for_thread().parse(body, doc); err) {
            std::size_t element = 0;
            std::string message = not_json_message(body, err, &element);
            if (element > 0) return body_problem{element - 1, 0, std::move(message)};
            return body_problem{std::nullopt, 0, std::move(message)};
        }
        dom::array items(doc);
        const std::size_t n = items.size();
        if (n == 0) return body_problem{std::nullopt, 0, "the body holds no records"};
        if (n > max_records) return too_many();
        std::size_t index = 0;
        for (dom::element item : items) {
            record& r = out.emplace_back();
            if (status s = read_change(item, r, limits); !s.ok()) return body_problem{index, 0, s.message()};
            ++index;
        }
        return std::nullopt;
    }

    std::size_t line_no = 0, index = 0, pos = 0;
    while (pos < body.size()) {
        std::size_t nl = body.find('\n', pos);
        if (nl == std::string_view::npos) nl = body.size();
        std::string_view line = body.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (is_blank_line(line)) continue;
        if (index == max_records) return too_many();
        record& r = out.emplace_back();
        if (status s = parse_jsonl_line(line, r, limits); !s.ok()) return body_problem{index, line_no, s.message()};
        ++index;
    }
    if (index == 0) return body_problem{std::nullopt, 0, "the body holds no records"};
    return std::nullopt;
}

}  // namespace syncline::gateway
