#pragma once
// common/metrics.h: a small Prometheus metrics registry (counters, gauges, histograms with fixed
// buckets, labels) and the text exposition format 0.0.4, plus a parser for that format (what
// `syncline status` and the tests read back).
// Thread-safety: registering and looking up series takes a mutex (cold path: do it once and keep
// the reference); updating a counter, gauge or histogram is lock-free (relaxed atomics), so the
// process loops update them on the hot path while the HTTP thread renders them. Series live as
// long as their registry unless removed with family::remove (then references to them dangle:
// only remove series nobody holds). Names are checked (SYNCLINE_CHECK): a bad name is a bug.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace syncline::metrics {

// A monotonically increasing count. Name it `..._total`.
class counter {
public:
    void inc(std::uint64_t n = 1) noexcept { _value.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return _value.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> _value{0};
};

// A value that goes up and down (offsets, lag, in-flight counts, timestamps).
class gauge {
public:
    void set(double v) noexcept { _value.store(v, std::memory_order_relaxed); }
    void add(double d) noexcept { _value.fetch_add(d, std::memory_order_relaxed); }
    double value() const noexcept { return _value.load(std::memory_order_relaxed); }

private:
    std::atomic<double> _value{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implicit).
class histogram {
public:
    explicit histogram(std::vector<double> bounds);
    void observe(double v) noexcept;
    const std::vector<double>& bounds() const noexcept { return _bounds; }
    // Per-bucket counts (not cumulative), one more than bounds (the last is +Inf).
    std::vector<std::uint64_t> bucket_counts() const;
    std::uint64_t count() const noexcept { return _count.load(std::memory_order_relaxed); }
    double sum() const noexcept { return _sum.load(std::memory_order_relaxed); }

private:
    std::vector<double> _bounds;
    std::unique_ptr<std::atomic<std::uint64_t>[]> _buckets;
    std::atomic<std::uint64_t> _count{0};
    std::atomic<double> _sum{0};
};

// Bucket bounds for durations in seconds: 0.5 ms .. 30 s, roughly x2.5 apart.
std::vector<double> latency_buckets();

enum class metric_type { counter, gauge, histogram };

using label_values = std::vector<std::string>;

// One metric name with its help text and label names; its series are keyed by label values.
template <typename Metric>
class family {
public:
    family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds = {})
        : _name(std::move(name)), _help(std::move(help)), _label_names(std::move(label_names)),
          _bounds(std::move(bounds)) {}
    // The series with these label values (one per label name), created at zero if new.
    Metric& with(const label_values& values);
    // Forgets a series (e.g. a worker not seen for a long time). No-op if absent.
    void remove(const label_values& values);

    const std::string& name() const noexcept { return _name; }
    const std::string& help() const noexcept { return _help; }
    const std::vector<std::string>& label_names() const noexcept { return _label_names; }
    // Calls visit(values, metric) for every series, in label order, under the family's lock.
    template <typename Visit>
    void for_each(Visit&& visit) const {
        std::lock_guard lock(_mutex);
        for (const auto& [values, metric] : _series) visit(values, *metric);
    }

private:
    std::string _name, _help;
    std::vector<std::string> _label_names;
    std::vector<double> _bounds;  // Histograms only.
    mutable std::mutex _mutex;
    std::map<label_values, std::unique_ptr<Metric>> _series;
};

// Label name/value pairs every series of a registry carries.
using const_labels = std::vector<std::pair<std::string, std::string>>;

// Every metric of one process. `labels` (e.g. {"pipeline", "orders"}) go on every series.
class registry {
public:
    registry();
    explicit registry(const_labels labels);
    ~registry();

    // Registers (or returns the already registered) family. Re-registering a name with another
    // type or other labels is a bug (SYNCLINE_CHECK).
    family<counter>& counter_family(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names);
    family<gauge>& gauge_family(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names);
    family<histogram>& histogram_family(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names, std::vector<double> bounds);

    // Unlabelled shorthands.
    counter& add_counter(const std::string& name, const std::string& help) { return counter_family(name, help, {}).with({}); }
    gauge& add_gauge(const std::string& name, const std::string& help) { return gauge_family(name, help, {}).with({}); }
    histogram& add_histogram(const std::string& name, const std::string& help, std::vector<double> bounds) {
        return histogram_family(name, help, {}, std::move(bounds)).with({});
    }

    // The text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4), families in
    // registration order.
    std::string expose() const;

private:
    struct entry;
    entry& find_or_add(const std::string& name, metric_type type, const std::vector<std::string>& label_names);
    const_labels _const_labels;
    mutable std::mutex _mutex;
    std::vector<std::unique_ptr<entry>> _entries;
};

// The Content-Type of registry::expose().
inline constexpr const char* exposition_content_type = "text/plain; version=0.0.4; charset=utf-8";

// One sample line of an exposition: `name{labels} value`.
struct sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

// Parses the text exposition format (comments skipped, label values unescaped, +Inf/-Inf/NaN
// understood, optional timestamps ignored). corruption naming the line on malformed input.
result<std::vector<sample>> parse_exposition(std::string_view text);

// One process's exposition, for merge_expositions.
struct exposition_source {
    std::string name;  // The value of the merged label for every series of this source ("sink", "worker-1").
    std::string text;  // Its /metrics body.
};

// Several processes' expositions as one (what `syncline run --metrics-listen` serves): every
// sample gains the label `label`="<source name>" (a label of that name already on a sample is
// kept as "exported_<label>", as Prometheus does with honor_labels off); each family's HELP and
// TYPE appear once, families in first-seen order, samples in source order. A source that does
// not parse is left out whole, never half-merged; "NAME: error" is appended to `rejected` if given.
std::string merge_expositions(const std::vector<exposition_source>& sources, std::string_view label,
                              std::vector<std::string>* rejected = nullptr);

// The first sample named `name` whose labels include `match`; nullopt if none.
std::optional<double> find_sample(const std::vector<sample>& samples, std::string_view name,
                                  const std::map<std::string, std::string>& match = {});

}  // namespace syncline::metrics
