#include "workers/accept.h"

#include "common/codec.h"

namespace syncline::workers {
namespace {

std::string range_text(wire::range r) { return std::to_string(r.first) + ".." + std::to_string(r.last); }

// Empty when the body matches the header: as many records as it claims, each (decoded or not)
// at a known offset, so a bad record's offset is known. A dense batch (count = range size) holds
// record i at first + i. A filtered one (docs/processing.md) holds increasing offsets within the
// range, record i at first + i or later, and no undecodable record (the ventilator sends those in
// a batch of their own, whose offset is then known).
std::string check_records(const wire::batch& b, const codec::decoded_batch& d) {
    const std::size_t total = d.records.size() + d.bad.size();
    if (total != b.count) return "record count " + std::to_string(total) + " != header count " + std::to_string(b.count);
    const bool dense = wire::holds_exactly(b.offsets, b.count);
    if (total == 0 && dense) return "empty batch";
    if (!dense && !d.bad.empty()) return "an undecodable record in a filtered batch: its offset is unknown";
    std::uint64_t previous = 0;
    for (std::size_t i = 0; i < d.records.size(); ++i) {
        const std::uint64_t at_index = b.offsets.first + d.indexes[i];
        const std::uint64_t offset = d.records[i].offset;
        if (dense ? offset != at_index : (offset < at_index || offset > b.offsets.last || offset <= previous))
            return "record " + std::to_string(d.indexes[i]) + " has offset " + std::to_string(offset) +
                   (dense ? ", not " + std::to_string(at_index) : std::string(", out of order or outside")) + " of " +
                   range_text(b.offsets);
        previous = offset;
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
    if (!wire::holds_exactly(b->offsets, b->count) &&
        !wire::holds_filtered(b->offsets, b->count, codec::decode_limits{}.max_records)) {
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
