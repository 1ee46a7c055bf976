#include "ventilator/ventilator.h"

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <unordered_set>

#include <zmq.hpp>

#include "common/cli_options.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/metrics_endpoint.h"
#include "common/runtime.h"
#include "common/wire.h"
#include "common/zmq_util.h"
#include "store/change_log.h"
#include "store/wal_watch.h"

namespace syncline::ventilator {
namespace {

const logger log_vent("ventilator");

using std::chrono::milliseconds;

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
    return out;
}

milliseconds until(clock::time_point t, clock::time_point now) {
    return t <= now ? milliseconds(0) : std::chrono::duration_cast<milliseconds>(t - now) + milliseconds(1);
}

// What the ventilator exposes (docs/operations.md "Metrics" lists every metric).
struct ventilator_metrics {
    explicit ventilator_metrics(metrics::registry& r)
        : batches_sent(r.add_counter("syncline_ventilator_batches_sent_total",
                                     "Batch deliveries sent to workers, redeliveries included.")),
          records_sent(r.add_counter("syncline_ventilator_records_sent_total",
                                     "Records in the batch deliveries sent, redeliveries included.")),
          records_filtered(r.add_counter("syncline_ventilator_records_filtered_total",
                                         "Records read from the log and not sent (--collections, --ops); they count as done.")),
          batches_redelivered(r.add_counter("syncline_ventilator_batches_redelivered_total",
                                            "Batches sent again (ack timeout, nack, sink restart).")),
          records_redelivered(r.add_counter("syncline_ventilator_records_redelivered_total",
                                            "Records in the batches sent again.")),
          bad_frames(r.add_counter("syncline_ventilator_bad_frames_dropped_total",
                                   "Control messages dropped as malformed or unexpected.")),
          committed_offset(r.add_gauge("syncline_ventilator_committed_offset",
                                       "The sink's committed watermark as last heard.")),
          log_last_offset(r.add_gauge("syncline_ventilator_log_last_offset", "The change log's last offset.")),
          lag_records(r.add_gauge("syncline_ventilator_lag_records", "Log last offset minus committed offset.")),
          lag_seconds(r.add_gauge("syncline_ventilator_lag_seconds",
                                  "Age of the oldest uncommitted record (0 when caught up).")),
          window_batches(r.add_gauge("syncline_ventilator_window_batches",
                                     "Batches in the window: unacknowledged, or acknowledged and not yet committed.")),
          in_flight_batches(r.add_gauge("syncline_ventilator_in_flight_batches",
                                        "Batches in the window not yet acknowledged.")),
          oldest_unacked_offset(r.add_gauge("syncline_ventilator_oldest_unacked_offset",
                                            "First offset of the oldest unacknowledged batch (0 when none).")),
          oldest_unacked_attempt(r.add_gauge("syncline_ventilator_oldest_unacked_attempt",
                                             "Deliveries of the oldest unacknowledged batch so far (0 = not sent).")),
          stalled_seconds(r.add_gauge("syncline_ventilator_stalled_seconds",
                                      "Seconds with work in flight and no commit (0 while progressing or idle).")),
          worker_in_flight(r.gauge_family("syncline_ventilator_worker_in_flight_batches",
                                          "Unacknowledged batches a worker confirmed receiving.", {"worker"})),
          worker_oldest(r.gauge_family("syncline_ventilator_worker_oldest_unacked_offset",
                                       "First offset of the oldest batch a worker holds (0 when none).", {"worker"})) {}

    metrics::counter &batches_sent, &records_sent, &records_filtered, &batches_redelivered, &records_redelivered, &bad_frames;
    metrics::gauge &committed_offset, &log_last_offset, &lag_records, &lag_seconds, &window_batches,
        &in_flight_batches, &oldest_unacked_offset, &oldest_unacked_attempt, &stalled_seconds;
    metrics::family<metrics::gauge> &worker_in_flight, &worker_oldest;
};

// A worker that holds nothing is forgotten (its series removed) this long after its last receipt:
// worker ids with a pid in them change on every restart.
constexpr auto forget_worker_after = std::chrono::minutes(5);
// The sink answers the hello heartbeat every second; this much silence makes the ventilator unready.
constexpr auto sink_silence_unready = std::chrono::seconds(5);
constexpr auto metrics_interval = std::chrono::milliseconds(250);
// The tail interval when the log's writes cannot wake the ventilator (no inotify): it then finds
// appends only by polling, so it polls at least this often.
constexpr auto polling_tail_interval = std::chrono::milliseconds(10);

class ventilator_loop {
public:
    ventilator_loop(const ventilator_options& options, std::unique_ptr<store::change_log> log,
                    metrics::registry& registry, metrics::health& health)
        : _options(options), _log(std::move(log)), _window(options.window),
          _context(1), _work(_context, zmq::socket_type::push), _control(_context, zmq::socket_type::dealer),
          _metrics(registry), _health(health) {
        std::random_device rd;
        _epoch = (static_cast<std::uint64_t>(rd()) << 32) | rd();
        // New appends wake the loop at once; without a watch it finds them on the tail interval.
        auto watch = store::wal_watch::open(_options.log);
        if (watch.ok()) {
            _watch.emplace(std::move(watch.value()));
        } else {
            _tail_interval = std::min(_tail_interval, polling_tail_interval);
            log_vent.warn("no append notifications: polling the log",
                          {{"interval_ms", _tail_interval.count()}, {"error", watch.get_status().message()}});
        }
    }

    status run(const stop_flag& stop) {
        // Workers hold at most a couple of batches each in socket buffers: the window, not
        // the HWM, holds the work, so a dead worker strands little and timeouts recover it.
        auto channels = runtime::open_channels(
            _context, _options.curve, log_vent,
            {{&_work, "work", _options.work, {.send_hwm = 2, .recv_hwm = 2, .immediate = true}}},
            {{&_control, "control", _options.control, {.send_hwm = 10'000, .recv_hwm = 1000, .immediate = false}}});
        if (!channels.ok()) return channels.get_status();
        _zap = std::move(channels->zap);
        log_vent.info("started", {{"pipeline", _options.pipeline}, {"log", _options.log},
                                  {"batch_records", _options.batch_records}, {"batch_bytes", _options.batch_bytes},
                                  {"window", _options.window.max_batches},
                                  {"ack_timeout_ms", _options.window.ack_timeout.count()},
                                  {"collections", _options.filter.collections.empty() ? std::string("*") : join(_options.filter.collections)},
                                  {"ops", !_options.filter.deletes ? "upsert" : !_options.filter.upserts ? "delete" : "upsert,delete"},
                                  {"ordering", _options.order == ordering::key ? "key" : "none"}});
        channels->log_listening(log_vent);

        _health.set_ready(false, "waiting for the sink at " + _options.control);
        if (!wait_for_resume(stop)) {
            log_vent.info("stopped before the sink answered");
            return {};
        }
        log_vent.info("resuming at", {{"offset", _next}, {"committed", _committed}});

        std::optional<clock::time_point> drain_deadline;
        _progress_at = clock::now();
        auto next_stall_warning = _progress_at + _options.stall_warning;
        std::uint64_t last_committed = _committed;
        while (true) {
            const auto now = clock::now();
            _health.beat();
            if (stop.stop_requested() && !drain_deadline) {
                drain_deadline = now + _options.drain_timeout;
                log_vent.info("stopping: draining", {{"in_flight", _window.size()}});
            }
            if (_options.to != 0 && _committed >= _options.to) {
                log_vent.info("bounded pass complete: reached", {{"offset", _options.to}});
                break;
            }
            if (drain_deadline) {
                if (_window.empty()) break;
                if (now >= *drain_deadline) {
                    log_vent.warn("drain timeout: " + std::to_string(_window.size()) +
                                  " batches still in flight are redelivered after restart");
                    break;
                }
            }

            bool more_to_read = false;
            if (!drain_deadline) {
                auto filled = fill_window(now);
                if (!filled.ok()) return filled.get_status();
                more_to_read = *filled;
            }
            auto sent = send_due(now);
            if (!sent.ok()) return sent.get_status();
            const bool blocked = !*sent;

            if (_committed != last_committed || _window.empty()) {
                last_committed = _committed;
                _progress_at = now;
                next_stall_warning = now + _options.stall_warning;
            } else if (now >= next_stall_warning) {
                warn_stalled(now - _progress_at);
                next_stall_warning = now + _options.stall_warning;
            }
            if (now >= _next_hello) send_hello(now);
            if (now >= _next_metrics) publish_metrics(now);

            // Sleep only when there is nothing to do right now.
            milliseconds wait = more_to_read && _window.has_room() && !blocked ? milliseconds(0) : milliseconds(100);
            if (!more_to_read) wait = std::min(wait, _tail_interval);
            if (auto d = _window.next_deadline()) wait = std::min(wait, until(*d, now));
            wait = std::min(wait, until(_next_hello, now));
            // Waiting for appends: the log's writer wakes us (wal_watch) before the tail interval.
            // (Not after a bounded pass read its last offset: events would wake it for nothing.)
            const bool tailing = !drain_deadline && !more_to_read && _window.has_room() &&
                                 !(_options.to != 0 && _next > _options.to);
            SYNCLINE_RETURN_IF_ERROR(poll_control(wait, blocked, tailing));
        }
        publish_metrics(clock::now());
        std::vector<log_field> fields{{"committed", _committed}, {"next", _next}, {"batches_sent", _batches_sent},
                                      {"records_sent", _records_sent}, {"records_filtered", _records_filtered},
                                      {"redeliveries", _window.redeliveries()},
                                      {"bad_frames", _dropped.total()}};
        if (_zap) _zap->append_fields(fields);
        fields.emplace_back("peak_rss_kb", peak_rss_kb());
        log_vent.write(log_level::info, "stopped", fields);
        return {};
    }

private:
    // Says hello until the sink answers with the committed offset. False if stopped first.
    bool wait_for_resume(const stop_flag& stop) {
        while (!stop.stop_requested()) {
            const auto now = clock::now();
            _health.beat();
            if (now >= _next_hello) {
                send_hello(now);
                if (_hellos_sent > 1 && _hellos_sent % 5 == 0)
                    log_vent.warn("waiting for the sink at " + _options.control);
            }
            if (!poll_control(milliseconds(100), false).ok()) continue;
            if (_sink_epoch != 0) return true;
        }
        return false;
    }

    void send_hello(clock::time_point now) {
        wire::hello h{_options.pipeline, _epoch};
        zmqx::send(_control, wire::encode(h));
        ++_hellos_sent;
        _next_hello = now + std::chrono::seconds(1);
    }

    // Cuts batches while the window has room. True when the log may hold more right now.
    result<bool> fill_window(clock::time_point now) {
        while (_window.has_room()) {
            if (_options.to != 0 && _next > _options.to) return false;
            if (_next > _log->last_offset()) {
                // Consumed before catching up: an append after the catch-up raises a new event.
                const bool appended = _watch && _watch->consume();
                if (now < _next_catch_up && !appended) return false;
                _next_catch_up = now + _tail_interval;
                SYNCLINE_RETURN_IF_ERROR(_log->catch_up().with_context("tail " + _options.log));
                if (_next > _log->last_offset()) return false;
            }
            std::size_t max_records = _options.batch_records;
            if (_options.to != 0) max_records = std::min<std::uint64_t>(max_records, _options.to - _next + 1);
            auto cut = read_batch(_next, max_records);
            if (!cut.ok()) return cut.get_status();
            if (cut->offsets.first == 0) return false;  // Nothing read (a batch may send 0 records: filtered).
            const wire::range offsets = cut->offsets;
            _records_filtered += cut->filtered;
            _metrics.records_filtered.inc(cut->filtered);
            _window.add(++_batch_seq, offsets, cut->count, std::move(cut->body), std::move(cut->lanes));
            _next = offsets.last + 1;
        }
        return true;
    }

    struct cut_batch {
        wire::range offsets;          // Every offset read, the filtered ones included.
        std::uint32_t count = 0;      // Records in the body (the range's size less the filtered).
        std::uint64_t filtered = 0;
        std::string body;
        std::vector<std::uint64_t> lanes;  // --ordering key: sorted, unique.
    };

    // Reads up to `max_records` stored records from `from` into a batch body, byte for byte,
    // leaving out the records the filter rejects (their offsets stay in the range). With
    // --ordering key a batch holds at most one change per key: it ends before a key repeats.
    // not_found when the log no longer holds `from` (trimmed below an uncommitted offset).
    result<cut_batch> read_batch(std::uint64_t from, std::size_t max_records) {
        codec::batch_body_builder builder;
        cut_batch out;
        const bool select_all = _options.filter.selects_all();
        const bool by_key = _options.order == ordering::key;
        std::unordered_set<std::uint64_t> lanes_seen;
        bool alone = false;  // The batch holds an undecodable record: nothing more joins it.
        auto scanned = _log->scan(from, max_records, _options.batch_bytes,
                                  [&](std::uint64_t offset, std::string_view encoded) {
                                      if (!select_all || by_key) {
                                          // An undecodable record is sent as it is: the worker
                                          // dead-letters it with the reason.
                                          if (alone) return false;  // After an undecodable record.
                                          auto r = codec::decode_record(encoded);
                                          // An undecodable record goes in a batch of its own: the
                                          // worker places it by its body index, which equals its
                                          // offset only in a batch without gaps.
                                          if (!r.ok()) {
                                              if (out.offsets.first != 0) return false;
                                              alone = true;
                                          }
                                          if (r.ok() && !_options.filter.matches(r->collection, r->operation)) {
                                              if (out.offsets.first == 0) out.offsets.first = offset;
                                              out.offsets.last = offset;
                                              ++out.filtered;
                                              return true;
                                          }
                                          if (r.ok() && by_key) {
                                              const auto lane = key_lane(r->collection, r->key);
                                              if (!lanes_seen.insert(lane).second) return false;  // Repeats: next batch.
                                              out.lanes.push_back(lane);
                                          }
                                      }
                                      if (out.offsets.first == 0) out.offsets.first = offset;
                                      out.offsets.last = offset;
                                      builder.add(encoded);
                                      return true;
                                  });
        if (!scanned.ok()) return scanned.get_status().with_context("read " + _options.log);
        if (out.offsets.first == 0) return out;
        if (out.offsets.first != from)
            return status{errc::not_found,
                          "the log no longer holds offsets " + std::to_string(from) + ".." +
                              std::to_string(out.offsets.first - 1) + " (trimmed) that pipeline " +
                              _options.pipeline + " has not committed"};
        out.count = static_cast<std::uint32_t>(builder.count());
        out.body = builder.finish();
        std::sort(out.lanes.begin(), out.lanes.end());
        return out;
    }

    // Sends every due batch the sockets take now. False when a send would block.
    result<bool> send_due(clock::time_point now) {
        auto next = [&] { return _options.order == ordering::key ? _window.next_due_by_key(now) : _window.next_due(now); };
        while (in_flight_batch* b = next()) {
            if (b->body.empty()) {
                // Acknowledged before a sink restart, so its body was freed: cut it again.
                auto again = read_batch(b->offsets.first, b->offsets.last - b->offsets.first + 1);
                if (!again.ok()) return again.get_status();
                SYNCLINE_CHECK(again->offsets == b->offsets);
                b->body = std::move(again->body);
            }
            wire::batch header;
            header.pipeline = _options.pipeline;
            header.batch_id = b->batch_id;
            header.offsets = b->offsets;
            header.attempt = b->attempt + 1;
            header.count = b->count;
            // Free room on the work socket first, so the announcement is not repeated for
            // nothing while the workers are busy.
            if (!work_has_room()) return false;
            // The sink accepts acks only for ranges announced here, before the batch leaves.
            zmqx::send(_control, wire::encode(wire::sent{_options.pipeline, {b->offsets}}));
            if (!zmqx::send(_work, wire::encode_header(header), b->body)) return false;
            if (b->attempt > 0 && _redelivery_log.allow())
                log_vent.warn("redelivering", {{"range", std::to_string(b->offsets.first) + ".." + std::to_string(b->offsets.last)},
                                               {"attempt", b->attempt + 1}});
            if (b->attempt > 0) {
                _metrics.batches_redelivered.inc();
                _metrics.records_redelivered.inc(b->count);
            }
            _window.mark_sent(*b, now);
            ++_batches_sent;
            _records_sent += b->count;
            _metrics.batches_sent.inc();
            _metrics.records_sent.inc(b->count);
        }
        return true;
    }

    bool work_has_room() {
        try {
            return (_work.get(zmq::sockopt::events) & ZMQ_POLLOUT) != 0;
        } catch (const zmq::error_t&) {
            return false;
        }
    }

    // Waits up to `wait` for control messages (or for the work socket to take more when
    // `blocked`), then applies every progress message that arrived.
    status poll_control(milliseconds wait, bool blocked, bool tailing = false) {
        zmq::pollitem_t items[] = {{_control.handle(), 0, ZMQ_POLLIN, 0},
                                   {_work.handle(), 0, static_cast<short>(blocked ? ZMQ_POLLOUT : 0), 0},
                                   {nullptr, _watch ? _watch->fd() : -1,
                                    static_cast<short>(tailing && _watch ? ZMQ_POLLIN : 0), 0}};
        SYNCLINE_RETURN_IF_ERROR(zmqx::poll(std::span(items, _watch ? 3 : 2), wait));
        runtime::drain(_control, 1000, false, _options.pipeline, _dropped, [&](wire::message& msg, const std::string&) {
            auto* p = std::get_if<wire::progress>(&msg);
            if (p == nullptr) { _dropped.drop("unexpected control message"); return; }
            apply(*p);
        });
        return {};
    }

    void apply(const wire::progress& p) {
        const auto now = clock::now();
        _sink_heard = now;
        if (p.sink_epoch != _sink_epoch) {
            if (_sink_epoch != 0) {
                log_vent.warn("sink restarted: re-arming " + std::to_string(_window.size()) + " in-flight batches");
                _window.on_sink_restart(now);
            } else {
                _committed = p.committed;
                _next = p.committed + 1;
            }
            _sink_epoch = p.sink_epoch;
        }
        if (p.committed > _committed) _committed = p.committed;
        _window.on_committed(_committed);
        for (const auto& r : p.acked) _window.on_acked(r, now);
        for (const auto& r : p.redeliver) _window.on_redeliver(r, now);
        for (const auto& held : p.received) {
            _window.on_received(held, now);
            _workers_seen[held.worker] = now;
        }
    }

    // Gauges are refreshed a few times a second (counters as things happen): cheap, and fresh
    // enough for any scrape interval.
    void publish_metrics(clock::time_point now) {
        _next_metrics = now + metrics_interval;
        const bool sink_answers = _sink_epoch != 0 && now - _sink_heard < sink_silence_unready;
        _health.set_ready(sink_answers, "no answer from the sink at " + _options.control);

        const std::uint64_t last = _log->last_offset();
        const std::uint64_t lag = last > _committed ? last - _committed : 0;
        _metrics.committed_offset.set(static_cast<double>(_committed));
        _metrics.log_last_offset.set(static_cast<double>(last));
        _metrics.lag_records.set(static_cast<double>(lag));
        _metrics.lag_seconds.set(lag == 0 ? 0.0 : oldest_uncommitted_age_seconds());
        _metrics.window_batches.set(static_cast<double>(_window.size()));
        _metrics.in_flight_batches.set(static_cast<double>(_window.unacked()));
        const auto* oldest = _window.oldest_unacked();
        _metrics.oldest_unacked_offset.set(oldest ? static_cast<double>(oldest->offsets.first) : 0.0);
        _metrics.oldest_unacked_attempt.set(oldest ? static_cast<double>(oldest->attempt) : 0.0);
        _metrics.stalled_seconds.set(_window.empty() ? 0.0 : std::chrono::duration<double>(now - _progress_at).count());

        struct held_by {
            std::size_t batches = 0;
            std::uint64_t oldest = 0;
        };
        std::map<std::string, held_by> holders;
        for (const auto& b : _window.batches()) {
            if (b.acked || b.holder.empty()) continue;
            auto& h = holders[b.holder];
            if (h.batches++ == 0) h.oldest = b.offsets.first;
        }
        for (auto it = _workers_seen.begin(); it != _workers_seen.end();) {
            const auto held = holders.find(it->first);
            if (held == holders.end() && now - it->second > forget_worker_after) {
                _metrics.worker_in_flight.remove({it->first});
                _metrics.worker_oldest.remove({it->first});
                it = _workers_seen.erase(it);
                continue;
            }
            const held_by h = held == holders.end() ? held_by{} : held->second;
            _metrics.worker_in_flight.with({it->first}).set(static_cast<double>(h.batches));
            _metrics.worker_oldest.with({it->first}).set(static_cast<double>(h.oldest));
            ++it;
        }
    }

    // Seconds since the record at committed + 1 was appended; the lookup is redone only when the
    // committed offset moves.
    double oldest_uncommitted_age_seconds() {
        if (_lag_time_offset != _committed + 1) {
            auto ts = _log->append_time(_committed + 1);
            if (!ts.ok() || !ts->has_value()) return 0.0;
            _lag_time_offset = _committed + 1;
            _lag_time_ms = **ts;
        }
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
        return std::max<double>(0.0, static_cast<double>(now_ms - _lag_time_ms) / 1000.0);
    }

    void warn_stalled(clock::duration quiet) {
        const auto* oldest = _window.oldest_unacked();
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(quiet).count();
        if (oldest == nullptr) {
            log_vent.warn("work in flight, no commit for " + std::to_string(secs) +
                          "s: all batches acknowledged, waiting for the sink to commit");
            return;
        }
        log_vent.warn("work in flight, no progress for " + std::to_string(secs) + "s",
                      {{"oldest_unacked_offset", oldest->offsets.first},
                       {"held_by", oldest->holder.empty() ? std::string("none") : oldest->holder},
                       {"attempt", oldest->attempt}, {"in_flight", _window.size()}});
    }

    const ventilator_options& _options;
    std::unique_ptr<store::change_log> _log;
    std::optional<store::wal_watch> _watch;  // Wakes the loop on appends; empty: poll only.
    milliseconds _tail_interval = _options.tail_interval;  // At most polling_tail_interval without _watch.
    send_window _window;
    zmq::context_t _context;
    zmq::socket_t _work;
    zmq::socket_t _control;
    std::unique_ptr<curve::zap_guard> _zap;  // Declared after the sockets: stopped before they close.
    std::uint64_t _epoch = 0;
    std::uint64_t _sink_epoch = 0;  // 0 until the sink first answers.
    std::uint64_t _committed = 0;
    std::uint64_t _next = 1;
    std::uint64_t _batch_seq = 0;
    clock::time_point _next_hello{};
    clock::time_point _next_catch_up{};
    std::uint64_t _hellos_sent = 0, _batches_sent = 0, _records_sent = 0, _records_filtered = 0;
    ventilator_metrics _metrics;
    metrics::health& _health;
    clock::time_point _progress_at{};       // Last commit, or last time the window was empty.
    clock::time_point _sink_heard{};        // Last progress message from the sink.
    clock::time_point _next_metrics{};
    std::map<std::string, clock::time_point> _workers_seen;  // Worker id -> last receipt.
    std::uint64_t _lag_time_offset = 0;     // The offset whose append time _lag_time_ms holds.
    std::int64_t _lag_time_ms = 0;
    drop_counter _dropped{log_vent, &_metrics.bad_frames};
    rate_limiter _redelivery_log;
};

}  // namespace

result<cli_outcome> parse_cli(int argc, const char* const* argv) {
    namespace po = cli::po;
    cli_outcome out;
    auto& o = out.options;
    std::size_t window = o.window.max_batches;
    long ack_timeout_ms = o.window.ack_timeout.count();
    std::string collections, ops, order = "none";
    long tail_ms = o.tail_interval.count(), drain_ms = o.drain_timeout.count(), stall_ms = o.stall_warning.count();
    po::options_description desc("ventilator options");
    desc.add_options()
        ("log", po::value(&o.log)->required(), "change log directory (read as a tailing secondary)")
        ("pipeline", po::value(&o.pipeline)->default_value(o.pipeline), "pipeline name")
        ("work", po::value(&o.work)->default_value(o.work), "endpoint(s) to bind for workers (PUSH), comma-separated")
        ("control", po::value(&o.control)->default_value(o.control), "the sink's control endpoint to connect to")
        ("batch-records", po::value(&o.batch_records)->default_value(o.batch_records), "max records per batch")
        ("batch-bytes", po::value(&o.batch_bytes)->default_value(o.batch_bytes), "max bytes per batch")
        ("window", po::value(&window)->default_value(window), "max batches in flight")
        ("ack-timeout-ms", po::value(&ack_timeout_ms)->default_value(ack_timeout_ms), "redeliver a batch not acknowledged within this")
        ("tail-interval-ms", po::value(&tail_ms)->default_value(tail_ms),
         "how often to look for new appends that no notification announced (the log's writes wake the "
         "ventilator at once; without inotify it polls at least every 10 ms)")
        ("drain-timeout-ms", po::value(&drain_ms)->default_value(drain_ms), "on stop, how long to wait for in-flight commits")
        ("stall-warning-ms", po::value(&stall_ms)->default_value(stall_ms), "warn when nothing commits for this long")
        ("to", po::value(&o.to), "bounded pass: stop at this offset and exit 0 once it is committed")
        ("collections", po::value(&collections)->value_name("GLOB[,GLOB...]"),
         "send only records of these collections (fnmatch globs); the others count as done unsent")
        ("ops", po::value(&ops)->value_name("upsert|delete"), "send only these operations (upsert, delete or both)")
        ("ordering", po::value(&order)->default_value(order)->value_name("none|key"),
         "key: at most one change per key in flight, so receivers see each key's changes in offset order");
    metrics::add_endpoint_options(desc, o.metrics);
    curve::curve_options curve_flags;
    curve::add_cli_options(desc, curve_flags, curve::role::server_and_client);
    auto parsed = cli::parse(argc, argv, desc, "usage: syncline-ventilator --log DIR [--pipeline NAME] [options]");
    if (!parsed.ok()) return parsed.get_status();
    out.exit_now = parsed->exit_now;
    if (out.exit_now) return out;
    SYNCLINE_RETURN_IF_ERROR(cli::validate_name("--pipeline", o.pipeline));
    SYNCLINE_RETURN_IF_ERROR(cli::validate_endpoint_list("--work", o.work));
    SYNCLINE_RETURN_IF_ERROR(cli::validate_endpoint("--control", o.control));
    SYNCLINE_RETURN_IF_ERROR(metrics::validate_endpoint_options(o.metrics));
    SYNCLINE_RETURN_IF_ERROR(parse_collections(collections, o.filter));
    SYNCLINE_RETURN_IF_ERROR(parse_ops(ops, o.filter));
    auto ordered = parse_ordering(order);
    if (!ordered.ok()) return ordered.get_status();
    o.order = *ordered;
    auto in_range = [](const char* name, long v, long lo, long hi) -> status {
        if (v < lo || v > hi)
            return status{errc::invalid_argument, std::string(name) + " must be between " + std::to_string(lo) +
                                                      " and " + std::to_string(hi)};
        return {};
    };
    SYNCLINE_RETURN_IF_ERROR(in_range("--batch-records", static_cast<long>(o.batch_records), 1, 100'000));
    SYNCLINE_RETURN_IF_ERROR(in_range("--batch-bytes", static_cast<long>(o.batch_bytes), 1, static_cast<long>(limits::max_batch_bytes)));
    SYNCLINE_RETURN_IF_ERROR(in_range("--window", static_cast<long>(window), 1, 10'000));
    SYNCLINE_RETURN_IF_ERROR(in_range("--ack-timeout-ms", ack_timeout_ms, 10, 3'600'000));
    SYNCLINE_RETURN_IF_ERROR(in_range("--tail-interval-ms", tail_ms, 1, 10'000));
    SYNCLINE_RETURN_IF_ERROR(in_range("--drain-timeout-ms", drain_ms, 0, 3'600'000));
    SYNCLINE_RETURN_IF_ERROR(in_range("--stall-warning-ms", stall_ms, 100, 86'400'000));
    o.window.max_batches = window;
    o.window.ack_timeout = milliseconds(ack_timeout_ms);
    o.tail_interval = milliseconds(tail_ms);
    o.drain_timeout = milliseconds(drain_ms);
    o.stall_warning = milliseconds(stall_ms);
    auto keys = curve::load(curve_flags, curve::role::server_and_client);
    if (!keys.ok()) return keys.get_status();
    o.curve = std::move(keys.value());
    return out;
}

std::vector<std::string> to_argv(const ventilator_options& o) {
    const ventilator_options defaults;
    std::vector<std::string> argv{"--log", o.log, "--pipeline", o.pipeline, "--work", o.work, "--control", o.control};
    auto number = [&](const char* flag, auto value, auto default_value) {
        if (value != default_value) argv.insert(argv.end(), {flag, std::to_string(value)});
    };
    number("--batch-records", o.batch_records, defaults.batch_records);
    number("--batch-bytes", o.batch_bytes, defaults.batch_bytes);
    number("--window", o.window.max_batches, defaults.window.max_batches);
    number("--ack-timeout-ms", o.window.ack_timeout.count(), defaults.window.ack_timeout.count());
    number("--tail-interval-ms", o.tail_interval.count(), defaults.tail_interval.count());
    number("--drain-timeout-ms", o.drain_timeout.count(), defaults.drain_timeout.count());
    number("--stall-warning-ms", o.stall_warning.count(), defaults.stall_warning.count());
    number("--to", o.to, defaults.to);
    if (!o.filter.collections.empty()) argv.insert(argv.end(), {"--collections", join(o.filter.collections)});
    if (o.filter.upserts != o.filter.deletes) argv.insert(argv.end(), {"--ops", o.filter.upserts ? "upsert" : "delete"});
    if (o.order != defaults.order) argv.insert(argv.end(), {"--ordering", o.order == ordering::key ? "key" : "none"});
    metrics::append_endpoint_argv(o.metrics, argv);
    return argv;
}

status run(const ventilator_options& options, const stop_flag& stop) {
    auto log = store::change_log::open_reader(options.log);
    if (!log.ok()) return log.get_status();
    runtime::observability observed(metrics::const_labels{{"pipeline", options.pipeline}});
    ventilator_loop loop(options, std::move(log.value()), observed.registry, observed.health);
    SYNCLINE_RETURN_IF_ERROR(observed.serve(options.metrics, "ventilator"));
    return loop.run(stop);
}

}  // namespace syncline::ventilator
