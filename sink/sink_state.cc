#include "sink/sink_state.h"

#include <random>

namespace syncline::sink {
namespace {

const logger log_sink("sink");

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

sink_state::sink_state(const sink_options& options, std::unique_ptr<store::state_store> store, std::uint64_t committed,
                       sink_metrics& m)
    : _options(options), _store(std::move(store)), _tracker(committed), _committed(committed),
      _epoch(std::random_device{}() * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint64_t>(now_ms())), _m(m) {
    _m.committed_offset.set(static_cast<double>(committed));
}

status sink_state::on_sent(const wire::sent& m) {
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
    return release_held();
}

status sink_state::verify_announcements(bool tick) {
    if (_unverified.empty() || !open_log()) return {};
    if (!_unverified_new && !tick) return {};
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
    return release_held();
}

status sink_state::on_ack(const wire::ack& a) {
    if (!announced(a.offsets)) {
        if (a.offsets.last <= _committed) return {};
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
        return {};
    }
    const std::size_t dead_letters_before = _pending_dead.size();
    wire::range done = a.offsets;
    const wire::record_failure* first_refused = nullptr;
    for (const auto& failure : a.failures) {
        if (failure.offset < a.offsets.first || failure.offset > a.offsets.last) continue;
        if (failure.offset <= _committed) continue;
        if (_options.on_failure == failure_policy::dlq) {
            auto dead = dead_letter_for(failure, a.attempt);
            if (!dead.ok()) {
                // Not counted: the batch is redelivered (and nothing commits past the record).
                _pending_dead.resize(dead_letters_before);
                return dead.get_status();
            }
            _pending_dead.push_back(std::move(dead.value()));
        } else if (!first_refused || failure.offset < first_refused->offset)
            first_refused = &failure;
    }
    ++_acks;
    _m.batches_acked.inc();
    _m.records_acked.inc(a.offsets.last - a.offsets.first + 1);
    seen(a.worker);
    if (first_refused) {
        // Policy stop: only what precedes the first refused record counts as done, so the
        // watermark stays below it and the ventilator keeps its batch in flight (redelivered
        // with backoff) until the target takes it or an operator skips it.
        report_stop(*first_refused, a.attempt);
        done.last = first_refused->offset - 1;
        if (done.last < done.first) return {};
    }
    _tracker.acknowledge(done.first, done.last);
    if (done.last > _committed) _news.acked.push_back(done);
    return {};
}

void sink_state::on_nack(const wire::nack& n) {
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

void sink_state::on_receipt(const wire::receipt& r) {
    _m.receipts.inc();
    seen(r.worker);
    // Not filtered by announcement either (it often overtakes it): receipts only name holders.
    if (r.offsets.last > _committed) _news.received.push_back({r.offsets, r.attempt, r.worker});
}

bool sink_state::commit_due() const {
    return _tracker.watermark() != _committed || !_pending_dead.empty() || (_unverified_new && !_unverified.empty());
}

status sink_state::commit(bool tick) {
    SYNCLINE_RETURN_IF_ERROR(verify_announcements(tick));
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

void sink_state::publish_workers() {
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

std::optional<wire::progress> sink_state::take_news(bool force) {
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

std::vector<log_field> sink_state::summary_fields() const {
    return {{"committed", _committed}, {"acks", _acks}, {"nacks", _nacks}, {"dead_lettered", _dead_lettered},
            {"commits", _commits}, {"pending_ranges", _tracker.pending_ranges()}};
}

void sink_state::accept_announcement(const wire::range& r) {
    if (_sent.size() >= max_sent_ranges && !_sent.count(r.first)) {
        _m.bad_frames.inc();
        return;
    }
    _sent[r.first] = r.last;
}

status sink_state::release_held() {
    if (_held.empty()) return {};
    std::vector<wire::ack> held;
    held.swap(_held);
    _held_bytes = 0;
    for (auto& a : held) SYNCLINE_RETURN_IF_ERROR(on_ack(a));
    return {};
}

bool sink_state::announced(const wire::range& r) const {
    const auto it = _sent.find(r.first);
    return it != _sent.end() && it->second == r.last;
}

bool sink_state::open_log() {
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

void sink_state::seen(const std::string& worker) {
    auto& w = _workers[worker];
    w.heard = std::chrono::steady_clock::now();
    w.heard_unix_ms = now_ms();
}

void sink_state::report_stop(const wire::record_failure& failure, std::uint32_t attempt) {
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

result<store::dead_letter> sink_state::dead_letter_for(const wire::record_failure& failure, std::uint32_t attempts) {
    store::dead_letter d;
    d.offset = failure.offset;
    d.error = failure.reason;
    d.attempts = attempts;
    d.ts_ms = now_ms();
    auto stored = stored_record(failure.offset);
    if (!stored.ok()) return stored.get_status();
    d.record = std::move(stored.value());
    return d;
}

result<std::string> sink_state::stored_record(std::uint64_t offset) {
    if (!open_log()) return std::string();
    auto find = [&]() -> result<std::string> {
        std::string found;
        auto scanned = _log->scan(offset, 1, 1, [&](std::uint64_t at, std::string_view bytes) {
            if (at == offset) found.assign(bytes);
            return false;
        });
        if (!scanned.ok())
            return scanned.get_status().with_context("reading offset " + std::to_string(offset) + " for its dead letter");
        return found;
    };
    // Catching up replays the writer's recent WAL, which takes milliseconds: only when the
    // record is not visible yet (a refused batch of 1000 records would otherwise catch up
    // 1000 times, stalling the sink for seconds).
    auto found = find();
    if (!found.ok() || !found->empty()) return found;
    // A failed catch-up leaves the view as it was: the record is then not found (trimmed, or
    // the reader cannot see it), as without a catch-up.
    if (_log->catch_up().ok()) return find();
    return found;
}

}  // namespace syncline::sink
