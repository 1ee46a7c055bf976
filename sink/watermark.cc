#include "sink/watermark.h"

#include <algorithm>
#include <iterator>

#include "common/status.h"

namespace syncline::sink {

bool watermark_tracker::acknowledge(std::uint64_t first, std::uint64_t last) {
    SYNCLINE_CHECK(first <= last);
    if (last <= _watermark) return false;
    first = std::max(first, _watermark + 1);

    // Merge with every held range that overlaps or touches [first, last].
    auto it = _above.upper_bound(first);
    if (it != _above.begin()) {
        auto prev = std::prev(it);
        if (prev->second + 1 >= first) it = prev;
    }
    while (it != _above.end() && it->first <= last + 1) {
        first = std::min(first, it->first);
        last = std::max(last, it->second);
        it = _above.erase(it);
    }

    if (first == _watermark + 1) {
        _watermark = last;
        return true;
    }
    _above.emplace(first, last);
    return false;
}

}  // namespace syncline::sink
