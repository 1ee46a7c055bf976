#include "tests/support/pipeline.h"

#include "tests/support/harness.h"

namespace syncline::testing {
namespace {

template <class Options>
child_process launch_with(const char* program, const Options& options, const std::string& log_path,
                          const std::vector<std::string>& extra) {
    std::vector<std::string> args = to_argv(options);
    args.insert(args.end(), extra.begin(), extra.end());
    return start(program, args, log_path);
}

}  // namespace

sink::sink_options pipeline_spec::sink() const {
    sink::sink_options o;
    o.state = state;
    o.pipeline = pipeline;
    o.acks = acks;
    o.control = control;
    return o;
}

ventilator::ventilator_options pipeline_spec::ventilator() const {
    ventilator::ventilator_options o;
    o.log = log;
    o.pipeline = pipeline;
    o.work = work;
    o.control = control;
    o.window.ack_timeout = std::chrono::milliseconds(1500);
    o.tail_interval = std::chrono::milliseconds(5);
    return o;
}

workers::worker_options pipeline_spec::worker(int i) const {
    workers::worker_options o;
    o.target = target;
    o.pipeline = pipeline;
    o.work = work;
    o.acks = acks;
    o.id = "w" + std::to_string(i);
    return o;
}

child_process launch(const sink::sink_options& options, const std::string& log_path,
                     const std::vector<std::string>& extra) {
    return launch_with("syncline-sink", options, log_path, extra);
}

child_process launch(const ventilator::ventilator_options& options, const std::string& log_path,
                     const std::vector<std::string>& extra) {
    return launch_with("syncline-ventilator", options, log_path, extra);
}

child_process launch(const workers::worker_options& options, const std::string& log_path,
                     const std::vector<std::string>& extra) {
    return launch_with("syncline-worker", options, log_path, extra);
}

}  // namespace syncline::testing
