#include "capture/source_verify.h"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <set>

#include <nlohmann/json.hpp>

namespace syncline::capture {
namespace {

using json = nlohmann::json;

bool same_value(const std::string& source, const std::string& target) {
    if (source == target) return true;
    const json a = json::parse(source, nullptr, false), b = json::parse(target, nullptr, false);
    return !a.is_discarded() && !b.is_discarded() && a == b;
}

std::string shorten(const std::string& s, std::size_t n = 80) { return s.size() <= n ? s : s.substr(0, n) + "..."; }

std::string_view kind_name(source_difference::kind k) {
    switch (k) {
    case source_difference::kind::missing: return "missing";
    case source_difference::kind::different: return "different";
    case source_difference::kind::extra: return "extra";
    }
    return "?";
}

}  // namespace

result<source_verify_report> verify_source(const source_options& source, targets::target& target) {
    auto conn = connect(source, false);
    if (!conn.ok()) return conn.get_status();
    auto tables = describe_tables(conn->get(), source);
    if (!tables.ok()) return status{tables.get_status().code(), "source " + source.description + ": " + tables.get_status().message()};
    std::map<std::pair<std::string, std::string>, std::string> expected;
    SYNCLINE_RETURN_IF_ERROR(exec(conn->get(), "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "verify --source"));
    for (const auto& t : *tables) {
        SYNCLINE_RETURN_IF_ERROR(read_table(conn->get(), t, 10'000, [&](std::vector<row_record>& rows) -> status {
            for (auto& r : rows) expected[{t.collection(), std::move(r.key)}] = std::move(r.value);
            return {};
        }));
    }
    SYNCLINE_RETURN_IF_ERROR(exec(conn->get(), "COMMIT", "verify --source"));
    auto state = target.read_state();
    if (!state.ok()) return state.get_status();
    if (!*state) return status{errc::invalid_argument, "the target cannot be read back (it is not a state target)"};
    std::set<std::string> collections;
    for (const auto& t : *tables) collections.insert(t.collection());

    source_verify_report report;
    report.tables = tables->size();
    report.source_rows = expected.size();
    for (const auto& [id, value] : expected) {
        auto it = (*state)->find(id);
        if (it == (*state)->end() || it->second.deleted) {
            report.differences.push_back({source_difference::kind::missing, id.first, id.second,
                                          "source value " + shorten(value) +
                                              (it == (*state)->end() ? ", no target row" : ", target has a tombstone")});
        } else if (!same_value(value, it->second.value)) {
            report.differences.push_back({source_difference::kind::different, id.first, id.second,
                                          "source " + shorten(value) + " target " + shorten(it->second.value) + " (offset " +
                                              std::to_string(it->second.offset) + ")"});
        }
    }
    for (const auto& [id, row] : **state) {
        if (row.deleted || !collections.count(id.first)) continue;
        ++report.target_rows;
        if (!expected.count(id))
            report.differences.push_back({source_difference::kind::extra, id.first, id.second,
                                          "target value " + shorten(row.value) + " (offset " + std::to_string(row.offset) +
                                              "), no source row"});
    }
    std::sort(report.differences.begin(), report.differences.end(), [](const auto& a, const auto& b) {
        return std::tie(a.collection, a.key) < std::tie(b.collection, b.key);
    });
    return report;
}

std::string format_source_report(const source_verify_report& report, std::size_t max_lines) {
    std::size_t counts[3] = {0, 0, 0};
    for (const auto& d : report.differences) ++counts[static_cast<int>(d.what)];
    std::string out = report.clean() ? "verify --source: OK" : "verify --source: DIFFERENT";
    out += " tables=" + std::to_string(report.tables) + " source_rows=" + std::to_string(report.source_rows) +
           " target_rows=" + std::to_string(report.target_rows) + " differences=" + std::to_string(report.differences.size());
    if (!report.clean())
        out += " missing=" + std::to_string(counts[0]) + " different=" + std::to_string(counts[1]) +
               " extra=" + std::to_string(counts[2]);
    out += "\n";
    std::size_t shown = 0;
    for (const auto& d : report.differences) {
        if (shown++ == max_lines) {
            out += "  ... and " + std::to_string(report.differences.size() - max_lines) + " more\n";
            break;
        }
        out += "  " + std::string(kind_name(d.what)) + " " + d.collection + "/" + d.key + ": " + d.detail + "\n";
    }
    return out;
}

}  // namespace syncline::capture
