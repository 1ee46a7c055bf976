#pragma once
// sink/watermark.h: the contiguous watermark over acknowledged offset ranges (docs/architecture.md
// "Delivery"): the highest W such that every offset <= W is acknowledged or
// dead-lettered. Acknowledgements may arrive in any order, overlap, or repeat; ranges at or
// below the watermark are ignored. Memory is bounded by the number of disjoint ranges held
// above the watermark (the ventilator's window bounds that). Not thread-safe.
#include <cstddef>
#include <cstdint>
#include <map>

namespace syncline::sink {

class watermark_tracker {
public:
    explicit watermark_tracker(std::uint64_t watermark = 0) : _watermark(watermark) {}

    // Marks [first, last] done; true if the watermark moved. Requires first <= last.
    bool acknowledge(std::uint64_t first, std::uint64_t last);

    std::uint64_t watermark() const noexcept { return _watermark; }
    // Disjoint acknowledged ranges above the watermark, waiting for a gap to fill.
    std::size_t pending_ranges() const noexcept { return _above.size(); }

private:
    std::uint64_t _watermark;
    std::map<std::uint64_t, std::uint64_t> _above;  // first -> last, disjoint, non-adjacent, all > _watermark + 1
};

}  // namespace syncline::sink
