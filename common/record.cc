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

}  // namespace syncline
