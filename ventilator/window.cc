#include "ventilator/window.h"

#include <algorithm>
#include <unordered_set>

#include "common/status.h"

namespace syncline::ventilator {

void send_window::add(std::uint64_t batch_id, wire::range offsets, std::uint32_t count, std::string body,
                      std::vector<std::uint64_t> lanes) {
    SYNCLINE_CHECK(offsets.first <= offsets.last);
    SYNCLINE_CHECK(_batches.empty() || _batches.back().offsets.last < offsets.first);
    in_flight_batch b;
    b.batch_id = batch_id;
    b.offsets = offsets;
    b.count = count;
    b.body = std::move(body);
    b.lanes = std::move(lanes);
    _batches.push_back(std::move(b));
}

in_flight_batch* send_window::next_due(clock::time_point now) {
    for (auto& b : _batches)
        if (!b.acked && (b.attempt == 0 || b.due <= now)) return &b;
    return nullptr;
}

in_flight_batch* send_window::next_due_by_key(clock::time_point now) {
    std::unordered_set<std::uint64_t> busy;  // Lanes of older unacknowledged batches.
    for (auto& b : _batches) {
        if (b.acked) continue;
        const bool blocked = std::any_of(b.lanes.begin(), b.lanes.end(), [&](std::uint64_t l) { return busy.contains(l); });
        if (!blocked && (b.attempt == 0 || b.due <= now)) return &b;
        busy.insert(b.lanes.begin(), b.lanes.end());
    }
    return nullptr;
}

void send_window::mark_sent(in_flight_batch& batch, clock::time_point now) {
    if (batch.attempt > 0) ++_redeliveries;
    ++batch.attempt;
    batch.holder.clear();  // Unknown until a worker confirms this attempt.
    batch.sent_at = now;
    batch.received_at.reset();
    batch.due = due_after(batch, now);
}

std::chrono::milliseconds send_window::effective_timeout() const noexcept {
    const auto configured = _options.ack_timeout;
    const auto adapted = std::chrono::milliseconds(static_cast<std::int64_t>(4 * _ewma_ack_ms));
    return std::clamp(adapted, configured, configured * _options.max_adaptive_factor);
}

clock::time_point send_window::due_after(const in_flight_batch& b, clock::time_point from) const {
    // Backoff protects a struggling target from a redelivery storm; the cap keeps a batch
    // that was lost with a dead worker from waiting long.
    const std::uint32_t factor = std::min<std::uint32_t>(1u << std::min<std::uint32_t>(b.attempt - 1, 16),
                                                         _options.max_backoff_factor);
    return from + effective_timeout() * factor;
}

std::optional<clock::time_point> send_window::next_deadline() const {
    std::optional<clock::time_point> earliest;
    for (const auto& b : _batches)
        if (!b.acked && b.attempt > 0 && (!earliest || b.due < *earliest)) earliest = b.due;
    return earliest;
}

std::size_t send_window::on_committed(std::uint64_t committed) {
    std::size_t dropped = 0;
    while (!_batches.empty() && _batches.front().offsets.last <= committed) {
        if (_batches.front().acked) --_acked;
        _batches.pop_front();
        ++dropped;
    }
    return dropped;
}

void send_window::on_acked(wire::range acked, clock::time_point now) {
    bool learned = false;
    for (auto& b : _batches) {
        if (b.acked || b.offsets.first < acked.first || b.offsets.last > acked.last) continue;
        b.acked = true;
        ++_acked;
        std::string().swap(b.body);
        if (b.attempt == 0 || now < b.sent_at) continue;
        const double ms = std::chrono::duration<double, std::milli>(now - b.sent_at).count();
        _ewma_ack_ms = _ewma_ack_ms == 0 ? ms : 0.75 * _ewma_ack_ms + 0.25 * ms;
        learned = true;
    }
    if (!learned) return;
    // The window adapts: batches in flight get the timeout in force now, never a shorter one.
    for (auto& b : _batches) {
        if (b.acked || b.attempt == 0) continue;
        b.due = std::max(b.due, due_after(b, b.received_at.value_or(b.sent_at)));
    }
}

void send_window::on_redeliver(wire::range range, clock::time_point now) {
    for (auto& b : _batches)
        if (!b.acked && b.attempt > 0 && b.offsets.first <= range.last && range.first <= b.offsets.last) b.due = now;
}

void send_window::on_sink_restart(clock::time_point now) {
    for (auto& b : _batches) {
        if (b.attempt == 0) continue;
        if (b.acked) --_acked;
        b.acked = false;
        b.due = now;
    }
}

void send_window::on_received(const wire::held_range& held, clock::time_point now) {
    for (auto& b : _batches) {
        if (b.offsets.first > held.offsets.first) break;
        if (b.offsets == held.offsets && b.attempt == held.attempt && !b.acked) {
            b.holder = held.worker;
            // Time queued at a busy worker does not count: the worker starts on it now.
            if (!b.received_at) {
                b.received_at = now;
                b.due = std::max(b.due, due_after(b, now));
            }
        }
    }
}

const in_flight_batch* send_window::oldest_unacked() const {
    for (const auto& b : _batches)
        if (!b.acked) return &b;
    return nullptr;
}

}  // namespace syncline::ventilator
