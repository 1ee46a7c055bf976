#include "targets/internal/template.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <optional>

#include "targets/internal/json_text.h"
#include "targets/internal/text.h"

namespace syncline::targets::internal {
namespace {

status invalid(std::string msg) { return status{errc::invalid_argument, std::move(msg)}; }

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> names;
    std::size_t start = 0;
    for (std::size_t dot = path.find('.'); ; dot = path.find('.', start)) {
        names.emplace_back(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return names;
}

std::string join_path(const std::vector<std::string>& path) {
    std::string out = "value";
    for (const std::string& name : path) out += "." + name;
    return out;
}

status append_escaped(std::string& out, std::string_view text, template_escaping escaping, std::string_view what) {
    switch (escaping) {
        case template_escaping::none:
            out += text;
            return {};
        case template_escaping::json_string: {
            // append_json_string writes the quotes too; the template already has them.
            std::string quoted;
            append_json_string(quoted, text);
            out.append(quoted, 1, quoted.size() - 2);
            return {};
        }
        case template_escaping::header_line:
            if (text.find_first_of("\r\n") != std::string_view::npos)
                return invalid("{" + std::string(what) + "} holds a line break, which a header line cannot: '" +
                               printable(text) + "'");
            out += text;
            return {};
    }
    return {};
}

}  // namespace

result<message_template> message_template::parse(std::string_view text) {
    message_template t;
    t._text = std::string(text);
    std::string literal;
    auto flush = [&] {
        if (!literal.empty()) t._parts.push_back({part_kind::literal, std::move(literal), {}});
        literal.clear();
    };
    // A '{' starts a placeholder only before a name and '}', so JSON payload templates need no
    // escaping: `{"title":"{value.title}"}` has one placeholder.
    auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
            literal += '{';
            ++i;
            continue;
        }
        std::size_t close = i + 1;
        while (c == '{' && close < text.size() && name_char(text[close])) ++close;
        if (c != '{' || close == i + 1 || close == text.size() || text[close] != '}' ||
            !std::isalpha(static_cast<unsigned char>(text[i + 1]))) {
            literal += c;
            continue;
        }
        const std::string_view name = text.substr(i + 1, close - i - 1);
        static const std::pair<std::string_view, part_kind> simple[] = {
            {"collection", part_kind::collection}, {"key", part_kind::key},     {"op", part_kind::op},
            {"offset", part_kind::offset},         {"ts_ms", part_kind::ts_ms}, {"pipeline", part_kind::pipeline},
            {"value", part_kind::value}};
        std::optional<part> placeholder;
        for (const auto& [spelling, kind] : simple)
            if (name == spelling) placeholder = part{kind, {}, {}};
        if (!placeholder && name.starts_with("value.")) {
            std::vector<std::string> path = split_path(name.substr(6));
            for (const std::string& field : path)
                if (field.empty())
                    return invalid("template column " + std::to_string(i + 1) + ": empty field name in {" +
                                   std::string(name) + "}");
            placeholder = part{part_kind::value_field, {}, std::move(path)};
        }
        if (!placeholder)
            return invalid("template column " + std::to_string(i + 1) + ": unknown placeholder {" +
                           printable(name) +
                           "} (expected collection, key, op, offset, ts_ms, pipeline, value or value.FIELD)");
        flush();
        t._parts.push_back(std::move(*placeholder));
        i = close;
    }
    flush();
    return t;
}

bool message_template::reads_value_fields() const {
    for (const part& p : _parts)
        if (p.kind == part_kind::value_field) return true;
    return false;
}

result<std::string> message_template::render(const record_view& r, std::string_view pipeline,
                                             template_escaping escaping) const {
    std::string out;
    std::optional<nlohmann::json> value;  // Parsed once, on the first {value.x}.
    auto put = [&](std::string_view text, std::string_view what) { return append_escaped(out, text, escaping, what); };
    for (const part& p : _parts) {
        status s;
        switch (p.kind) {
            case part_kind::literal: out += p.literal; break;
            case part_kind::collection: s = put(r.collection, "collection"); break;
            case part_kind::key: s = put(r.key, "key"); break;
            case part_kind::op: out += op_name(r.operation); break;
            case part_kind::offset: append_number(out, r.offset); break;
            case part_kind::ts_ms: append_number(out, r.ts_ms); break;
            case part_kind::pipeline: s = put(pipeline, "pipeline"); break;
            case part_kind::value: s = put(r.value, "value"); break;
            case part_kind::value_field: {
                if (!value) {
                    value = nlohmann::json::parse(r.value, nullptr, /*allow_exceptions=*/false);
                    if (!value->is_object())
                        return invalid("{" + join_path(p.path) + "}: the value is not a JSON object: '" +
                                       printable(r.value) + "'");
                }
                const nlohmann::json* node = &*value;
                for (const std::string& name : p.path) {
                    if (!node->is_object() || !node->contains(name))
                        return invalid("{" + join_path(p.path) + "}: the value has no field '" + name + "'");
                    node = &(*node)[name];
                }
                s = put(node->is_string() ? node->get_ref<const std::string&>()
                                          : node->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                        join_path(p.path));
                break;
            }
        }
        if (!s.ok()) return s;
    }
    return out;
}

}  // namespace syncline::targets::internal
