#pragma once
// cli/status.h: what `syncline status` computes from one or two observations of a pipeline (its
// stores, and the /metrics of its running processes): rate, ETA to catch up, and the stall
// watchdog's verdict. Pure functions, so they are tested without stores or sockets.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace syncline::cli {

// One observation of a pipeline.
struct pipeline_observation {
    std::string pipeline;
    bool running = false;                      // Its `syncline run` is alive, or a process holds its state lock.
    bool supervised = false;                   // Its `syncline run` is alive (run directory PID file).
    std::optional<std::uint64_t> committed;    // nullopt: never committed.
    std::optional<std::uint64_t> log_last;     // From --log or the ventilator; nullopt: unknown.
    std::optional<double> lag_seconds;         // Age of the oldest uncommitted record; nullopt: unknown.
    std::uint64_t dead_letters = 0;
    double taken_at = 0;                       // Seconds on a steady clock.

    // From the ventilator's /metrics, when it answered.
    bool ventilator_scraped = false;
    std::uint64_t in_flight = 0;               // Unacknowledged batches.
    double stalled_seconds = 0;                // Work in flight and no commit for this long.
    std::uint64_t oldest_unacked = 0;          // First offset of the oldest unacknowledged batch.
    std::uint32_t oldest_attempt = 0;          // Its deliveries so far (0 = not sent yet).
    std::string oldest_holder;                 // The worker that confirmed receiving it; empty if none.
    std::uint64_t records_sent = 0;            // Since the ventilator started, redeliveries included.
    std::uint64_t records_filtered = 0;        // Read and not sent (--collections, --ops): done unsent.
    // From the sink's /metrics: workers heard from within the last minute.
    std::vector<std::string> recent_workers;
    // Children `syncline run` restarted (RUN_DIR/restarts.json, the last run's when stopped);
    // nullopt when no `syncline run` ever ran it.
    std::optional<std::uint64_t> restarts;
    // From the capture's /metrics, when the pipeline runs one (run --capture-source; docs/capture.md).
    std::optional<double> capture_slot_lag_bytes;     // WAL the slot has not confirmed.
    std::optional<double> capture_retained_wal_bytes; // WAL the server keeps for the slot.
    std::optional<double> capture_lag_seconds;        // Source commit -> append of the last transaction.

    std::uint64_t lag_records() const {
        const std::uint64_t c = committed.value_or(0);
        return log_last && *log_last > c ? *log_last - c : 0;
    }
};

// Records committed per second between two observations; nullopt without a usable interval.
std::optional<double> commit_rate(const pipeline_observation& before, const pipeline_observation& after);
// Records appended per second between two observations (needs log_last in both).
std::optional<double> append_rate(const pipeline_observation& before, const pipeline_observation& after);

// Seconds to catch up at the net rate (commit rate minus append rate): 0 when there is no lag,
// nullopt when the pipeline does not gain on the log.
std::optional<double> eta_seconds(std::uint64_t lag_records, double commit_rate, double append_rate);

enum class health_state { stopped, caught_up, catching_up, stalled, unknown };

struct verdict {
    health_state state = health_state::unknown;
    std::string text;  // "in flight, no progress for 42 s: offset 812,001 held by worker w3 (attempt 3)"
    bool stalled() const { return state == health_state::stalled; }
};

// The watchdog: a running pipeline with work in flight and no commit for `stall_after` is stalled,
// and the verdict names the oldest unacknowledged offset and who holds it.
verdict judge(const pipeline_observation& o, std::chrono::seconds stall_after);

// "812,001".
std::string with_thousands(std::uint64_t n);
// "42 s", "5 min 3 s", "2 h 10 min", "3 d 4 h".
std::string human_duration(double seconds);

}  // namespace syncline::cli
