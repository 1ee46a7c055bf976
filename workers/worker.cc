#include "workers/worker.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <unistd.h>

#include <zmq.hpp>

#include "common/cli_options.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/runtime.h"
#include "common/wire.h"
#include "common/zmq_util.h"
#include "targets/target.h"
#include "workers/transform.h"
#include "workers/accept.h"

namespace syncline::workers {
using targets::delivery_outcome;
using targets::open_target;
using targets::target;
namespace {

const logger log_worker("worker");
using std::chrono::milliseconds;

std::string default_worker_id() {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return std::string(host) + ":" + std::to_string(getpid());
}

// What a worker exposes (docs/operations.md "Metrics" lists every metric).
struct worker_metrics {
    explicit worker_metrics(metrics::registry& r)
        : batches_received(r.add_counter("syncline_worker_batches_received_total", "Valid batches taken from the ventilator.")),
          records_received(r.add_counter("syncline_worker_records_received_total", "Records in the batches taken.")),
          batches_acked(r.add_counter("syncline_worker_batches_acked_total", "Batches delivered and acknowledged to the sink.")),
          records_delivered(r.add_counter("syncline_worker_records_delivered_total",
                                          "Records in acknowledged batches (refused ones included).")),
          records_failed(r.add_counter("syncline_worker_records_failed_total",
                                       "Records the target refused for good (reported for dead-lettering).")),
          batches_nacked(r.add_counter("syncline_worker_batches_nacked_total",
                                       "Batches given back to the sink undelivered (target unavailable, stopping).")),
          target_errors(r.add_counter("syncline_worker_target_errors_total",
                                      "Target calls that failed as a whole (transient: retried, then nacked).")),
          bad_frames(r.add_counter("syncline_worker_bad_frames_dropped_total",
                                   "Messages dropped as malformed, unexpected or for another pipeline.")),
          delivery_seconds(r.add_histogram("syncline_worker_delivery_duration_seconds",
                                           "Seconds per target call (one call delivers one or more batches).",
                                           metrics::latency_buckets())),
          in_flight(r.add_gauge("syncline_worker_in_flight_batches", "Batches this worker is delivering now.")),
          transform_failed(r.add_counter("syncline_worker_transform_failures_total",
                                         "Records the --transform script failed on (error, budget): dead-lettered.")),
          transform_dropped(r.add_counter("syncline_worker_transform_dropped_total",
                                          "Records the --transform script dropped (returned nil).")) {}

    metrics::counter &batches_received, &records_received, &batches_acked, &records_delivered, &records_failed,
        &batches_nacked, &target_errors, &bad_frames;
    metrics::histogram& delivery_seconds;
    metrics::gauge& in_flight;
    metrics::counter &transform_failed, &transform_dropped;
};

class worker_loop {
public:
    worker_loop(const worker_options& options, std::unique_ptr<target> t, std::unique_ptr<lua_transform> transform,
                worker_metrics& m, metrics::health& health)
        : _options(options), _target(std::move(t)), _transform(std::move(transform)), _context(1),
          _work(_context, zmq::socket_type::pull), _acks(_context, zmq::socket_type::push), _m(m), _health(health) {}

    status run(const stop_flag& stop) {
        // Few batches wait in this worker's queue: what waits here is lost if it dies, and is
        // held up if it is slow while another worker idles. A target's only writer has no one to
        // share with, so more may queue, and they join into bigger transactions (coalesce_records).
        // Acks queue deeply and survive a sink restart (no IMMEDIATE).
        // Both sockets drop a peer announcing a message over zmqx::max_message_bytes (the default).
        auto channels = runtime::open_channels(
            _context, _options.curve, log_worker, {},
            {{&_work, "work", _options.work, {.send_hwm = 2, .recv_hwm = _one_writer ? 32 : 2, .immediate = true}},
             {&_acks, "acks", _options.acks,
              {.send_hwm = 10'000, .recv_hwm = 2, .immediate = false, .linger = milliseconds(2000)}}},
            /*watch_refusals=*/true);
        if (!channels.ok()) return channels.get_status();
        // CURVE only: reconnects when a server refused us.
        _refusals = std::move(channels->refusals);
        log_worker.info("started", {{"id", _options.id}, {"pipeline", _options.pipeline},
                                    {"target", cli::redact_secrets("target", _options.target)}, {"work", _options.work},
                                    {"acks", _options.acks}});

        _health.set_ready(true);
        while (!stop.stop_requested()) {
            _health.beat();
            if (_refusals) _refusals->poll();
            auto got = zmqx::receive(_work, milliseconds(100));
            if (!got.ok()) { _dropped.drop(got.get_status().message()); continue; }
            if (!got->has_value()) continue;
            // Batches already waiting here join this one: one target round trip (one SQLite
            // transaction, one multi-row statement) for all of them, each still acked alone.
            std::vector<accepted> group;
            std::size_t records = accept(std::move(**got), group);
            while (_joins_batches && records < _coalesce_records) {
                auto more = zmqx::receive(_work, milliseconds(0));
                if (!more.ok()) { _dropped.drop(more.get_status().message()); continue; }
                if (!more->has_value()) break;
                records += accept(std::move(**more), group);
            }
            if (group.empty()) continue;
            _m.in_flight.set(static_cast<double>(group.size()));
            deliver(group, stop);
            _m.in_flight.set(0);
        }
        // Batches already queued to this worker would otherwise wait for the ack timeout.
        std::uint64_t returned = 0;
        while (runtime::drain(_work, 1000, false, _options.pipeline, _dropped, [&](wire::message& msg, const std::string&) {
            if (auto* b = std::get_if<wire::batch>(&msg)) {
                send_nack(*b, "worker stopping");
                ++returned;
            }
        }) > 0) {
        }
        log_worker.info("stopped", {{"batches", _batches}, {"records", _records}, {"nacks", _nacks},
                                    {"failed_records", _failed_records}, {"returned_on_stop", returned},
                                    {"bad_frames", _dropped.total()}, {"peak_rss_kb", peak_rss_kb()}});
        return {};
    }

private:
    // A valid batch with its decoded records; the views point into `frames`, kept at a stable
    // address (small ZeroMQ messages live inside the message object itself).
    struct accepted {
        std::unique_ptr<zmqx::received> frames;
        wire::batch header;
        std::vector<record_view> records;
        std::deque<record> owned;                       // Records a transform made (views point here).
        std::vector<wire::record_failure> undecodable;  // Records that did not decode, or that the
                                                        // transform failed on: dead-lettered with the ack.
    };

    // Validates one message and adds it to `group`; returns its record count (0 if dropped).
    std::size_t accept(zmqx::received&& received, std::vector<accepted>& group) {
        auto frames = std::make_unique<zmqx::received>(std::move(received));
        accepted_batch checked = accept_batch(frames->header_view(), frames->body_view(), _options.pipeline);
        if (checked.what == accepted_batch::verdict::drop) return _dropped.drop(checked.reason), 0;
        const wire::batch* b = &checked.header;
        if (checked.what == accepted_batch::verdict::dead_letter) {
            // The batch as a whole does not match its header: no record of it can be placed, and
            // redelivering cannot help, so every offset of the range is dead-lettered with the
            // reason rather than blocking the pipeline. accept_batch() checked that the range
            // holds at most one batch's worth of offsets (count of them, or more when filtered).
            _dropped.drop("batch " + range_text(b->offsets) + ": " + checked.reason);
            wire::ack a = ack_for(*b);
            for (std::uint64_t o = b->offsets.first;; ++o) {
                a.failures.push_back({o, "undecodable batch: " + checked.reason});
                if (o == b->offsets.last) break;
            }
            send_ack(std::move(a));
            return 0;
        }
        // Record by record: a record that does not decode is dead-lettered alone and its
        // neighbours are delivered (they decoded, so they are what the log holds).
        std::vector<wire::record_failure>& undecodable = checked.undecodable;
        if (!undecodable.empty()) {
            _dropped.drop("batch " + range_text(b->offsets) + ": " + std::to_string(undecodable.size()) +
                          " undecodable records, first " + undecodable.front().reason);
        }
        if (checked.records.empty()) {
            _failed_records += undecodable.size();
            _m.records_failed.inc(undecodable.size());
            wire::ack a = ack_for(*b);
            a.failures = std::move(undecodable);
            send_ack(std::move(a));
            return 0;
        }
        const std::size_t count = checked.records.size();
        _m.batches_received.inc();
        _m.records_received.inc(count);
        // Tells the ventilator (through the sink) who holds this delivery, for the stall watchdog.
        send(wire::encode(wire::receipt{b->pipeline, b->batch_id, b->offsets, b->attempt, _options.id}));
        accepted a{std::move(frames), std::move(checked.header), std::move(checked.records), {}, std::move(undecodable)};
        if (_transform) apply_transform(a);
        if (a.records.empty()) {
            // The transform dropped (or failed on) every record: nothing to deliver.
            ++_batches;
            _m.batches_acked.inc();
            wire::ack ack = ack_for(a.header);
            ack.failures = std::move(a.undecodable);
            _failed_records += ack.failures.size();
            _m.records_failed.inc(ack.failures.size());
            send_ack(std::move(ack));
            return 0;
        }
        const std::size_t out_count = a.records.size();
        group.push_back(std::move(a));
        return out_count;
    }

    // Runs the transform on every record of `a`: unchanged records keep their views into the
    // received frame (bytes exact); replaced ones point into `a.owned`; failures are dead-lettered
    // with the batch's ack. Outputs keep their source offset, in source order.
    void apply_transform(accepted& a) {
        std::vector<record_view> out;
        out.reserve(a.records.size());
        for (const auto& in : a.records) {
            auto result = _transform->apply(in);
            switch (result.what) {
            case lua_transform::outcome::kind::unchanged: out.push_back(in); break;
            case lua_transform::outcome::kind::failed:
                _m.transform_failed.inc();
                if (_transform_log.allow())
                    log_worker.warn("transform failed, record dead-lettered", {{"offset", in.offset}, {"reason", result.error}});
                a.undecodable.push_back({in.offset, std::move(result.error)});
                break;
            case lua_transform::outcome::kind::replaced:
                if (result.records.empty()) _m.transform_dropped.inc();
                for (auto& r : result.records) {
                    const record& kept = a.owned.emplace_back(std::move(r));
                    record_view v;
                    v.offset = kept.offset;
                    v.ts_ms = kept.ts_ms;
                    v.collection = kept.collection;
                    v.key = kept.key;
                    v.operation = kept.operation;
                    v.value = kept.value;
                    for (const auto& [k, hv] : kept.headers) v.headers.emplace_back(k, hv);
                    out.push_back(std::move(v));
                }
                break;
            }
        }
        a.records = std::move(out);
    }

    // Delivers a group of batches in one target call and acks (or nacks) each batch.
    void deliver(std::vector<accepted>& group, const stop_flag& stop) {
        // Offset order across the group too (targets.h promises it); redeliveries can come late.
        // Batches may overlap (a restarted ventilator re-cuts ranges while older batches still wait
        // here), so the joined records are ordered by first offset, not unique: targets that reduce
        // a call to one change per key keep the highest offset (targets/internal/rows.h), never the
        // last by position. Stable and total, so the same group always joins the same way.
        std::stable_sort(group.begin(), group.end(), [](const accepted& a, const accepted& b) {
            return std::pair(a.header.offsets.first, a.header.offsets.last) <
                   std::pair(b.header.offsets.first, b.header.offsets.last);
        });
        std::vector<record_view> all;
        if (group.size() > 1) {
            std::size_t total = 0;
            for (const auto& g : group) total += g.records.size();
            all.reserve(total);
            for (const auto& g : group) all.insert(all.end(), g.records.begin(), g.records.end());
        }
        auto outcome = deliver_with_retries(group.size() > 1 ? all : group.front().records, stop);
        if (!outcome.transient.ok()) {
            for (const auto& g : group) {
                if (g.header.attempt < _options.isolate_after_attempts || stop.stop_requested()) {
                    send_nack(g.header, outcome.transient.message());
                } else if (auto isolated = deliver_one_by_one(g)) {
                    send_ack(std::move(*isolated));
                } else {
                    send_nack(g.header, outcome.transient.message());
                }
            }
            return;
        }
        _failed_records += outcome.failures.size();
        _m.records_failed.inc(outcome.failures.size());
        for (const auto& g : group) {
            ++_batches;
            _records += g.records.size();
            _m.batches_acked.inc();
            _m.records_delivered.inc(g.records.size());
            wire::ack a = ack_for(g.header);
            a.failures = g.undecodable;
            _failed_records += g.undecodable.size();
            _m.records_failed.inc(g.undecodable.size());
            // Copied, not moved: batches of a group may overlap, so one failure can belong to
            // several acks. Once per offset: a record joined twice may be reported twice.
            for (const auto& f : outcome.failures)
                if (f.offset >= g.header.offsets.first && f.offset <= g.header.offsets.last) a.failures.push_back(f);
            if (group.size() > 1) {
                std::stable_sort(a.failures.begin(), a.failures.end(),
                                 [](const wire::record_failure& x, const wire::record_failure& y) { return x.offset < y.offset; });
                a.failures.erase(std::unique(a.failures.begin(), a.failures.end(),
                                             [](const wire::record_failure& x, const wire::record_failure& y) {
                                                 return x.offset == y.offset;
                                             }),
                                 a.failures.end());
            }
            send_ack(std::move(a));
        }
    }

    // A batch that keeps failing as a whole may hold one record the target cannot take (a poison
    // record). Delivered one record at a time, the records that still fail while their batch mates
    // go through are dead-lettered, so they stop holding the others back. If none goes through
    // the target itself is down (or the first three records fail: see below): nullopt, and the
    // batch is nacked to wait for the target, not dead-lettered.
    std::optional<wire::ack> deliver_one_by_one(const accepted& g) {
        wire::ack a = ack_for(g.header);
        a.failures = g.undecodable;
        std::size_t delivered = 0;
        for (std::size_t i = 0; i < g.records.size(); ++i) {
            auto outcome = timed_deliver(std::span<const record_view>(&g.records[i], 1));
            if (!outcome.transient.ok()) {
                // A target that says when to come back (HTTP 429/503 Retry-After), or whose
                // failure is its own state (errc::busy: a lock wait timeout, a deadlock, a 502,
                // unreachable), is not refusing this record: wait for it, never dead-letter.
                if (outcome.retry_after.count() > 0 || outcome.transient.code() == errc::busy) return std::nullopt;
                // Three failures before any success look like an outage, and each try may wait a
                // full target timeout: stop and let the batch wait for the target instead.
                if (delivered == 0 && i >= 2) return std::nullopt;
                a.failures.push_back({g.records[i].offset, "failed " + std::to_string(g.header.attempt) +
                                                               " deliveries, alone too: " + outcome.transient.message()});
                continue;
            }
            ++delivered;
            for (auto& f : outcome.failures) a.failures.push_back(std::move(f));
        }
        if (delivered == 0) return std::nullopt;
        log_worker.warn("batch " + range_text(g.header.offsets) + " isolated after " + std::to_string(g.header.attempt) +
                        " attempts: " + std::to_string(a.failures.size()) + " records dead-lettered");
        ++_batches;
        _records += g.records.size();
        _failed_records += a.failures.size();
        _m.batches_acked.inc();
        _m.records_delivered.inc(g.records.size());
        _m.records_failed.inc(a.failures.size());
        return a;
    }

    // One target call, timed into the latency histogram; a failing target makes the worker unready.
    delivery_outcome timed_deliver(std::span<const record_view> records) {
        const auto began = std::chrono::steady_clock::now();
        delivery_outcome outcome = _target->deliver(records);
        _m.delivery_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
        if (outcome.transient.ok()) {
            _health.set_ready(true);
        } else {
            _m.target_errors.inc();
            _health.set_ready(false, "target failing: " + outcome.transient.message());
        }
        return outcome;
    }

    delivery_outcome deliver_with_retries(const std::vector<record_view>& records, const stop_flag& stop) {
        milliseconds backoff = _options.retry_backoff;
        for (std::uint32_t attempt = 0;; ++attempt) {
            delivery_outcome outcome = timed_deliver(records);
            if (outcome.transient.ok()) return outcome;
            if (attempt >= _options.max_retries || stop.stop_requested()) return outcome;
            // The target's own Retry-After is the least wait; our backoff still grows beneath it.
            const milliseconds wait = std::max(backoff, outcome.retry_after);
            if (_retry_log.allow())
                log_worker.warn("target unavailable, retrying",
                                {{"attempt", attempt + 1}, {"delay_ms", wait.count()}, {"reason", outcome.transient.message()}});
            sleep_unless_stopped(wait, stop);
            backoff = std::min(backoff * 2, milliseconds(5000));
        }
    }

    void sleep_unless_stopped(milliseconds total, const stop_flag& stop) {
        const auto end = std::chrono::steady_clock::now() + total;
        while (!stop.stop_requested() && std::chrono::steady_clock::now() < end) {
            _health.beat();
            std::this_thread::sleep_for(std::min(milliseconds(50), total));
        }
    }

    wire::ack ack_for(const wire::batch& b) const {
        wire::ack a;
        a.pipeline = b.pipeline;
        a.batch_id = b.batch_id;
        a.offsets = b.offsets;
        a.attempt = b.attempt;
        a.worker = _options.id;
        return a;
    }

    void send_nack(const wire::batch& b, const std::string& reason) {
        ++_nacks;
        _m.batches_nacked.inc();
        wire::nack n{b.pipeline, b.batch_id, b.offsets, b.attempt, _options.id, scrub_secrets(reason)};
        send(wire::encode(n));
    }

    // Failure reasons quote the target's answers and become dead letters, shown by `syncline dlq`
    // in processes that never saw this worker's secrets: scrubbed here, at the source.
    void send_ack(wire::ack a) {
        for (auto& f : a.failures) f.reason = scrub_secrets(std::move(f.reason));
        send(wire::encode(a));
    }

    // Acks queue in the socket while the sink is away; if even that is full the ack is lost
    // and the ventilator's timeout redelivers the batch, which fencing makes harmless.
    void send(const wire::frames& frames) {
        if (!zmqx::send(_acks, frames, milliseconds(1000)) && _ack_log.allow())
            log_worker.warn("could not queue an ack for the sink at " + _options.acks);
    }

    static std::string range_text(wire::range r) { return std::to_string(r.first) + ".." + std::to_string(r.last); }

    const worker_options& _options;
    std::unique_ptr<target> _target;
    std::unique_ptr<lua_transform> _transform;  // --transform; null without one.
    // The registry's answer for this target's kind (open_target accepted the URI, so it has one).
    const bool _joins_batches = targets::find_target_kind(_options.target)->capabilities.joins_batches;
    const bool _one_writer = targets::find_target_kind(_options.target)->capabilities.max_writers == 1;
    const std::size_t _coalesce_records =
        _options.coalesce_records != 0 ? _options.coalesce_records : _one_writer ? 100'000 : 10'000;
    zmq::context_t _context;
    zmq::socket_t _work;
    zmq::socket_t _acks;
    std::unique_ptr<curve::refusal_watch> _refusals;  // CURVE only: reconnects when a server refused us.
    std::uint64_t _batches = 0, _records = 0, _nacks = 0, _failed_records = 0;
    worker_metrics& _m;
    metrics::health& _health;
    drop_counter _dropped{log_worker, &_m.bad_frames};
    rate_limiter _retry_log, _ack_log, _transform_log;
};

}  // namespace

result<cli_outcome> parse_cli(int argc, const char* const* argv) {
    namespace po = cli::po;
    cli_outcome out;
    auto& o = out.options;
    long backoff_ms = o.retry_backoff.count();
    po::options_description desc("worker options");
    desc.add_options()
        ("target", po::value(&o.target)->default_value(o.target), "target URI, one of the kinds listed above (docs/targets)")
        ("pipeline", po::value(&o.pipeline)->default_value(o.pipeline), "pipeline name")
        ("origin-pipeline", po::value(&o.origin_pipeline)->value_name("NAME"),
         "the pipeline the records belong to, from which channel ids derive (syncline replay sets it; default: --pipeline)")
        ("work", po::value(&o.work)->default_value(o.work), "the ventilator's work endpoint to connect to")
        ("acks", po::value(&o.acks)->default_value(o.acks), "the sink's acks endpoint to connect to")
        ("id", po::value(&o.id), "worker id reported in acks (default host:pid)")
        ("max-retries", po::value(&o.max_retries)->default_value(o.max_retries), "transient target failures retried before a nack")
        ("isolate-after-attempts", po::value(&o.isolate_after_attempts)->default_value(o.isolate_after_attempts),
         "from this delivery attempt on, a batch that still fails is retried record by record and the records "
         "that fail alone while others succeed are dead-lettered")
        ("retry-backoff-ms", po::value(&backoff_ms)->default_value(backoff_ms), "first retry delay, doubled per retry up to 5 s")
        ("transform", po::value(&o.transform)->value_name("FILE.lua"),
         "run transform(rec) of this Lua 5.4 script on every record: return it, nil to drop, a list to split "
         "(docs/processing.md)")
        ("transform-max-instructions", po::value(&o.transform_max_instructions)->default_value(o.transform_max_instructions),
         "Lua instructions per record before the record is dead-lettered")
        ("transform-max-memory-mb", po::value(&o.transform_max_memory_mb)->default_value(o.transform_max_memory_mb),
         "memory cap of the Lua state; a record that needs more is dead-lettered")
        ("coalesce-records", po::value(&o.coalesce_records)->default_value(o.coalesce_records),
         "deliver batches already queued here together, up to this many records (1 = one batch at a time; "
         "0 = by target: 100000 for a target with one writer such as sqlite:, 10000 for the others)");
    metrics::add_endpoint_options(desc, o.metrics);
    curve::curve_options curve_flags;
    curve::add_cli_options(desc, curve_flags, curve::role::client);
    const std::string usage = "usage: syncline-worker --target URI [--pipeline NAME] [options]\n\n" + targets::target_uri_help();
    auto parsed = cli::parse(argc, argv, desc, usage);
    if (!parsed.ok()) return parsed.get_status();
    out.exit_now = parsed->exit_now;
    if (out.exit_now) return out;
    SYNCLINE_RETURN_IF_ERROR(cli::validate_name("--pipeline", o.pipeline));
    if (o.origin_pipeline.empty()) o.origin_pipeline = o.pipeline;
    SYNCLINE_RETURN_IF_ERROR(cli::validate_name("--origin-pipeline", o.origin_pipeline));
    SYNCLINE_RETURN_IF_ERROR(cli::validate_endpoint("--work", o.work));
    SYNCLINE_RETURN_IF_ERROR(cli::validate_endpoint("--acks", o.acks));
    SYNCLINE_RETURN_IF_ERROR(metrics::validate_endpoint_options(o.metrics));
    if (backoff_ms < 1 || backoff_ms > 60'000)
        return status{errc::invalid_argument, "--retry-backoff-ms must be between 1 and 60000"};
    if (o.max_retries > 1000) return status{errc::invalid_argument, "--max-retries must be at most 1000"};
    if (o.transform_max_instructions < 1000 || o.transform_max_instructions > 1'000'000'000'000)
        return status{errc::invalid_argument, "--transform-max-instructions must be between 1000 and 10^12"};
    if (o.transform_max_memory_mb < 1 || o.transform_max_memory_mb > 65'536)
        return status{errc::invalid_argument, "--transform-max-memory-mb must be between 1 and 65536"};
    o.retry_backoff = milliseconds(backoff_ms);
    if (o.id.empty()) o.id = default_worker_id();
    auto keys = curve::load(curve_flags, curve::role::client);
    if (!keys.ok()) return keys.get_status();
    o.curve = std::move(keys.value());
    return out;
}

std::vector<std::string> to_argv(const worker_options& o) {
    const worker_options defaults;
    std::vector<std::string> argv{"--target", o.target, "--pipeline", o.pipeline, "--work", o.work, "--acks", o.acks};
    if (!o.id.empty()) argv.insert(argv.end(), {"--id", o.id});
    if (!o.origin_pipeline.empty() && o.origin_pipeline != o.pipeline)
        argv.insert(argv.end(), {"--origin-pipeline", o.origin_pipeline});
    auto number = [&](const char* flag, auto value, auto default_value) {
        if (value != default_value) argv.insert(argv.end(), {flag, std::to_string(value)});
    };
    number("--max-retries", o.max_retries, defaults.max_retries);
    number("--isolate-after-attempts", o.isolate_after_attempts, defaults.isolate_after_attempts);
    number("--retry-backoff-ms", o.retry_backoff.count(), defaults.retry_backoff.count());
    number("--coalesce-records", o.coalesce_records, defaults.coalesce_records);
    if (!o.transform.empty()) argv.insert(argv.end(), {"--transform", o.transform});
    number("--transform-max-instructions", o.transform_max_instructions, defaults.transform_max_instructions);
    number("--transform-max-memory-mb", o.transform_max_memory_mb, defaults.transform_max_memory_mb);
    metrics::append_endpoint_argv(o.metrics, argv);
    return argv;
}

status run(const worker_options& options, const stop_flag& stop) {
    runtime::observability observed(metrics::const_labels{{"pipeline", options.pipeline}, {"worker", options.id}});
    worker_metrics m(observed.registry);
    metrics::health& health = observed.health;
    health.set_ready(false, "opening target " + cli::redact_secrets("target", options.target));
    SYNCLINE_RETURN_IF_ERROR(observed.serve(options.metrics, "worker"));

    // Channel ids derive from the pipeline the records belong to: a replay (pipeline P.replay)
    // sends them under P's ids, so receivers drop what they already have.
    // A script that does not load is a configuration error, found before anything connects.
    std::unique_ptr<lua_transform> transform;
    if (!options.transform.empty()) {
        auto loaded = lua_transform::load(options.transform, {options.transform_max_instructions,
                                                              options.transform_max_memory_mb << 20});
        if (!loaded.ok()) return loaded.get_status();
        transform = std::move(loaded.value());
        log_worker.info("transform loaded", {{"file", options.transform}});
    }
    // This worker's --pipeline is its writer group: targets with one writer (capabilities.max_writers)
    // let one worker of the group write; the others wait below as standbys.
    const targets::target_options target_opts{options.origin_pipeline.empty() ? options.pipeline : options.origin_pipeline,
                                              options.pipeline};
    auto t = open_target(options.target, target_opts);
    // A target that cannot be reached yet is waited for: workers start before their databases.
    milliseconds backoff = options.retry_backoff;
    while (!t.ok() && t.get_status().code() == errc::unavailable && !stop.stop_requested()) {
        log_worker.warn("target unavailable, retrying: " + t.get_status().message());
        health.set_ready(false, "target unavailable: " + t.get_status().message());
        health.beat();
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, milliseconds(5000));
        t = open_target(options.target, target_opts);
    }
    if (stop.stop_requested() && !t.ok()) return {};
    if (!t.ok()) return t.get_status();
    worker_loop loop(options, std::move(t.value()), std::move(transform), m, health);
    return loop.run(stop);
}

}  // namespace syncline::workers
