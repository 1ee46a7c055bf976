#pragma once
// sink/sink_state.h: everything the sink knows between two commits (docs/architecture.md
// "Delivery"): the ranges the ventilator announced, the acknowledged ranges above the watermark
// (watermark_tracker), the dead letters waiting for the next commit, the news for the next
// progress message, and when each worker was last heard from. The sink's loop (sink.cc) feeds it
// decoded messages of its own pipeline; this class owns the state store and commits to it.
// Pure logic over the state store and (with --log) a reader of the change log; no sockets.
// Errors: commit() returns the store's failure; on_ack() returns a failure to read the log for a
// dead letter's copy of its record (the sink stops rather than dead-letter without the record).
// Not thread-safe: one loop calls it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/wire.h"
#include "sink/sink.h"
#include "sink/watermark.h"
#include "store/change_log.h"
#include "store/state_store.h"

namespace syncline::sink {

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
inline constexpr auto forget_worker_after = std::chrono::hours(1);

// Everything the sink knows between two commits.
class sink_state {
public:
    sink_state(const sink_options& options, std::unique_ptr<store::state_store> store, std::uint64_t committed,
               sink_metrics& m);

    // The ventilator announced the ranges it is sending. With --log, a range past the log's last
    // offset is refused: the ventilator only sends what the log holds. One past what this sink's
    // view of the log shows waits for verify_announcements() (one catch-up for all the
    // announcements since the last, not one per announcement: catching up costs milliseconds).
    // Errors: as on_ack, for the acks it releases.
    status on_sent(const wire::sent& m);

    // Announcements past the log's end as last seen: caught up once, then accepted, kept for
    // another tick, or (still past the end after 5 s) refused as forged. The ventilator announces
    // only what it read from the log, so one catch-up after an announcement arrives sees it: a
    // catch-up runs when a new one came since the last, else only on the housekeeping `tick`
    // (a forged range never makes the sink catch up more often than that).
    // Errors: as on_ack, for the acks it releases.
    status verify_announcements(bool tick);

    // An ack counts only for a range the ventilator announced sending (wire::sent): anyone who
    // can reach the acks socket could otherwise commit any range (docs/security.md "Forged acks").
    // One that comes before its announcement (the two travel different sockets) is held.
    // Errors: reading the log for a dead letter's copy of a refused record failed (the ack is
    // then not counted: its batch is redelivered, and nothing commits past the record).
    status on_ack(const wire::ack& a);

    void on_nack(const wire::nack& n);

    // A worker took a batch: the ventilator learns who holds it (its stall watchdog names them).
    void on_receipt(const wire::receipt& r);

    // True when commit() has something to do now: the watermark moved, dead letters wait, or
    // new announcements wait for a catch-up of the log.
    bool commit_due() const;

    // Writes the watermark and the dead letters in one synced batch when either changed. Errors:
    // the store's, or on_ack's for acks released by announcements verified now. `tick`: the
    // periodic housekeeping call (re-checks announcements still unverified).
    status commit(bool tick = true);

    // Publishes when each worker was last heard from, at most once a second per worker, and
    // forgets workers silent for long.
    void publish_workers();

    // The progress message to send the ventilator, if there is news (or `force`).
    std::optional<wire::progress> take_news(bool force);

    std::uint64_t committed() const { return _committed; }
    std::vector<log_field> summary_fields() const;

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

    void accept_announcement(const wire::range& r);

    // Acks that came before their announcement.
    status release_held();

    bool announced(const wire::range& r) const;

    // The log's last offset as this sink's reader last saw it, when the sink has --log.
    std::optional<std::uint64_t> log_last_offset() {
        if (!open_log()) return std::nullopt;
        return _log->last_offset();
    }

    bool open_log();

    void seen(const std::string& worker);

    // One error per stopping offset (then a rate-limited warning per redelivery).
    void report_stop(const wire::record_failure& failure, std::uint32_t attempt);

    result<store::dead_letter> dead_letter_for(const wire::record_failure& failure, std::uint32_t attempts);

    // The record as stored in the log, so a dead letter can be inspected and retried even
    // after the log is trimmed. Empty when the sink runs without --log or the log no longer holds
    // it; the log's error (corruption, io_error) when reading it fails.
    result<std::string> stored_record(std::uint64_t offset);

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

}  // namespace syncline::sink
