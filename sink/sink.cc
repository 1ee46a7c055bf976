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
#include "common/runtime.h"
#include "common/wire.h"
#include "common/zmq_util.h"
#include "sink/sink_state.h"
#include "store/change_log.h"
#include "store/run_lock.h"
#include "store/state_store.h"

namespace syncline::sink {
namespace {

const logger log_sink("sink");

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

std::vector<std::string> to_argv(const sink_options& o) {
    const sink_options defaults;
    std::vector<std::string> argv{"--state", o.state, "--pipeline", o.pipeline};
    if (!o.log.empty()) argv.insert(argv.end(), {"--log", o.log});
    argv.insert(argv.end(), {"--acks", o.acks, "--control", o.control});
    if (o.commit_interval != defaults.commit_interval)
        argv.insert(argv.end(), {"--commit-interval-ms", std::to_string(o.commit_interval.count())});
    if (o.sync != defaults.sync) argv.insert(argv.end(), {"--sync", o.sync ? "true" : "false"});
    if (o.on_failure != defaults.on_failure)
        argv.insert(argv.end(), {"--on-failure", o.on_failure == failure_policy::stop ? "stop" : "dlq"});
    metrics::append_endpoint_argv(o.metrics, argv);
    return argv;
}

status run(const sink_options& options, const stop_flag& stop) {
    runtime::observability observed(metrics::const_labels{{"pipeline", options.pipeline}});
    sink_metrics m(observed.registry);
    metrics::health& health = observed.health;
    health.set_ready(false, "opening the state of pipeline " + options.pipeline);
    SYNCLINE_RETURN_IF_ERROR(observed.serve(options.metrics, "sink"));

    // The committing process holds the pipeline's run lock whoever started it (store/run_lock.h):
    // a second sink of the pipeline stops here, naming the holder's pid.
    auto lock = store::run_lock::sink_lock(options.state, options.pipeline);
    if (!lock.ok()) return lock.get_status();
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
    // Declared after the sockets, so the ZAP thread stops before they close.
    auto channels = runtime::open_channels(
        context, options.curve, log_sink,
        {{&acks, "acks", options.acks, {.send_hwm = 1000, .recv_hwm = 10'000, .immediate = false}},
         {&control, "control", options.control, {.send_hwm = 1000, .recv_hwm = 1000, .immediate = false}}},
        {});
    if (!channels.ok()) return channels.get_status();
    const std::unique_ptr<curve::zap_guard> zap = std::move(channels->zap);
    log_sink.info("started", {{"pipeline", options.pipeline}, {"state", options.state}, {"committed", state.committed()},
                              {"commit_interval_ms", options.commit_interval.count()},
                              {"on_failure", options.on_failure == failure_policy::stop ? "stop" : "dlq"}});
    channels->log_listening(log_sink);
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
        status failed;  // A failure to handle a message (reading the log for a dead letter) stops the sink.
        runtime::drain(acks, 1000, false, options.pipeline, dropped, [&](wire::message& msg, const std::string&) {
            if (!failed.ok()) return;
            if (auto* a = std::get_if<wire::ack>(&msg)) failed = state.on_ack(*a);
            else if (auto* n = std::get_if<wire::nack>(&msg)) state.on_nack(*n);
            else if (auto* r = std::get_if<wire::receipt>(&msg)) state.on_receipt(*r);
            else drop(std::string("unexpected ") + std::string(wire::type_name(msg)) + " on the acks channel");
        });
        runtime::drain(control, 100, true, options.pipeline, dropped, [&](wire::message& msg, const std::string& from) {
            if (!failed.ok()) return;
            if (auto* sent = std::get_if<wire::sent>(&msg)) {
                failed = state.on_sent(*sent);
                return;
            }
            auto* h = std::get_if<wire::hello>(&msg);
            if (h == nullptr) { drop("unexpected message on the control channel"); return; }
            if (ventilator != from) log_sink.info("ventilator connected", {{"epoch", h->ventilator_epoch}});
            ventilator = from;
            // A hello is also the ventilator asking where to resume: answer at once.
            tell_ventilator(true);
        });
        SYNCLINE_RETURN_IF_ERROR(failed);

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
