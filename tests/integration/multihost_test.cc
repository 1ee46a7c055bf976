// Multi-host (issue 7): the ventilator and sink in one network namespace, the workers in another,
// joined by a veth pair, so they talk over real, separate addresses as separate hosts would, with
// CURVE on. Needs root and `ip netns` (iproute2); skips with a message otherwise. Namespaces get
// names unique to this run and are deleted even when a test fails.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "tests/support/harness.h"
#include "tests/support/pipeline.h"
#include "targets/target.h"
#include "targets/verify.h"

namespace syncline::testing {
namespace {

using std::chrono::seconds;
namespace fs = std::filesystem;

std::string ip_binary() {
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
        if (access(p, X_OK) == 0) return p;
    return {};
}

bool run_quietly(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

// Two namespaces, "servers" (10.X.Y.1) and "workers" (10.X.Y.2), one veth pair between them.
class two_hosts {
public:
    two_hosts() {
        static std::atomic<unsigned> sequence{0};
        const std::string tag = std::to_string(getpid() % 100000) + "x" + std::to_string(sequence++);
        servers = "sls" + tag;
        workers = "slw" + tag;
        servers_if = "vs" + tag;  // Interface names: at most 15 characters.
        workers_if = "vw" + tag;
        std::mt19937 rng(std::random_device{}());
        const std::string net = "10." + std::to_string(200 + rng() % 50) + "." + std::to_string(rng() % 256) + ".";
        servers_ip = net + "1";
        workers_ip = net + "2";
    }
    // Empty on success, otherwise why it could not be built.
    std::string create() {
        const std::string ip = ip_binary();
        if (ip.empty()) return "the ip command (iproute2) is not installed";
        _ip = ip;
        if (!run_quietly(ip + " netns add " + servers)) return "ip netns add failed (no network namespace support?)";
        _created = true;
        const std::vector<std::string> steps = {
            "netns add " + workers,
            "link add " + servers_if + " netns " + servers + " type veth peer name " + workers_if + " netns " + workers,
            "-n " + servers + " addr add " + servers_ip + "/24 dev " + servers_if,
            "-n " + workers + " addr add " + workers_ip + "/24 dev " + workers_if,
            "-n " + servers + " link set lo up",
            "-n " + workers + " link set lo up",
            "-n " + servers + " link set " + servers_if + " up",
            "-n " + workers + " link set " + workers_if + " up",
        };
        for (const auto& s : steps)
            if (!run_quietly(ip + " " + s)) return "ip " + s + " failed";
        return {};
    }
    bool set_workers_link(bool up) {
        return run_quietly(_ip + " -n " + workers + " link set " + workers_if + (up ? " up" : " down"));
    }
    ~two_hosts() {
        if (!_created) return;
        run_quietly(_ip + " netns del " + workers);
        run_quietly(_ip + " netns del " + servers);
    }
    // A built binary run inside namespace `ns`.
    child_process start_in(const std::string& ns, const std::string& name, const std::vector<std::string>& args,
                           const std::string& log_path) const {
        spawn_options opts;
        opts.argv = {_ip, "netns", "exec", ns, binary(name)};
        opts.argv.insert(opts.argv.end(), args.begin(), args.end());
        opts.stdout_path = opts.stderr_path = log_path;
        opts.stdin_path = "/dev/null";
        auto child = child_process::spawn(opts);
        if (!child.ok()) throw std::runtime_error(child.get_status().message());
        return std::move(child.value());
    }

    std::string servers, workers, servers_if, workers_if, servers_ip, workers_ip;

private:
    std::string _ip;
    bool _created = false;
};

class multihost_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "multi-host tests need root (network namespaces); CI runs them as root";
        if (const std::string why = hosts.create(); !why.empty())
            GTEST_SKIP() << "multi-host tests need `ip netns`: " << why;
        auto log = store::change_log::open_writer({.path = log_dir});
        ASSERT_TRUE(log.ok()) << log.get_status().message();
        append_sample(**log, records, 5'000, 11);
        for (const char* name : {"server", "worker"})
            ASSERT_EQ(run_to_exit("syncline", {"keygen", "--out", keys, "--name", name}, dir / "keygen.log"), 0);
    }
    void TearDown() override {
        if (HasFailure()) {
            const std::string kept = dir.path() + ".kept";
            std::fprintf(stderr, "logs kept in %s\n", kept.c_str());
            std::rename(dir.path().c_str(), kept.c_str());
        }
    }

    static workers::worker_options worker_with_small_transactions(const pipeline_spec& spec, int i) {
        auto w = spec.worker(i);
        w.coalesce_records = 1000;
        return w;
    }
    void start_pipeline(int worker_count) {
        // Command lines are the daemons' to_argv (tests/support/pipeline.h), then the CURVE flags.
        const std::string any = "tcp://" + hosts.servers_ip + ":*";
        pipeline_spec spec{.pipeline = "p1", .log = log_dir, .state = state, .work = any, .acks = any, .control = any,
                           .target = target};
        const std::vector<std::string> server_curve = {"--curve-secret", keys + "/server.key", "--curve-allow", keys};
        auto with = [](std::vector<std::string> args, const std::vector<std::string>& extra) {
            args.insert(args.end(), extra.begin(), extra.end());
            return args;
        };
        children.push_back(hosts.start_in(hosts.servers, "syncline-sink", with(to_argv(spec.sink()), server_curve),
                                          dir / "sink.log"));
        spec.acks = logged_endpoint(dir / "sink.log", "acks");
        spec.control = logged_endpoint(dir / "sink.log", "control");
        ASSERT_FALSE(spec.acks.empty() || spec.control.empty()) << read_file(dir / "sink.log");
        children.push_back(hosts.start_in(hosts.servers, "syncline-ventilator",
                                          with(to_argv(spec.ventilator()), server_curve), dir / "ventilator.log"));
        spec.work = logged_endpoint(dir / "ventilator.log", "work");
        ASSERT_FALSE(spec.work.empty()) << read_file(dir / "ventilator.log");
        for (int i = 1; i <= worker_count; ++i)
            children.push_back(hosts.start_in(
                hosts.workers, "syncline-worker",
                // One batch per transaction: joined into 100,000-record transactions (the default for a
                // SQLite writer) the whole log can commit before the test cuts the link mid-run.
                with(to_argv(worker_with_small_transactions(spec, i)),
                     {"--curve-secret", keys + "/worker.key", "--curve-server-key", keys + "/server.pub"}),
                dir / ("worker-" + std::to_string(i) + ".log")));
    }
    void expect_verified() {
        auto log = store::change_log::open_reader(log_dir);
        ASSERT_TRUE(log.ok());
        auto t = targets::open_target(target, {"p1"});
        ASSERT_TRUE(t.ok());
        auto report = targets::verify_target(**log, committed(state, "p1"), **t);
        ASSERT_TRUE(report.ok()) << report.get_status().message();
        EXPECT_TRUE(report->clean()) << targets::format_report(*report, 20);
    }

    const std::uint64_t records = 60'000;
    two_hosts hosts;  // Declared before the children: they are stopped before the namespaces go.
    temp_dir dir;
    std::string log_dir = dir / "log", state = dir / "state", keys = dir / "keys";
    std::string target = "sqlite:" + (dir / "target.db");
    std::vector<child_process> children;
};

TEST_F(multihost_test, workers_on_another_host_deliver_everything_over_curve) {
    start_pipeline(2);
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= records; }, seconds(60)))
        << "committed " << committed(state, "p1");
    expect_verified();
    EXPECT_EQ(count_lines_with(dir / "worker-1.log", "stopped"), 0u) << "a worker exited early";
    EXPECT_NE(read_file(dir / "ventilator.log").find("endpoint=tcp://" + hosts.servers_ip), std::string::npos);
}

TEST_F(multihost_test, a_link_cut_mid_run_and_restored_loses_nothing) {
    start_pipeline(2);
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= 5'000; }, seconds(60)));
    ASSERT_TRUE(hosts.set_workers_link(false));
    // Down until the ventilator has given up on batches in flight (ack timeout 1.5 s) and resent them.
    const auto redeliveries = count_lines_with(dir / "ventilator.log", "redelivering");
    const bool resent = eventually([&] { return count_lines_with(dir / "ventilator.log", "redelivering") > redeliveries; },
                                   seconds(20));
    const auto committed_while_down = committed(state, "p1");
    ASSERT_TRUE(hosts.set_workers_link(true));
    EXPECT_TRUE(resent) << "no redelivery while the workers' link was down";
    EXPECT_LT(committed_while_down, records) << "the link went down too late to matter";
    ASSERT_TRUE(eventually([&] { return committed(state, "p1") >= records; }, seconds(60)))
        << "committed " << committed(state, "p1");
    expect_verified();
}

}  // namespace
}  // namespace syncline::testing
