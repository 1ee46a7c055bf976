#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>

namespace syncline::metrics {
namespace {

// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names may not contain ':' nor start with "__".
bool valid_name(std::string_view name, bool label) {
    if (name.empty() || (label && name.starts_with("__"))) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

// Shortest text that reads back as the same double; Prometheus spellings for the special values.
void append_value(std::string& out, double v) {
    if (std::isnan(v)) return out.append("NaN"), void();
    if (std::isinf(v)) return out.append(v > 0 ? "+Inf" : "-Inf"), void();
    char buf[32];
    // Whole numbers (offsets, counts) as integers: "200000", not the shorter "2e+05".
    if (std::abs(v) < 9007199254740992.0 && v == std::floor(v)) {
        const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));
        return out.append(buf, r.ptr), void();
    }
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_escaped(std::string& out, std::string_view text, bool quote_too) {
    for (char c : text) {
        if (c == '\\') out.append("\\\\");
        else if (c == '\n') out.append("\\n");
        else if (c == '"' && quote_too) out.append("\\\"");
        else out.push_back(c);
    }
}

using label_pairs = std::vector<std::pair<std::string_view, std::string_view>>;

void append_series(std::string& out, std::string_view name, std::string_view suffix, const label_pairs& labels,
                   double value) {
    out.append(name);
    out.append(suffix);
    if (!labels.empty()) {
        out.push_back('{');
        for (std::size_t i = 0; i < labels.size(); ++i) {
            if (i > 0) out.push_back(',');
            out.append(labels[i].first);
            out.append("=\"");
            append_escaped(out, labels[i].second, true);
            out.push_back('"');
        }
        out.push_back('}');
    }
    out.push_back(' ');
    append_value(out, value);
    out.push_back('\n');
}

const char* type_text(metric_type t) {
    switch (t) {
        case metric_type::counter: return "counter";
        case metric_type::gauge: return "gauge";
        case metric_type::histogram: return "histogram";
    }
    return "untyped";
}

}  // namespace

histogram::histogram(std::vector<double> bounds)
    : _bounds(std::move(bounds)), _buckets(new std::atomic<std::uint64_t>[_bounds.size() + 1]) {
    SYNCLINE_CHECK(std::is_sorted(_bounds.begin(), _bounds.end()));
    for (std::size_t i = 0; i <= _bounds.size(); ++i) _buckets[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) noexcept {
    // Bucket i counts observations in (bounds[i-1], bounds[i]]; the cumulative `le` view is
    // built at exposition time so an observation costs one increment, not one per bucket.
    const auto at = std::lower_bound(_bounds.begin(), _bounds.end(), v) - _bounds.begin();
    _buckets[at].fetch_add(1, std::memory_order_relaxed);
    _sum.fetch_add(v, std::memory_order_relaxed);
    _count.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> histogram::bucket_counts() const {
    std::vector<std::uint64_t> out(_bounds.size() + 1);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = _buckets[i].load(std::memory_order_relaxed);
    return out;
}

std::vector<double> latency_buckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

template <typename Metric>
Metric& family<Metric>::with(const label_values& values) {
    SYNCLINE_CHECK(values.size() == _label_names.size());
    std::lock_guard lock(_mutex);
    auto& slot = _series[values];
    if (!slot) {
        if constexpr (std::is_same_v<Metric, histogram>) slot = std::make_unique<histogram>(_bounds);
        else slot = std::make_unique<Metric>();
    }
    return *slot;
}

template <typename Metric>
void family<Metric>::remove(const label_values& values) {
    std::lock_guard lock(_mutex);
    _series.erase(values);
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

struct registry::entry {
    metric_type type;
    std::unique_ptr<family<counter>> counters;
    std::unique_ptr<family<gauge>> gauges;
    std::unique_ptr<family<histogram>> histograms;
    const std::string& name() const {
        return counters ? counters->name() : gauges ? gauges->name() : histograms->name();
    }
    const std::vector<std::string>& label_names() const {
        return counters ? counters->label_names() : gauges ? gauges->label_names() : histograms->label_names();
    }
};

registry::registry(const_labels labels) : _const_labels(std::move(labels)) {
    for (const auto& [name, value] : _const_labels) SYNCLINE_CHECK(valid_name(name, true));
}

registry::registry() = default;
registry::~registry() = default;

registry::entry& registry::find_or_add(const std::string& name, metric_type type,
                                       const std::vector<std::string>& label_names) {
    SYNCLINE_CHECK(valid_name(name, false));
    for (const auto& l : label_names) SYNCLINE_CHECK(valid_name(l, true));
    for (auto& e : _entries) {
        if (e->name() != name) continue;
        SYNCLINE_CHECK(e->type == type && e->label_names() == label_names);
        return *e;
    }
    _entries.push_back(std::make_unique<entry>());
    _entries.back()->type = type;
    return *_entries.back();
}

family<counter>& registry::counter_family(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
    std::lock_guard lock(_mutex);
    entry& e = find_or_add(name, metric_type::counter, label_names);
    if (!e.counters) e.counters = std::make_unique<family<counter>>(name, help, std::move(label_names));
    return *e.counters;
}

family<gauge>& registry::gauge_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
    std::lock_guard lock(_mutex);
    entry& e = find_or_add(name, metric_type::gauge, label_names);
    if (!e.gauges) e.gauges = std::make_unique<family<gauge>>(name, help, std::move(label_names));
    return *e.gauges;
}

family<histogram>& registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names, std::vector<double> bounds) {
    std::lock_guard lock(_mutex);
    entry& e = find_or_add(name, metric_type::histogram, label_names);
    if (!e.histograms)
        e.histograms = std::make_unique<family<histogram>>(name, help, std::move(label_names), std::move(bounds));
    return *e.histograms;
}

std::string registry::expose() const {
    std::string out;
    std::lock_guard lock(_mutex);
    for (const auto& e : _entries) {
        const std::string& name = e->name();
        out.append("# HELP ").append(name).push_back(' ');
        append_escaped(out, e->counters ? e->counters->help() : e->gauges ? e->gauges->help() : e->histograms->help(),
                       false);
        out.append("\n# TYPE ").append(name).append(" ").append(type_text(e->type)).push_back('\n');
        auto labels_of = [&](const std::vector<std::string>& names, const label_values& values) {
            label_pairs pairs;
            for (const auto& [k, v] : _const_labels) pairs.emplace_back(k, v);
            for (std::size_t i = 0; i < names.size(); ++i) pairs.emplace_back(names[i], values[i]);
            return pairs;
        };
        if (e->counters) {
            e->counters->for_each([&](const label_values& values, const counter& c) {
                append_series(out, name, "", labels_of(e->counters->label_names(), values),
                              static_cast<double>(c.value()));
            });
        } else if (e->gauges) {
            e->gauges->for_each([&](const label_values& values, const gauge& g) {
                append_series(out, name, "", labels_of(e->gauges->label_names(), values), g.value());
            });
        } else {
            e->histograms->for_each([&](const label_values& values, const histogram& h) {
                auto labels = labels_of(e->histograms->label_names(), values);
                const auto counts = h.bucket_counts();
                std::uint64_t cumulative = 0;
                std::string bound;
                for (std::size_t i = 0; i < counts.size(); ++i) {
                    cumulative += counts[i];
                    bound.clear();
                    append_value(bound, i < h.bounds().size() ? h.bounds()[i] : std::numeric_limits<double>::infinity());
                    auto with_le = labels;
                    with_le.emplace_back("le", bound);
                    append_series(out, name, "_bucket", with_le, static_cast<double>(cumulative));
                }
                append_series(out, name, "_sum", labels, h.sum());
                // _count equals the +Inf bucket, read in the same pass, so scrapes stay consistent.
                append_series(out, name, "_count", labels, static_cast<double>(cumulative));
            });
        }
    }
    return out;
}

namespace {

status bad_line(std::size_t line_no, std::string_view why) {
    return status{errc::corruption, "metrics line " + std::to_string(line_no) + ": " + std::string(why)};
}

bool parse_number(std::string_view text, double& out) {
    if (text == "+Inf" || text == "Inf") return out = std::numeric_limits<double>::infinity(), true;
    if (text == "-Inf") return out = -std::numeric_limits<double>::infinity(), true;
    if (text == "NaN") return out = std::numeric_limits<double>::quiet_NaN(), true;
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return r.ec == std::errc{} && r.ptr == text.data() + text.size();
}

}  // namespace

namespace {

// One sample line (`name{labels} value [timestamp]`), already trimmed and not a comment.
result<sample> parse_sample_line(std::string_view line, std::size_t line_no) {
    sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name.assign(line.substr(0, i));
    if (!valid_name(s.name, false)) return bad_line(line_no, "bad metric name");
    if (i < line.size() && line[i] == '{') {
        ++i;
        while (true) {
            while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
            if (i >= line.size()) return bad_line(line_no, "unterminated labels");
            if (line[i] == '}') { ++i; break; }
            const auto eq = line.find('=', i);
            if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"')
                return bad_line(line_no, "expected label=\"value\"");
            std::string key(line.substr(i, eq - i));
            if (!valid_name(key, true)) return bad_line(line_no, "bad label name");
            std::string value;
            i = eq + 2;
            bool closed = false;
            for (; i < line.size(); ++i) {
                const char c = line[i];
                if (c == '"') { closed = true; ++i; break; }
                if (c == '\\' && i + 1 < line.size()) {
                    const char n = line[++i];
                    value.push_back(n == 'n' ? '\n' : n);
                } else {
                    value.push_back(c);
                }
            }
            if (!closed) return bad_line(line_no, "unterminated label value");
            s.labels[std::move(key)] = std::move(value);
        }
    }
    while (i < line.size() && line[i] == ' ') ++i;
    std::string_view value = line.substr(i);
    if (const auto space = value.find(' '); space != std::string_view::npos) value = value.substr(0, space);
    if (!parse_number(value, s.value)) return bad_line(line_no, "bad value '" + std::string(value) + "'");
    return s;
}

// Calls on_comment(line) for `# ...` lines and on_sample(sample) for the others; stops at the first error.
template <typename OnComment, typename OnSample>
status for_each_line(std::string_view text, OnComment&& on_comment, OnSample&& on_sample) {
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (line.empty()) continue;
        if (line.front() == '#') {
            on_comment(line);
            continue;
        }
        auto s = parse_sample_line(line, line_no);
        if (!s.ok()) return s.get_status();
        on_sample(std::move(*s));
    }
    return {};
}

// A metric family as read from an exposition: HELP and TYPE kept as written (help still escaped).
struct parsed_family {
    std::string name, help, type;
    std::vector<sample> samples;
};

// The family a sample belongs to: its own name, or the histogram/summary it is a part of.
bool belongs_to(const parsed_family& f, std::string_view sample_name) {
    if (sample_name == f.name) return true;
    if (f.type != "histogram" && f.type != "summary") return false;
    if (!sample_name.starts_with(f.name)) return false;
    const std::string_view suffix = sample_name.substr(f.name.size());
    return suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
}

result<std::vector<parsed_family>> parse_families(std::string_view text) {
    std::vector<parsed_family> out;
    auto family_named = [&](std::string_view name) -> parsed_family& {
        if (out.empty() || out.back().name != name) out.push_back({std::string(name), {}, {}, {}});
        return out.back();
    };
    status s = for_each_line(
        text,
        [&](std::string_view line) {
            // "# HELP name text" / "# TYPE name type"; other comments are dropped.
            const bool help = line.starts_with("# HELP "), type = line.starts_with("# TYPE ");
            if (!help && !type) return;
            std::string_view rest = line.substr(7);
            const auto space = rest.find(' ');
            const std::string_view name = rest.substr(0, space);
            const std::string_view value = space == std::string_view::npos ? "" : rest.substr(space + 1);
            if (!valid_name(name, false)) return;
            auto& f = family_named(name);
            (help ? f.help : f.type) = std::string(value);
        },
        [&](sample s) {
            if (out.empty() || !belongs_to(out.back(), s.name)) family_named(s.name);
            out.back().samples.push_back(std::move(s));
        });
    if (!s.ok()) return s;
    return out;
}

}  // namespace

result<std::vector<sample>> parse_exposition(std::string_view text) {
    std::vector<sample> out;
    status s = for_each_line(text, [](std::string_view) {}, [&](sample one) { out.push_back(std::move(one)); });
    if (!s.ok()) return s;
    return out;
}

std::string merge_expositions(const std::vector<exposition_source>& sources, std::string_view label,
                              std::vector<std::string>* rejected) {
    std::vector<parsed_family> merged;
    std::map<std::string, std::size_t, std::less<>> index;
    const std::string exported = "exported_" + std::string(label);
    for (const auto& source : sources) {
        auto families = parse_families(source.text);
        if (!families.ok()) {
            if (rejected) rejected->push_back(source.name + ": " + families.get_status().message());
            continue;
        }
        for (auto& f : *families) {
            auto [it, added] = index.try_emplace(f.name, merged.size());
            if (added) merged.push_back({f.name, f.help, f.type, {}});
            auto& into = merged[it->second];
            if (into.help.empty()) into.help = f.help;
            if (into.type.empty()) into.type = f.type;
            for (auto& s : f.samples) {
                if (auto own = s.labels.find(std::string(label)); own != s.labels.end()) {
                    s.labels[exported] = std::move(own->second);
                    s.labels.erase(own);
                }
                s.labels[std::string(label)] = source.name;
                into.samples.push_back(std::move(s));
            }
        }
    }
    std::string out;
    for (const auto& f : merged) {
        if (!f.help.empty()) out.append("# HELP ").append(f.name).append(" ").append(f.help).push_back('\n');
        if (!f.type.empty()) out.append("# TYPE ").append(f.name).append(" ").append(f.type).push_back('\n');
        for (const auto& s : f.samples) {
            label_pairs pairs(s.labels.begin(), s.labels.end());
            append_series(out, s.name, "", pairs, s.value);
        }
    }
    return out;
}

std::optional<double> find_sample(const std::vector<sample>& samples, std::string_view name,
                                  const std::map<std::string, std::string>& match) {
    for (const auto& s : samples) {
        if (s.name != name) continue;
        bool all = true;
        for (const auto& [k, v] : match) {
            auto it = s.labels.find(k);
            if (it == s.labels.end() || it->second != v) {
                all = false;
                break;
            }
        }
        if (all) return s.value;
    }
    return std::nullopt;
}

}  // namespace syncline::metrics
