#include "ventilator/filter.h"

#include <fnmatch.h>

namespace syncline::ventilator {
namespace {

std::vector<std::string_view> split_commas(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        const auto comma = text.find(',', start);
        out.push_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) return out;
        start = comma + 1;
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

}  // namespace

bool record_filter::matches(std::string_view collection, op operation) const {
    if (operation == op::del ? !deletes : !upserts) return false;
    if (collections.empty()) return true;
    const std::string name(collection);  // fnmatch wants NUL-terminated text.
    for (const auto& glob : collections)
        if (fnmatch(glob.c_str(), name.c_str(), 0) == 0) return true;
    return false;
}

status parse_collections(std::string_view text, record_filter& f) {
    f.collections.clear();
    if (trim(text).empty()) return {};
    std::size_t index = 0;
    for (auto part : split_commas(text)) {
        ++index;
        part = trim(part);
        auto bad = [&](const std::string& why) {
            return status{errc::invalid_argument,
                          "--collections: glob " + std::to_string(index) + " '" + std::string(part) + "' " + why};
        };
        if (part.empty()) return bad("is empty");
        if (part.size() > 256) return bad("is longer than 256 bytes");
        for (unsigned char c : part)
            if (c < 0x20 || c == 0x7f) return bad("holds a control character");
        f.collections.emplace_back(part);
    }
    return {};
}

status parse_ops(std::string_view text, record_filter& f) {
    if (trim(text).empty()) {
        f.upserts = f.deletes = true;
        return {};
    }
    f.upserts = f.deletes = false;
    for (auto part : split_commas(text)) {
        part = trim(part);
        if (part == "upsert") {
            f.upserts = true;
        } else if (part == "delete") {
            f.deletes = true;
        } else {
            return status{errc::invalid_argument,
                          "--ops: '" + std::string(part) + "' is not an operation (upsert, delete)"};
        }
    }
    return {};
}

result<ordering> parse_ordering(std::string_view text) {
    if (text == "none" || text.empty()) return ordering::none;
    if (text == "key") return ordering::key;
    return status{errc::invalid_argument, "--ordering: '" + std::string(text) + "' is not one of none, key"};
}

std::uint64_t key_lane(std::string_view collection, std::string_view key) noexcept {
    // FNV-1a over collection, a separator that cannot end a collection name's length, and key.
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ull;
        }
    };
    mix(std::to_string(collection.size()));
    h ^= 0xff;
    h *= 1099511628211ull;
    mix(collection);
    mix(key);
    return h;
}

}  // namespace syncline::ventilator
