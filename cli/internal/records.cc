#include "cli/internal/records.h"

namespace syncline::cli::internal {

using ojson = nlohmann::ordered_json;

ojson record_to_json(const record_view& r) {
    ojson j;
    j["offset"] = r.offset;
    j["ts"] = r.ts_ms;
    j["collection"] = std::string(r.collection);
    j["key"] = std::string(r.key);
    j["op"] = std::string(op_name(r.operation));
    if (r.operation == op::del && r.value.empty()) {
        j["value"] = nullptr;
    } else {
        // Values are JSON by convention: show them as JSON so `jq` can reach inside; anything
        // else is shown as a string (and `syncline append` stores both forms back unchanged).
        ojson parsed = ojson::parse(r.value.begin(), r.value.end(), nullptr, false);
        if (parsed.is_discarded()) j["value"] = std::string(r.value);
        else j["value"] = std::move(parsed);
    }
    ojson headers = ojson::object();
    for (const auto& [k, v] : r.headers) headers[std::string(k)] = std::string(v);
    j["headers"] = std::move(headers);
    return j;
}

void append_record_json_line(std::string& out, const record_view& r) {
    // Keys are bytes: invalid UTF-8 is replaced rather than making dump() throw.
    out += record_to_json(r).dump(-1, ' ', false, ojson::error_handler_t::replace);
    out += '\n';
}

result<std::optional<std::string>> read_stored_record(const store::change_log& log, std::uint64_t offset) {
    std::optional<std::string> found;
    auto visited = log.scan(offset, 1, 1, [&](std::uint64_t at, std::string_view encoded) {
        if (at == offset) found.emplace(encoded);
        return false;
    });
    if (!visited.ok()) return visited.get_status();
    return found;
}

}  // namespace syncline::cli::internal
