#include "workers/accept.h"

#include "common/codec.h"

namespace syncline::workers {
namespace {

std::string range_text(wire::range r) { return std::to_string(r.first) + ".." + std::to_string(r.last); }

// Empty when the records match the header: count, range, strictly increasing offsets.
std::string check_records(const wire::batch& b, const std::vector<record_view>& records) {
    if (records.size() != b.count)
        return "record count " + std::to_string(records.size()) + " != header count " + std::to_string(b.count);
    if (records.empty()) return "empty batch";
    std::uint64_t previous = 0;
    for (const auto& r : records) {
        if (r.offset < b.offsets.first || r.offset > b.offsets.last || r.offset <= previous)
            return "offset " + std::to_string(r.offset) + " out of order or outside " + range_text(b.offsets);
        previous = r.offset;
    }
    return {};
}

}  // namespace

accepted_batch accept_batch(std::string_view header_frame, std::string_view body_frame, std::string_view pipeline) {
    accepted_batch out;
    auto msg = wire::decode(header_frame, body_frame);
    if (!msg.ok()) {
        out.reason = msg.get_status().message();
        return out;
    }
    auto* b = std::get_if<wire::batch>(&*msg);
    if (b == nullptr) {
        out.reason = "unexpected " + std::string(wire::type_name(*msg)) + " on the work channel";
        return out;
    }
    if (b->pipeline != pipeline) {
        out.reason = "batch for pipeline " + b->pipeline;
        return out;
    }
    // wire::decode checked it already; checked again here because everything below (the
    // dead-letter loop above all) relies on it.
    if (!wire::holds_exactly(b->offsets, b->count)) {
        out.reason = "batch " + range_text(b->offsets) + " claims " + std::to_string(b->count) + " records";
        return out;
    }
    out.header = std::move(*b);
    auto records = codec::decode_batch_body(out.header.body);
    std::string bad = records.ok() ? check_records(out.header, *records) : records.get_status().message();
    if (!bad.empty()) {
        out.what = accepted_batch::verdict::dead_letter;
        out.reason = std::move(bad);
        return out;
    }
    out.what = accepted_batch::verdict::take;
    out.records = std::move(records.value());
    return out;
}

}  // namespace syncline::workers
