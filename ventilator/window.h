#pragma once
// ventilator/window.h: the bounded in-flight window of the ventilator (docs/architecture.md
// "Delivery"). Batches enter in offset order and leave only when the sink's committed watermark
// passes them; acknowledged batches wait there as bare ranges (their bodies freed, no redelivery
// timer), so a sink restart (which forgets acknowledgements above its watermark) can re-arm them.
// Flow control counts unacknowledged batches only: the commit interval does not throttle sending.
// A batch sent and not acknowledged within the ack timeout is due again, with exponential
// backoff per attempt. The timer restarts when the worker confirms receiving the batch (time
// queued at a busy worker does not count), and the timeout adapts to the deliveries observed:
// it is the larger of the configured one and 4x the recent (EWMA) time from send to ack, up
// to max_adaptive_factor x the configured one (docs/recovery.md, "Redelivery").
// Pure logic, no sockets; not thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/wire.h"

namespace syncline::ventilator {

using clock = std::chrono::steady_clock;

struct window_options {
    std::size_t max_batches = 32;                          // Unacknowledged batches. Default: 32.
    std::size_t max_acked_ranges = 1024;                   // Acknowledged, not yet committed. Default: 1024.
    std::chrono::milliseconds ack_timeout{10'000};         // First redelivery after this. Default: 10 s.
    std::uint32_t max_backoff_factor = 8;                  // Timeout grows x2 per attempt up to x8.
    std::uint32_t max_adaptive_factor = 30;                // Adapted timeout: at most x30 the configured one.
};

struct in_flight_batch {
    std::uint64_t batch_id = 0;
    wire::range offsets;
    std::uint32_t count = 0;
    std::string body;                 // The encoded batch body, kept for redelivery; freed once acked.
    std::uint32_t attempt = 0;        // Deliveries so far; 0 = never sent.
    clock::time_point due{};          // When it must be (re)sent if not acknowledged.
    clock::time_point sent_at{};      // When the current attempt was sent.
    std::optional<clock::time_point> received_at;  // When a worker confirmed receiving it.
    bool acked = false;
    std::string holder;               // The worker that confirmed receiving the current attempt; empty
                                      // until one does (in a socket queue, or lost with a dead worker).
    std::vector<std::uint64_t> lanes; // --ordering key: the key lanes of its records (sorted, unique).
};

class send_window {
public:
    explicit send_window(window_options options) : _options(options) {}

    bool has_room() const noexcept {
        return _batches.size() - _acked < _options.max_batches && _batches.size() < _options.max_acked_ranges;
    }
    bool empty() const noexcept { return _batches.empty(); }
    std::size_t size() const noexcept { return _batches.size(); }
    // Appends a batch; its first offset must follow the previous batch's last.
    // `count` may be below the range's size: filtered records leave gaps (docs/processing.md).
    void add(std::uint64_t batch_id, wire::range offsets, std::uint32_t count, std::string body,
             std::vector<std::uint64_t> lanes = {});

    // The oldest batch to send now (never sent, or unacknowledged past its due time); nullptr if none.
    in_flight_batch* next_due(clock::time_point now);
    // --ordering key: the same, skipping any batch that shares a lane with an older unacknowledged
    // batch (sent or not), so each key has at most one change in flight.
    in_flight_batch* next_due_by_key(clock::time_point now);
    // Records a delivery: attempt + 1 and the next due time (ack timeout x backoff).
    void mark_sent(in_flight_batch& batch, clock::time_point now);
    // The earliest due time among unacknowledged batches, for the poll timeout.
    std::optional<clock::time_point> next_deadline() const;

    // Drops batches wholly at or below the committed watermark; returns how many.
    std::size_t on_committed(std::uint64_t committed);
    // Marks batches wholly inside `acked` as acknowledged: no redelivery timer, body freed. Their
    // send-to-ack time feeds the adaptive timeout, which then applies to every batch in flight.
    void on_acked(wire::range acked, clock::time_point now = clock::now());
    // Makes unacknowledged batches overlapping `range` due at once (a worker nacked them).
    void on_redeliver(wire::range range, clock::time_point now);
    // The sink restarted and forgot acknowledgements above its watermark: all become due. Batches
    // whose body was freed must get it back (from the log) before they are sent.
    void on_sink_restart(clock::time_point now);

    // A worker confirmed receiving a delivery: it holds that batch until it acks or the batch is
    // sent again, and the batch's timer restarts now. Receipts for an older attempt or an unknown
    // range are ignored.
    void on_received(const wire::held_range& held, clock::time_point now = clock::now());

    // The ack timeout in force now: the configured one, or longer when deliveries are slow.
    std::chrono::milliseconds effective_timeout() const noexcept;

    // The oldest batch not yet acknowledged, for the stall watchdog.
    const in_flight_batch* oldest_unacked() const;
    // Every batch in the window, in offset order (metrics: in flight per worker).
    const std::deque<in_flight_batch>& batches() const noexcept { return _batches; }
    // Batches in the window not yet acknowledged (sent or not).
    std::size_t unacked() const noexcept { return _batches.size() - _acked; }
    std::uint64_t redeliveries() const noexcept { return _redeliveries; }

private:
    window_options _options;
    std::deque<in_flight_batch> _batches;  // Offset order.
    std::size_t _acked = 0;           // Batches in _batches marked acked.
    std::uint64_t _redeliveries = 0;
    double _ewma_ack_ms = 0;          // Recent send-to-ack time; 0 until the first ack.

    clock::time_point due_after(const in_flight_batch& b, clock::time_point from) const;
};

}  // namespace syncline::ventilator
