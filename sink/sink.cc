#include "sink/sink.h"

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include <zmq.hpp>

#include "common/cli_options.h"
#include "common/log.h"
#include "common/metrics_endpoint.h"
#include "common/wire.h"
#include "common/zmq_util.h"
#include "sink/watermark.h"
#include "store/change_log.h"
#include "store/state_store.h"

namespace syncline::sink {
namespace {

const logger log_sink("sink");

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

// What the sink exposes (docs/operations.md "Metrics" lists every metric).
struct sink_metrics {
    explicit sink_metrics(metrics::registry& r)
        : batches_acked(r.add_counter("syncline_sink_batches_acked_total", "Acks received from workers.")),
          records_acked(r.add_counter("syncline_sink_records_acked_total",
                                      "Records covered by acks received (duplicates from redelivery included).")),
          batches_nacked(r.add_counter("syncline_sink_batches_nacked_total",
                                       "Nacks received: batches a worker could not deliver, redelivered at once.")),
          receipts(r.add_counter("syncline_sink_receipts_total", "Receipts received (a worker took a batch).")),
          records_dead_lettered(r.add_counter("syncline_sink_records_dead_lettered_total",
                                              "Records durably dead-lettered by this sink.")),
          commits(r.add_counter("syncline_sink_commits_total", "Commits that moved the watermark.")),
          bad_frames(r.add_counter("syncline_sink_bad_frames_dropped_total",
                                   "Messages dropped as malformed, unexpected or for another pipeline.")),
          commit_seconds(r.add_histogram("syncline_sink_commit_duration_seconds",
                                         "Seconds per synced commit of the watermark and dead letters.",
                                         metrics::latency_buckets())),
          committed_offset(r.add_gauge("syncline_sink_committed_offset", "The committed watermark.")),
          dead_letters(r.add_gauge("syncline_sink_dead_letters", "Dead letters stored for the pipeline.")),
          pending_ranges(r.add_gauge("syncline_sink_pending_ranges",
                                     "Acknowledged ranges above the watermark, waiting for a gap to fill.")),
          worker_last_seen(r.gauge_family("syncline_sink_worker_last_seen_timestamp_seconds",
                                          "When a worker last sent an ack, nack or receipt (Unix time).",
                                          {"worker"})) {}

    metrics::counter &batches_acked, &records_acked, &batches_nacked, &receipts, &records_dead_lettered, &commits,
        &bad_frames;
    metrics::histogram& commit_seconds;
    metrics::gauge &committed_offset, &dead_letters, &pending_ranges;
    metrics::family<metrics::gauge>& worker_last_seen;
};

// A worker silent this long is dropped from the metrics (ids with a pid change on restart).
constexpr auto forget_worker_after = std::chrono::hours(1);

// Everything the sink knows between two commits.
class sink_state {
public:
    sink_state(const sink_options& options, std::unique_ptr<store::state_store> store, std::uint64_t committed,
               sink_metrics& m)
        : _options(options), _store(std::move(store)), _tracker(committed), _committed(committed),
          _epoch(std::random_device{}() * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint64_t>(now_ms())), _m(m) {
        _m.committed_offset.set(static_cast<double>(committed));
    }

    // The ventilator announced the ranges it is sending. With --log, a range past the log's last
    // offset is refused: the ventilator only sends what the log holds. One past what this sink's
    // view of the log shows waits for verify_announcements() (a catch-up per commit tick, not per
    // announcement: catching up costs milliseconds).
    void on_sent(const wire::sent& m) {
        const auto known = log_last_offset();
        for (const wire::range& r : m.ranges) {
            if (r.last <= _committed) continue;
            if (known && r.last > *known) {
                if (_unverified.size() < max_sent_ranges) {
                    _unverified.push_back({r, std::chrono::steady_clock::now()});
                    _unverified_new = true;
                } else {
                    _m.bad_frames.inc();
                }
                continue;
            }
            accept_announcement(r);
        }
        release_held();
    }

    // Announcements past the log's end as last seen: caught up once, then accepted, kept for
    // another tick, or (still past the end after 5 s) refused as forged. The ventilator
    // announces only what it read from the log, so one catch-up after an announcement arrives
    // sees it: a catch-up runs when a new one came since the last, else on the housekeeping tick
    // (a forged range never makes the sink catch up more than that).
    void verify_announcements(bool tick) {
        if (_unverified.empty() || !open_log()) return;
        if (!_unverified_new && !tick) return;
        _unverified_new = false;
        (void)_log->catch_up();
        const std::uint64_t last = _log->last_offset();
        const auto now = std::chrono::steady_clock::now();
        std::vector<unverified> keep;
        for (const auto& u : _unverified) {
            if (u.offsets.last <= last) {
                accept_announcement(u.offsets);
            } else if (now - u.since < std::chrono::seconds(5)) {
                keep.push_back(u);
            } else {
                _m.bad_frames.inc();
                if (_forged_log.allow())
                    log_sink.warn("refused an announced range past the log's last offset",
                                  {{"range", std::to_string(u.offsets.first) + ".." + std::to_string(u.offsets.last)},
                                   {"log_last_offset", last}});
            }
        }
        _unverified.swap(keep);
        release_held();
    }

    // An ack counts only for a range the ventilator announced sending (wire::sent): anyone who
    // can reach the acks socket could otherwise commit any range (docs/security.md "Forged acks").
    // One that comes before its announcement (the two travel different sockets) is held.
    void on_ack(const wire::ack& a) {
        if (!announced(a.offsets)) {
            if (a.offsets.last <= _committed) return;
            const std::size_t bytes = held_bytes(a);
            while (!_held.empty() && (_held.size() >= max_held_acks || _held_bytes + bytes > max_held_bytes)) {
                _m.bad_frames.inc();
                const wire::ack& dropped = _held.front();
                if (_forged_log.allow())
                    log_sink.warn("dropped an ack for a range the ventilator never announced (forged, or a "
                                  "ventilator older than this sink)",
                                  {{"range", std::to_string(dropped.offsets.first) + ".." +
                                                 std::to_string(dropped.offsets.last)},
                                   {"worker", dropped.worker}});
                _held_bytes -= held_bytes(dropped);
                _held.erase(_held.begin());
            }
            _held_bytes += bytes;
            _held.push_back(a);
            return;
        }
        ++_acks;
        _m.batches_acked.inc();
        _m.records_acked.inc(a.offsets.last - a.offsets.first + 1);
        seen(a.worker);
        wire::range done = a.offsets;
        const wire::record_failure* first_refused = nullptr;
        for (const auto& failure : a.failures) {
            if (failure.offset < a.offsets.first || failure.offset > a.offsets.last) continue;
            if (failure.offset <= _committed) continue;
            if (_options.on_failure == failure_policy::dlq)
                _pending_dead.push_back(dead_letter_for(failure, a.attempt));
            else if (!first_refused || failure.offset < first_refused->offset)
                first_refused = &failure;
        }
        if (first_refused) {
            // Policy stop: only what precedes the first refused record counts as done, so the
            // watermark stays below it and the ventilator keeps its batch in flight (redelivered
            // with backoff) until the target takes it or an operator skips it.
            report_stop(*first_refused, a.attempt);
            done.last = first_refused->offset - 1;
            if (done.last < done.first) return;
        }
        _tracker.acknowledge(done.first, done.last);
        if (done.last > _committed) _news.acked.push_back(done);
    }

    void on_nack(const wire::nack& n) {
        ++_nacks;
        _m.batches_nacked.inc();
        seen(n.worker);
        if (_nack_log.allow())
            log_sink.warn("nack", {{"range", std::to_string(n.offsets.first) + ".." + std::to_string(n.offsets.last)},
                                   {"worker", n.worker}, {"attempt", n.attempt}, {"reason", n.reason}});
        // Not filtered by announcement (a nack can overtake it): a forged one only makes a batch
        // the ventilator holds due at once, and the ventilator ignores ranges it does not hold.
        if (n.offsets.last > _committed) _news.redeliver.push_back(n.offsets);
    }

    // A worker took a batch: the ventilator learns who holds it (its stall watchdog names them).
    void on_receipt(const wire::receipt& r) {
        _m.receipts.inc();
        seen(r.worker);
        // Not filtered by announcement either (it often overtakes it): receipts only name holders.
        if (r.offsets.last > _committed) _news.received.push_back({r.offsets, r.attempt, r.worker});
    }

    // True when commit() has something to do now: the watermark moved, dead letters wait, or
    // announcements wait for a catch-up of the log.
    bool commit_due() const {
        return _tracker.watermark() != _committed || !_pending_dead.empty() || (_unverified_new && !_unverified.empty());
    }
    // Writes the watermark and the dead letters in one synced batch when either changed.
    // `tick`: the periodic housekeeping call (re-checks announcements still unverified).
    status commit(bool tick = true) {
        verify_announcements(tick);
        const std::uint64_t w = _tracker.watermark();
        if (w == _committed && _pending_dead.empty()) return {};
        const auto began = std::chrono::steady_clock::now();
        SYNCLINE_RETURN_IF_ERROR(_store->commit(w, _pending_dead));
        _m.commit_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
        _dead_lettered += _pending_dead.size();
        _m.records_dead_lettered.inc(_pending_dead.size());
        _m.dead_letters.add(static_cast<double>(_pending_dead.size()));
        _pending_dead.clear();
        if (w != _committed) {
            _committed = w;
            _sent.erase(_sent.begin(), _sent.upper_bound(w));  // Keyed by first: a range <= w is done.
            _committed_changed = true;
            ++_commits;
            _m.commits.inc();
            _m.committed_offset.set(static_cast<double>(w));
        }
        _m.pending_ranges.set(static_cast<double>(_tracker.pending_ranges()));
        return {};
    }

    // Publishes when each worker was last heard from, at most once a second per worker, and
    // forgets workers silent for long.
    void publish_workers() {
        const auto now = std::chrono::steady_clock::now();
        for (auto it = _workers.begin(); it != _workers.end();) {
            if (now - it->second.heard > forget_worker_after) {
                _m.worker_last_seen.remove({it->first});
                it = _workers.erase(it);
                continue;
            }
            if (it->second.heard_unix_ms != it->second.published_unix_ms) {
                _m.worker_last_seen.with({it->first}).set(static_cast<double>(it->second.heard_unix_ms) / 1000.0);
                it->second.published_unix_ms = it->second.heard_unix_ms;
            }
            ++it;
        }
    }

    // The progress message to send the ventilator, if there is news (or `force`).
    std::optional<wire::progress> take_news(bool force) {
        if (!force && !_committed_changed && _news.acked.empty() && _news.redeliver.empty() && _news.received.empty())
            return std::nullopt;
        wire::progress p = std::move(_news);
        _news = {};
        p.pipeline = _options.pipeline;
        p.sink_epoch = _epoch;
        p.committed = _committed;
        _committed_changed = false;
        return p;
    }

    std::uint64_t committed() const { return _committed; }
    std::vector<log_field> summary_fields() const {
        return {{"committed", _committed}, {"acks", _acks}, {"nacks", _nacks}, {"dead_lettered", _dead_lettered},
                {"commits", _commits}, {"pending_ranges", _tracker.pending_ranges()}};
    }

private:
    // Announced ranges above the watermark and acks held for their announcement, both bounded
    // (the ventilator's window holds at most 10,000 + 1,024 batches).
    static constexpr std::size_t max_sent_ranges = 100'000;
    static constexpr std::size_t max_held_acks = 10'000;
    static constexpr std::size_t max_held_bytes = 64u << 20;  // Failure reasons can be long.

    static std::size_t held_bytes(const wire::ack& a) {
        std::size_t bytes = 128 + a.worker.size();
        for (const auto& f : a.failures) bytes += 32 + f.reason.size();
        return bytes;
    }

    struct unverified {
        wire::range offsets;
        std::chrono::steady_clock::time_point since;
    };

    void accept_announcement(const wire::range& r) {
        if (_sent.size() >= max_sent_ranges && !_sent.count(r.first)) {
            _m.bad_frames.inc();
            return;
        }
        _sent[r.first] = r.last;
    }

    // Acks that came before their announcement.
    void release_held() {
        if (_held.empty()) return;
        std::vector<wire::ack> held;
        held.swap(_held);
        _held_bytes = 0;
        for (auto& a : held) on_ack(a);
    }

    bool announced(const wire::range& r) const {
        const auto it = _sent.find(r.first);
        return it != _sent.end() && it->second == r.last;
    }

    // The log's last offset as this sink's reader last saw it, when the sink has --log.
    std::optional<std::uint64_t> log_last_offset() {
        if (!open_log()) return std::nullopt;
        return _log->last_offset();
    }

    bool open_log() {
        if (_options.log.empty()) return false;
        if (_log) return true;
        auto opened = store::change_log::open_reader(_options.log);
        if (!opened.ok()) {
            if (_log_open_log.allow())
                log_sink.warn("cannot open the log", {{"log", _options.log}, {"error", opened.get_status().message()}});
            return false;
        }
        _log = std::move(opened.value());
        return true;
    }

    void seen(const std::string& worker) {
        auto& w = _workers[worker];
        w.heard = std::chrono::steady_clock::now();
        w.heard_unix_ms = now_ms();
    }

    // One error per stopping offset (then a rate-limited warning per redelivery).
    void report_stop(const wire::record_failure& failure, std::uint32_t attempt) {
        const std::string what = "pipeline " + _options.pipeline + " stopped at offset " +
                                 std::to_string(failure.offset) + " (policy stop): the target refused it: " +
                                 failure.reason;
        if (failure.offset != _stopped_at) {
            _stopped_at = failure.offset;
            log_sink.error(what + "; it stays undelivered until the target accepts it or an operator skips it "
                                  "(stop the pipeline, then syncline offsets set --to-offset " +
                                  std::to_string(failure.offset + 1) + " --execute)",
                           {{"attempt", attempt}});
        } else if (_stop_log.allow()) {
            log_sink.warn(what, {{"attempt", attempt}});
        }
    }

    store::dead_letter dead_letter_for(const wire::record_failure& failure, std::uint32_t attempts) {
        store::dead_letter d;
        d.offset = failure.offset;
        d.error = failure.reason;
        d.attempts = attempts;
        d.ts_ms = now_ms();
        d.record = stored_record(failure.offset);
        return d;
    }

    // The record as stored in the log, so a dead letter can be inspected and retried even
    // after the log is trimmed. Empty when the sink runs without --log.
    std::string stored_record(std::uint64_t offset) {
        if (!open_log()) return {};
        auto find = [&] {
            std::string found;
            auto scanned = _log->scan(offset, 1, 1, [&](std::uint64_t at, std::string_view bytes) {
                if (at == offset) found.assign(bytes);
                return false;
            });
            (void)scanned;
            return found;
        };
        // Catching up replays the writer's recent WAL, which takes milliseconds: only when the
        // record is not visible yet (a refused batch of 1000 records would otherwise catch up
        // 1000 times, stalling the sink for seconds).
        std::string found = find();
        if (found.empty() && _log->catch_up().ok()) found = find();
        return found;
    }

    const sink_options& _options;
    std::unique_ptr<store::state_store> _store;
    std::unique_ptr<store::change_log> _log;
    watermark_tracker _tracker;
    std::uint64_t _committed;
    std::uint64_t _epoch;
    wire::progress _news;
    bool _committed_changed = false;
    std::vector<store::dead_letter> _pending_dead;
    std::uint64_t _acks = 0, _nacks = 0, _dead_lettered = 0, _commits = 0;
    std::uint64_t _stopped_at = 0;  // Policy stop: the offset the pipeline last stopped at.
    sink_metrics& _m;
    struct worker_seen {
        std::chrono::steady_clock::time_point heard{};
        std::int64_t heard_unix_ms = 0, published_unix_ms = 0;
    };
    std::map<std::string, worker_seen> _workers;
    rate_limiter _nack_log, _forged_log, _log_open_log;
    rate_limiter _stop_log{std::chrono::seconds(10)};
    std::map<std::uint64_t, std::uint64_t> _sent;  // Announced ranges above the watermark: first -> last.
    std::vector<wire::ack> _held;                   // Acks waiting for their announcement.
    std::vector<unverified> _unverified;            // Announcements past the log's end as last seen.
    bool _unverified_new = false;                   // One arrived since the last catch-up.
    std::size_t _held_bytes = 0;                    // held_bytes() of _held.
};

}  // namespace

result<cli_outcome> parse_cli(int argc, const char* const* argv) {
    namespace po = cli::po;
    cli_outcome out;
    auto& o = out.options;
    int commit_ms = static_cast<int>(o.commit_interval.count());
    std::string on_failure = "dlq";
    po::options_description desc("sink options");
    desc.add_options()
        ("state", po::value(&o.state)->required(), "state root directory (committed offsets, dead letters)")
        ("pipeline", po::value(&o.pipeline)->default_value(o.pipeline), "pipeline name")
        ("log", po::value(&o.log), "change log directory (dead letters keep a copy of the record)")
        ("acks", po::value(&o.acks)->default_value(o.acks), "endpoint(s) to bind for worker acks (PULL), comma-separated")
        ("control", po::value(&o.control)->default_value(o.control), "endpoint(s) to bind for the ventilator (ROUTER), comma-separated")
        ("commit-interval-ms", po::value(&commit_ms)->default_value(commit_ms),
         "least time between two commits; 0 = commit as soon as the watermark moves (acks that arrive "
         "during a commit's fsync go into the next one)")
        ("sync", po::value(&o.sync)->default_value(o.sync), "fsync every commit")
        ("on-failure", po::value(&on_failure)->default_value(on_failure),
         "a record the target refuses for good: dlq = dead-letter it and move on; stop = the pipeline stops "
         "at that offset until the target accepts it or an operator skips it");
    metrics::add_endpoint_options(desc, o.metrics);
    curve::curve_options curve_flags;
    curve::add_cli_options(desc, curve_flags, curve::role::server);
    auto parsed = cli::parse(argc, argv, desc, "usage: syncline-sink --state DIR [--pipeline NAME] [options]");
    if (!parsed.ok()) return parsed.get_status();
    out.exit_now = parsed->exit_now;
    if (out.exit_now) return out;
    SYNCLINE_RETURN_IF_ERROR(cli::validate_name("--pipeline", o.pipeline));
    SYNCLINE_RETURN_IF_ERROR(cli::validate_endpoint_list("--acks", o.acks));
    SYNCLINE_RETURN_IF_ERROR(cli::validate_endpoint_list("--control", o.control));
    SYNCLINE_RETURN_IF_ERROR(metrics::validate_endpoint_options(o.metrics));
    if (commit_ms < 0 || commit_ms > 60'000)
        return status{errc::invalid_argument, "--commit-interval-ms must be between 0 and 60000"};
    o.commit_interval = std::chrono::milliseconds(commit_ms);
    if (on_failure == "dlq") o.on_failure = failure_policy::dlq;
    else if (on_failure == "stop") o.on_failure = failure_policy::stop;
    else return status{errc::invalid_argument, "--on-failure must be dlq or stop, not '" + on_failure + "'"};
    auto keys = curve::load(curve_flags, curve::role::server);
    if (!keys.ok()) return keys.get_status();
    o.curve = std::move(keys.value());
    return out;
}

status run(const sink_options& options, const stop_flag& stop) {
    metrics::registry registry(metrics::const_labels{{"pipeline", options.pipeline}});
    sink_metrics m(registry);
    metrics::health health;
    health.set_ready(false, "opening the state of pipeline " + options.pipeline);
    auto endpoint = metrics::serve(options.metrics, registry, health, "sink");
    if (!endpoint.ok()) return endpoint.get_status();

    auto opened = store::state_store::open({options.state, options.pipeline, options.sync});
    if (!opened.ok()) return opened.get_status();
    auto committed = opened.value()->committed();
    if (!committed.ok()) return committed.get_status();
    auto dead_letters = opened.value()->dead_letter_count();
    if (!dead_letters.ok()) return dead_letters.get_status();
    m.dead_letters.set(static_cast<double>(*dead_letters));
    sink_state state(options, std::move(opened.value()), committed->value_or(0), m);

    zmq::context_t context(1);
    zmq::socket_t acks(context, zmq::socket_type::pull);
    zmq::socket_t control(context, zmq::socket_type::router);
    // Acks are small and must not be lost while the sink is busy committing: a deep queue.
    zmqx::tune(acks, {.send_hwm = 1000, .recv_hwm = 10'000, .immediate = false});
    zmqx::tune(control, {.send_hwm = 1000, .recv_hwm = 1000, .immediate = false});
    // Declared after the sockets, so the ZAP thread stops before they close.
    auto secured = curve::secure_sockets(context, options.curve, log_sink,
                                         {{&acks, "acks", options.acks}, {&control, "control", options.control}}, {});
    if (!secured.ok()) return secured.get_status();
    const std::unique_ptr<curve::zap_guard> zap = std::move(secured.value());
    auto acks_at = zmqx::bind_all(acks, options.acks);
    if (!acks_at.ok()) return acks_at.get_status();
    auto control_at = zmqx::bind_all(control, options.control);
    if (!control_at.ok()) return control_at.get_status();
    log_sink.info("started", {{"pipeline", options.pipeline}, {"state", options.state}, {"committed", state.committed()},
                              {"commit_interval_ms", options.commit_interval.count()},
                              {"on_failure", options.on_failure == failure_policy::stop ? "stop" : "dlq"}});
    for (const auto& endpoint : *acks_at) log_sink.info("listening", {{"channel", "acks"}, {"endpoint", endpoint}});
    for (const auto& endpoint : *control_at) log_sink.info("listening", {{"channel", "control"}, {"endpoint", endpoint}});
    health.set_ready(true);

    std::string ventilator;  // Routing id of the ventilator that last spoke; empty until one does.
    drop_counter dropped(log_sink, &m.bad_frames);
    auto drop = [&](const std::string& why) { dropped.drop(why); };
    auto tell_ventilator = [&](bool force) {
        if (ventilator.empty()) return;
        if (auto news = state.take_news(force))
            zmqx::send(control, wire::encode(*news), std::chrono::milliseconds(0), ventilator);
    };

    // Commits: as soon as something is due (the watermark moved), at most one per commit
    // interval (0: no spacing). Acks that arrive during a commit's fsync are committed together
    // by the next one, so the fsyncs group themselves under load. Housekeeping (announcements
    // still unverified) runs on a tick when nothing is due.
    using steady = std::chrono::steady_clock;
    constexpr auto tick = std::chrono::milliseconds(50);
    auto next_commit = steady::now() + options.commit_interval;
    auto next_tick = steady::now() + tick;
    auto next_publish = steady::now();
    while (!stop.stop_requested()) {
        health.beat();
        zmq::pollitem_t items[] = {{acks.handle(), 0, ZMQ_POLLIN, 0}, {control.handle(), 0, ZMQ_POLLIN, 0}};
        const auto wake = state.commit_due() ? std::min(next_commit, next_tick) : next_tick;
        const auto wait = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(wake - steady::now()),
                                     std::chrono::milliseconds(0), tick);
        SYNCLINE_RETURN_IF_ERROR(zmqx::poll(items, wait));

        // Drain what is ready without blocking, so a burst of acks costs one commit.
        for (int i = 0; i < 1000; ++i) {
            auto got = zmqx::receive(acks, std::chrono::milliseconds(0));
            if (!got.ok()) { drop(got.get_status().message()); continue; }
            if (!got->has_value()) break;
            auto msg = wire::decode((*got)->header_view(), (*got)->body_view());
            if (!msg.ok()) { drop(msg.get_status().message()); continue; }
            if (auto* a = std::get_if<wire::ack>(&*msg)) {
                if (a->pipeline != options.pipeline) { drop("ack for pipeline " + a->pipeline); continue; }
                state.on_ack(*a);
            } else if (auto* n = std::get_if<wire::nack>(&*msg)) {
                if (n->pipeline != options.pipeline) { drop("nack for pipeline " + n->pipeline); continue; }
                state.on_nack(*n);
            } else if (auto* r = std::get_if<wire::receipt>(&*msg)) {
                if (r->pipeline != options.pipeline) { drop("receipt for pipeline " + r->pipeline); continue; }
                state.on_receipt(*r);
            } else {
                drop(std::string("unexpected ") + std::string(wire::type_name(*msg)) + " on the acks channel");
            }
        }
        for (int i = 0; i < 100; ++i) {
            auto got = zmqx::receive(control, std::chrono::milliseconds(0), true);
            if (!got.ok()) { drop(got.get_status().message()); continue; }
            if (!got->has_value()) break;
            auto msg = wire::decode((*got)->header_view(), (*got)->body_view());
            if (!msg.ok()) { drop(msg.get_status().message()); continue; }
            if (auto* sent = std::get_if<wire::sent>(&*msg)) {
                if (sent->pipeline != options.pipeline) { drop("sent for pipeline " + sent->pipeline); continue; }
                state.on_sent(*sent);
                continue;
            }
            auto* h = std::get_if<wire::hello>(&*msg);
            if (h == nullptr) { drop("unexpected message on the control channel"); continue; }
            if (h->pipeline != options.pipeline) { drop("hello for pipeline " + h->pipeline); continue; }
            if (ventilator != (*got)->routing_id) log_sink.info("ventilator connected", {{"epoch", h->ventilator_epoch}});
            ventilator = (*got)->routing_id;
            // A hello is also the ventilator asking where to resume: answer at once.
            tell_ventilator(true);
        }

        // Acks reach the ventilator before the commit's fsync, so its window of unacknowledged
        // batches refills while the sink waits on the disk (a commit per round would otherwise
        // hold every ack back by one fsync and starve the workers).
        tell_ventilator(false);
        if (const auto now = steady::now(); now >= next_tick || (now >= next_commit && state.commit_due())) {
            SYNCLINE_RETURN_IF_ERROR(state.commit(now >= next_tick).with_context("commit"));
            next_commit = now + options.commit_interval;
            next_tick = now + tick;
        }
        if (std::chrono::steady_clock::now() >= next_publish) {
            state.publish_workers();
            next_publish = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
        }
        tell_ventilator(false);
    }

    SYNCLINE_RETURN_IF_ERROR(state.commit().with_context("final commit"));
    tell_ventilator(false);
    std::vector<log_field> fields = state.summary_fields();
    fields.emplace_back("bad_frames", dropped.total());
    if (zap) zap->append_fields(fields);
    fields.emplace_back("peak_rss_kb", peak_rss_kb());
    log_sink.write(log_level::info, "stopped", fields);
    return {};
}

}  // namespace syncline::sink
