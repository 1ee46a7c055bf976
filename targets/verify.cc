#include "targets/verify.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "common/codec.h"
#include "targets/internal/text.h"

namespace syncline::targets {
namespace {

using json = nlohmann::json;
using internal::printable;

struct expected_record {
    std::uint64_t offset = 0;
    bool deleted = false;
    std::string value;
};

// Orders (collection, key) exactly as state_map does, and finds by views so that scanning the
// log does not build two strings per record just to look a key up.
struct key_less {
    using is_transparent = void;
    using view = std::pair<std::string_view, std::string_view>;
    static view as_view(const std::pair<std::string, std::string>& k) { return {k.first, k.second}; }
    static view as_view(const view& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
        return as_view(a) < as_view(b);
    }
};
using expected_map = std::map<std::pair<std::string, std::string>, expected_record, key_less>;

// Byte equality, or the same JSON value: targets that store JSON may reformat it. A log value
// that is not JSON is compared as the JSON string the jsonl target writes for it.
bool values_equal(std::string_view expected, std::string_view actual) {
    if (expected == actual) return true;
    json a = json::parse(actual, nullptr, false);
    if (a.is_discarded()) return false;
    json e = json::parse(expected, nullptr, false);
    if (e.is_discarded()) e = json(std::string(expected));
    return a == e;
}

std::string describe(const row_state& row) {
    if (row.deleted) return "tombstone at offset " + std::to_string(row.offset);
    return "offset " + std::to_string(row.offset) + " value " + printable(row.value, 60);
}

std::string describe(const expected_record& e) {
    if (e.deleted) return "deleted at offset " + std::to_string(e.offset);
    return "offset " + std::to_string(e.offset) + " value " + printable(e.value, 60);
}

// Visits decoded log records with from <= offset <= to, in order, in bounded chunks.
status scan_log(const store::change_log& log, std::uint64_t from, std::uint64_t to,
                const std::function<void(std::uint64_t, const record_view&)>& visit) {
    std::uint64_t next = std::max<std::uint64_t>(from, 1);
    while (next <= to) {
        std::uint64_t last_seen = 0;
        status err;
        auto n = log.scan(next, 4096, 16u << 20, [&](std::uint64_t offset, std::string_view encoded) {
            if (offset > to) return false;
            auto r = codec::decode_record(encoded);
            if (!r.ok()) {
                err = r.get_status().with_context("log record at offset " + std::to_string(offset));
                return false;
            }
            last_seen = offset;
            visit(offset, *r);
            return true;
        });
        if (!n.ok()) return n.get_status().with_context("scan log " + log.path());
        if (!err.ok()) return err;
        if (last_seen == 0 || last_seen == UINT64_MAX) break;
        next = last_seen + 1;
    }
    return {};
}

// A row applied past the watermark: acceptable only if the log holds exactly it.
struct above_row {
    std::uint64_t offset;
    const std::pair<std::string, std::string>* key;
    const row_state* row;
    const expected_record* expected;  // nullptr: the log has no record of the key <= committed.
};

class checker {
public:
    checker(verify_report& report) : _report(report) {}

    void add(difference::kind k, const std::pair<std::string, std::string>& key, std::string detail) {
        _report.differences.push_back({k, key.first, key.second, std::move(detail)});
    }

    // A target row at or below the watermark against the log's state.
    void check(const std::pair<std::string, std::string>& key, const expected_record* e, const row_state& row) {
        using k = difference::kind;
        if (e == nullptr) {
            // Below the log's first offset the row's change may have been trimmed away.
            if (row.offset < _report.log_first_offset) {
                ++_report.unverifiable;
                return;
            }
            add(k::unexpected, key,
                "the log has no record of this key at or below " + std::to_string(_report.committed) +
                    "; target has " + describe(row));
            return;
        }
        if (e->deleted) {
            if (!row.deleted) add(k::resurrected, key, "expected " + describe(*e) + "; target has " + describe(row));
            return;
        }
        if (row.deleted) {
            add(k::missing, key, "expected " + describe(*e) + "; target has " + describe(row));
        } else if (row.offset != e->offset) {
            add(k::stale, key, "expected " + describe(*e) + "; target has " + describe(row));
        } else if (!values_equal(e->value, row.value)) {
            add(k::stale, key, "value differs at offset " + std::to_string(e->offset) + ": expected " +
                                   printable(e->value, 60) + "; target has " + printable(row.value, 60));
        }
    }

    // A row above the watermark that does not equal the log's record at its offset.
    void mismatch_above(const above_row& a, const std::string& log_side) {
        using k = difference::kind;
        std::string detail = "target has " + describe(*a.row) + " (above committed " +
                             std::to_string(_report.committed) + ") but " + log_side;
        if (a.expected != nullptr) detail += "; expected " + describe(*a.expected);
        k what = k::unexpected;
        if (a.expected != nullptr && !a.expected->deleted) what = a.row->deleted ? k::missing : k::stale;
        if (a.expected != nullptr && a.expected->deleted) what = a.row->deleted ? k::stale : k::resurrected;
        add(what, *a.key, std::move(detail));
    }

private:
    verify_report& _report;
};

}  // namespace

std::string_view kind_name(difference::kind k) noexcept {
    switch (k) {
        case difference::kind::missing: return "missing";
        case difference::kind::stale: return "stale";
        case difference::kind::resurrected: return "resurrected";
        case difference::kind::unexpected: return "unexpected";
    }
    return "unknown";
}

result<verify_report> verify_target(const store::change_log& log, std::uint64_t committed, target& t,
                                    std::string_view target_name) {
    verify_report report;
    report.committed = committed;
    report.log_first_offset = log.first_offset();

    auto read = t.read_state();
    if (!read.ok()) return read.get_status().with_context("verify: read " + std::string(target_name));
    if (!read->has_value())
        return status{errc::invalid_argument,
                      "target " + std::string(target_name) + " cannot be read back for verification"};
    const state_map& actual = **read;

    // The log's state at the watermark: the last record per key.
    expected_map expected;
    SYNCLINE_RETURN_IF_ERROR(scan_log(log, report.log_first_offset, committed, [&](std::uint64_t offset, const record_view& r) {
        auto it = expected.find(key_less::view{r.collection, r.key});
        if (it == expected.end())
            it = expected.try_emplace({std::string(r.collection), std::string(r.key)}).first;
        expected_record& e = it->second;
        e.offset = offset;
        e.deleted = r.operation == op::del;
        if (e.deleted) e.value.clear();
        else e.value.assign(r.value);
    }));
    for (const auto& [key, e] : expected)
        if (!e.deleted) ++report.keys_expected;

    // Both maps are sorted the same way: walk them side by side.
    checker check(report);
    std::vector<above_row> above;
    auto ei = expected.begin();
    auto ai = actual.begin();
    while (ei != expected.end() || ai != actual.end()) {
        ++report.keys_checked;
        bool has_e = ei != expected.end(), has_a = ai != actual.end();
        if (has_e && has_a) {
            if (key_less{}(ei->first, ai->first)) has_a = false;
            else if (key_less{}(ai->first, ei->first)) has_e = false;
        }
        if (!has_a) {
            if (!ei->second.deleted)
                check.add(difference::kind::missing, ei->first,
                          "expected " + describe(ei->second) + "; target has no row");
            ++ei;
            continue;
        }
        const expected_record* e = has_e ? &ei->second : nullptr;
        if (ai->second.offset > committed) above.push_back({ai->second.offset, &ai->first, &ai->second, e});
        else check.check(ai->first, e, ai->second);
        ++ai;
        if (has_e) ++ei;
    }

    // Rows past the watermark are checked against the log's record at their own offset.
    if (!above.empty()) {
        std::sort(above.begin(), above.end(), [](const above_row& a, const above_row& b) { return a.offset < b.offset; });
        std::size_t i = 0;
        SYNCLINE_RETURN_IF_ERROR(scan_log(log, above.front().offset, above.back().offset,
                                          [&](std::uint64_t offset, const record_view& r) {
            for (; i < above.size() && above[i].offset < offset; ++i)
                check.mismatch_above(above[i], "the log has no record at that offset");
            for (; i < above.size() && above[i].offset == offset; ++i) {
                const above_row& a = above[i];
                bool same = r.collection == a.key->first && r.key == a.key->second &&
                            (r.operation == op::del) == a.row->deleted &&
                            (a.row->deleted || values_equal(r.value, a.row->value));
                if (same) continue;
                check.mismatch_above(a, "the log's record there is " + std::string(op_name(r.operation)) + " of " +
                                            printable(r.collection) + "/" + printable(r.key) +
                                            (r.operation == op::del ? "" : " value " + printable(r.value, 60)));
            }
        }));
        for (; i < above.size(); ++i)
            check.mismatch_above(above[i], "the log ends at " + std::to_string(log.last_offset()));
    }

    std::stable_sort(report.differences.begin(), report.differences.end(), [](const difference& a, const difference& b) {
        return std::tie(a.collection, a.key) < std::tie(b.collection, b.key);
    });
    return report;
}

std::string format_report(const verify_report& report, std::size_t max_lines) {
    std::array<std::size_t, 4> counts{};
    for (const auto& d : report.differences) ++counts[static_cast<std::size_t>(d.what)];
    std::string out = report.clean() ? "verify: OK" : "verify: DIFFERENT";
    out += " committed=" + std::to_string(report.committed) + " keys_expected=" + std::to_string(report.keys_expected) +
           " keys_checked=" + std::to_string(report.keys_checked) +
           " differences=" + std::to_string(report.differences.size());
    if (!report.clean()) {
        for (std::size_t k = 0; k < counts.size(); ++k)
            out += " " + std::string(kind_name(static_cast<difference::kind>(k))) + "=" + std::to_string(counts[k]);
    }
    if (report.unverifiable > 0)
        out += " unverifiable=" + std::to_string(report.unverifiable) + " (log trimmed below " +
               std::to_string(report.log_first_offset) + ")";
    out += "\n";
    std::size_t shown = 0;
    for (const auto& d : report.differences) {
        if (shown == max_lines) {
            out += "  ... and " + std::to_string(report.differences.size() - shown) + " more\n";
            break;
        }
        out += "  " + std::string(kind_name(d.what)) + " " + printable(d.collection) + "/" + printable(d.key) + ": " +
               d.detail + "\n";
        ++shown;
    }
    return out;
}

}  // namespace syncline::targets
