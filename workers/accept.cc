#include "workers/accept.h"

#include "common/codec.h"

namespace syncline::workers {
namespace {

std::string range_text(wire::range r) { return std::to_string(r.first) + ".." + std::to_string(r.last); }

// Empty when the decoded batch matches the header: the count, and each record at its index.
std::string check_records(const wire::batch& b, const codec::decoded_batch& d) {
    const std::size_t total = d.records.size() + d.bad.size();
    if (total != b.count) return "record count " + std::to_string(total) + " != header count " + std::to_string(b.count);
    if (total == 0) return "empty batch";
    for (std::size_t i = 0; i < d.records.size(); ++i) {
        const std::uint64_t expected = b.offsets.first + d.indexes[i];
        if (d.records[i].offset != expected)
            return "record " + std::to_string(d.indexes[i]) + " has offset " + std::to_string(d.records[i].offset) +
                   ", not " + std::to_string(expected) + " of " + range_text(b.offsets);
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
    auto decoded = codec::decode_batch_records(out.header.body);
    std::string bad = decoded.ok() ? check_records(out.header, *decoded) : decoded.get_status().message();
    if (!bad.empty()) {
        out.what = accepted_batch::verdict::dead_letter;
        out.reason = std::move(bad);
        return out;
    }
    out.what = accepted_batch::verdict::take;
    for (const auto& r : decoded->bad)
        out.undecodable.push_back({out.header.offsets.first + r.index, "undecodable record: " + r.reason});
    out.records = std::move(decoded->records);
    return out;
}

}  // namespace syncline::workers
