#pragma once
// targets/internal/template.h: the message templates of the channel targets (smtp:, fcm:, apns:):
// text with {placeholders} filled from one record. Documented for users in docs/targets/templates.md.
//   {collection} {key} {op} (upsert|delete) {offset} {ts_ms} {pipeline}
//   {value}          the whole value as text
//   {value.a.b}      a field of a JSON object value (strings unquoted, anything else as JSON)
//   {{               a literal '{' before a name ('{' and '}' elsewhere are literal, as in JSON)
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace syncline::targets::internal {

// How substituted text is written into the rendered output.
enum class template_escaping {
    none,         // As is (an email body).
    json_string,  // Inside a JSON string literal: quotes, backslashes and controls escaped.
    header_line,  // One header line: CR and LF refused (header injection), the rest as is.
};

class message_template {
public:
    // invalid_argument naming the problem and its 1-based column: an unknown or unterminated
    // placeholder, an empty field path.
    static result<message_template> parse(std::string_view text);

    // The rendered text, or invalid_argument when the record cannot fill it: a {value.x} of a
    // value that is not a JSON object or has no field x, or a CR/LF under header_line. Callers
    // dead-letter such records: redelivery cannot fix them.
    result<std::string> render(const record_view& r, std::string_view pipeline,
                               template_escaping escaping = template_escaping::none) const;

    // The template as written.
    const std::string& text() const { return _text; }
    // Whether some placeholder reads a field of the value (the value must then be a JSON object).
    bool reads_value_fields() const;

private:
    enum class part_kind { literal, collection, key, op, offset, ts_ms, pipeline, value, value_field };
    struct part {
        part_kind kind;
        std::string literal;                // literal text
        std::vector<std::string> path;      // value_field: the field names, outermost first
    };
    std::string _text;
    std::vector<part> _parts;
};

}  // namespace syncline::targets::internal
