#include "cli/jsonl.h"

#include <nlohmann/json.hpp>

#include "cli/display.h"

namespace syncline::cli {
namespace {

using json = nlohmann::json;

status bad(std::string msg) { return status{errc::invalid_argument, std::move(msg)}; }

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at line 1, "; on a
// single line only the column and the reason help the user.
std::string short_parse_message(std::string_view what) {
    if (what.starts_with("[")) {
        if (auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    }
    constexpr std::string_view prefix = "parse error at line 1, ";
    if (what.starts_with(prefix)) what.remove_prefix(prefix.size());
    // The tail ("last read: '...'") echoes input bytes, which may be anything.
    return escape_for_display(what, 200);
}

std::string quote_for_message(std::string_view s) { return "\"" + escape_for_display(s, 60) + "\""; }

}  // namespace

bool is_blank_line(std::string_view line) noexcept {
    for (char c : line)
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
    return true;
}

status parse_jsonl_line(std::string_view line, record& out, const jsonl_limits& limits) {
    json doc;
    try {
        doc = json::parse(line.begin(), line.end());
    } catch (const json::parse_error& e) {
        return bad("not JSON: " + short_parse_message(e.what()));
    } catch (const json::exception& e) {
        return bad("not JSON: " + short_parse_message(e.what()));
    }
    if (!doc.is_object()) return bad(std::string("expected a JSON object, got ") + doc.type_name());

    const json* collection = nullptr;
    const json* key = nullptr;
    const json* op_field = nullptr;
    const json* value = nullptr;
    const json* headers = nullptr;
    for (const auto& [name, field] : doc.items()) {
        if (name == "collection") collection = &field;
        else if (name == "key") key = &field;
        else if (name == "op") op_field = &field;
        else if (name == "value") value = &field;
        else if (name == "headers") headers = &field;
        else if (name == "offset" || name == "ts") continue;  // Assigned by the log; see jsonl.h.
        else return bad("unknown field " + quote_for_message(name) + " (expected collection, key, op, value, headers)");
    }

    if (collection == nullptr) return bad("missing \"collection\"");
    if (!collection->is_string()) return bad(std::string("\"collection\" must be a string, got ") + collection->type_name());
    if (collection->get_ref<const std::string&>().empty()) return bad("\"collection\" is empty");
    out.collection = collection->get_ref<const std::string&>();

    if (key == nullptr) return bad("missing \"key\"");
    if (key->is_string()) {
        if (key->get_ref<const std::string&>().empty()) return bad("\"key\" is empty");
        out.key = key->get_ref<const std::string&>();
    } else if (key->is_number_unsigned()) {
        out.key = std::to_string(key->get<std::uint64_t>());
    } else if (key->is_number_integer()) {
        out.key = std::to_string(key->get<std::int64_t>());
    } else {
        return bad(std::string("\"key\" must be a string or an integer, got ") +
                   (key->is_number_float() ? "a fractional number" : key->type_name()));
    }

    out.operation = op::upsert;
    if (op_field != nullptr) {
        if (!op_field->is_string()) return bad(std::string("\"op\" must be a string, got ") + op_field->type_name());
        const auto& name = op_field->get_ref<const std::string&>();
        if (name == "delete") out.operation = op::del;
        else if (name != "upsert") return bad("unknown op " + quote_for_message(name) + " (expected \"upsert\" or \"delete\")");
    }

    out.value.clear();
    if (out.operation == op::del) {
        if (value != nullptr && !value->is_null()) return bad("a delete must not have a \"value\" (omit it or use null)");
    } else {
        if (value == nullptr) return bad("missing \"value\" (required for an upsert)");
        if (value->is_null()) return bad("\"value\" is null (use \"op\": \"delete\" to remove a key)");
        if (value->is_string()) {
            out.value = value->get_ref<const std::string&>();
        } else {
            out.value = value->dump(-1, ' ', false, json::error_handler_t::replace);
        }
        if (out.value.size() > limits.max_value_bytes)
            return bad("value is " + std::to_string(out.value.size()) + " bytes, more than --max-value-bytes " +
                       std::to_string(limits.max_value_bytes));
    }

    out.headers.clear();
    if (headers != nullptr && !headers->is_null()) {
        if (!headers->is_object()) return bad(std::string("\"headers\" must be an object, got ") + headers->type_name());
        for (const auto& [name, field] : headers->items()) {
            if (!field.is_string())
                return bad("header " + quote_for_message(name) + " must be a string, got " + field.type_name());
            out.headers.emplace_back(name, field.get_ref<const std::string&>());
        }
    }
    out.offset = 0;
    out.ts_ms = 0;
    // The log's own limits (common/record.h), so the line is reported here with its number
    // rather than failing the append it would be part of.
    if (std::string problem = check_record(out); !problem.empty()) return bad(std::move(problem));
    return {};
}

}  // namespace syncline::cli
