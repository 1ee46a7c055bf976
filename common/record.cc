#include "common/record.h"

namespace syncline {

std::string_view op_name(op o) noexcept {
    switch (o) {
        case op::upsert: return "upsert";
        case op::del: return "delete";
    }
    return "unknown";
}

record record_view::to_record() const {
    record r;
    r.offset = offset;
    r.ts_ms = ts_ms;
    r.collection.assign(collection);
    r.key.assign(key);
    r.operation = operation;
    r.value.assign(value);
    r.headers.reserve(headers.size());
    for (const auto& [k, v] : headers) r.headers.emplace_back(std::string(k), std::string(v));
    return r;
}

std::string check_record(const record& r) {
    using namespace limits;
    if (r.collection.empty()) return "empty collection";
    if (r.key.empty()) return "empty key";
    auto too_long = [](std::string_view what, std::size_t n, std::size_t max) {
        return std::string(what) + " is " + std::to_string(n) + " bytes, more than the limit of " +
               std::to_string(max);
    };
    if (r.collection.size() > max_field_bytes) return too_long("collection", r.collection.size(), max_field_bytes);
    if (r.key.size() > max_field_bytes) return too_long("key", r.key.size(), max_field_bytes);
    if (r.value.size() > max_value_bytes) return too_long("value", r.value.size(), max_value_bytes);
    if (r.headers.size() > max_headers)
        return std::to_string(r.headers.size()) + " headers, more than the limit of " + std::to_string(max_headers);
    // Encoded size, bounded from above: 9 bytes per number, 5 per string or map header.
    std::size_t bytes = 1 + 9 + 9 + 5 + r.collection.size() + 5 + r.key.size() + 1 + 5 + r.value.size() + 5;
    for (const auto& [k, v] : r.headers) {
        if (k.size() > max_field_bytes) return too_long("header name", k.size(), max_field_bytes);
        if (v.size() > max_field_bytes) return too_long("header '" + k.substr(0, 60) + "'", v.size(), max_field_bytes);
        bytes += 10 + k.size() + v.size();
    }
    if (bytes > max_record_bytes) return too_long("the encoded record", bytes, max_record_bytes);
    return {};
}

}  // namespace syncline
