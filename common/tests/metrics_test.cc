#include "common/metrics.h"

#include <cmath>
#include <thread>

#include <gtest/gtest.h>

#include "common/metrics_endpoint.h"

namespace syncline::metrics {
namespace {

TEST(metrics, exposes_counters_gauges_and_const_labels_in_text_format) {
    registry r(const_labels{{"pipeline", "orders"}});
    auto& sent = r.add_counter("syncline_test_records_sent_total", "Records sent.");
    auto& offset = r.add_gauge("syncline_test_committed_offset", "Committed offset.");
    sent.inc(41);
    sent.inc();
    offset.set(200000);
    EXPECT_EQ(r.expose(),
              "# HELP syncline_test_records_sent_total Records sent.\n"
              "# TYPE syncline_test_records_sent_total counter\n"
              "syncline_test_records_sent_total{pipeline=\"orders\"} 42\n"
              "# HELP syncline_test_committed_offset Committed offset.\n"
              "# TYPE syncline_test_committed_offset gauge\n"
              "syncline_test_committed_offset{pipeline=\"orders\"} 200000\n");
}

TEST(metrics, label_values_and_help_are_escaped_and_series_sorted) {
    registry r;
    auto& f = r.gauge_family("syncline_test_in_flight_batches", "In flight\\per \"worker\"\nsecond line", {"worker"});
    f.with({"w2"}).set(3);
    f.with({"a\"b\\c\nd"}).set(1.5);
    EXPECT_EQ(r.expose(),
              "# HELP syncline_test_in_flight_batches In flight\\\\per \"worker\"\\nsecond line\n"
              "# TYPE syncline_test_in_flight_batches gauge\n"
              "syncline_test_in_flight_batches{worker=\"a\\\"b\\\\c\\nd\"} 1.5\n"
              "syncline_test_in_flight_batches{worker=\"w2\"} 3\n");
    f.remove({"w2"});
    EXPECT_EQ(r.expose().find("w2"), std::string::npos);
}

TEST(metrics, histogram_buckets_are_cumulative_with_inf_sum_and_count) {
    registry r;
    auto& h = r.add_histogram("syncline_test_delivery_seconds", "Seconds per delivery.", {0.1, 1});
    h.observe(0.05);
    h.observe(0.1);  // Upper bounds are inclusive (le).
    h.observe(0.5);
    h.observe(7);
    EXPECT_EQ(r.expose(),
              "# HELP syncline_test_delivery_seconds Seconds per delivery.\n"
              "# TYPE syncline_test_delivery_seconds histogram\n"
              "syncline_test_delivery_seconds_bucket{le=\"0.1\"} 2\n"
              "syncline_test_delivery_seconds_bucket{le=\"1\"} 3\n"
              "syncline_test_delivery_seconds_bucket{le=\"+Inf\"} 4\n"
              "syncline_test_delivery_seconds_sum 7.65\n"
              "syncline_test_delivery_seconds_count 4\n");
}

TEST(metrics, registering_a_name_twice_returns_the_same_family) {
    registry r;
    auto& a = r.add_counter("syncline_test_total", "x");
    auto& b = r.add_counter("syncline_test_total", "x");
    EXPECT_EQ(&a, &b);
}

TEST(metrics, concurrent_updates_are_all_counted) {
    registry r;
    auto& c = r.add_counter("syncline_test_total", "x");
    auto& h = r.add_histogram("syncline_test_seconds", "x", latency_buckets());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10'000; ++i) {
                c.inc();
                h.observe(0.001);
            }
        });
    // Rendering while the threads write must be safe (TSan/ASan builds check it).
    for (int i = 0; i < 20; ++i) EXPECT_FALSE(r.expose().empty());
    for (auto& t : threads) t.join();
    EXPECT_EQ(c.value(), 40'000u);
    EXPECT_EQ(h.count(), 40'000u);
    EXPECT_NEAR(h.sum(), 40.0, 1e-6);
}

TEST(metrics, parse_reads_back_what_expose_writes) {
    registry r(const_labels{{"pipeline", "p1"}});
    r.gauge_family("syncline_test_gauge", "g", {"worker"}).with({"w \"1\""}).set(-2.5);
    r.add_counter("syncline_test_total", "c").inc(7);
    r.add_histogram("syncline_test_seconds", "h", {1}).observe(3);
    auto samples = parse_exposition(r.expose());
    ASSERT_TRUE(samples.ok()) << samples.get_status().message();
    EXPECT_EQ(find_sample(*samples, "syncline_test_gauge", {{"worker", "w \"1\""}}), -2.5);
    EXPECT_EQ(find_sample(*samples, "syncline_test_total", {{"pipeline", "p1"}}), 7);
    EXPECT_EQ(find_sample(*samples, "syncline_test_seconds_bucket", {{"le", "1"}}), 0);
    EXPECT_EQ(find_sample(*samples, "syncline_test_seconds_bucket", {{"le", "+Inf"}}), 1);
    EXPECT_EQ(find_sample(*samples, "syncline_test_missing"), std::nullopt);
}

TEST(metrics, parse_accepts_timestamps_and_special_values_and_rejects_garbage) {
    auto samples = parse_exposition("# comment\n\nup 1 1700000000000\nx{a=\"b\",} +Inf\ny NaN\n");
    ASSERT_TRUE(samples.ok()) << samples.get_status().message();
    ASSERT_EQ(samples->size(), 3u);
    EXPECT_EQ((*samples)[0].value, 1);
    EXPECT_TRUE(std::isinf((*samples)[1].value));
    EXPECT_EQ((*samples)[1].labels.at("a"), "b");
    EXPECT_TRUE(std::isnan((*samples)[2].value));

    for (const char* bad : {"x{a=\"b\" 1\n", "x{a=b} 1\n", "x one\n", "9x 1\n", "x{a=\"unterminated} 1\n"}) {
        auto parsed = parse_exposition(bad);
        EXPECT_FALSE(parsed.ok()) << bad;
        if (!parsed.ok()) {
            EXPECT_EQ(parsed.get_status().code(), errc::corruption);
        }
    }
}

TEST(metrics, merge_labels_every_series_with_its_process_and_keeps_families_together) {
    registry sink(const_labels{{"pipeline", "p"}}), worker(const_labels{{"pipeline", "p"}});
    sink.add_counter("syncline_test_acks_total", "Acks.").inc(3);
    sink.add_histogram("syncline_test_seconds", "Latency.", {0.1}).observe(0.05);
    worker.add_counter("syncline_test_acks_total", "Acks.").inc(4);
    worker.add_gauge("syncline_test_in_flight", "Batches.").set(2);
    worker.add_histogram("syncline_test_seconds", "Latency.", {0.1}).observe(1);
    // A series that already has the merged label keeps it as exported_process.
    const std::string odd = "odd_total{process=\"x\"} 1\n";
    std::vector<std::string> rejected;
    const std::string merged = merge_expositions(
        {{"sink", sink.expose()}, {"worker-1", worker.expose()}, {"other", odd}, {"bad", "x{ 1\n"}}, "process",
        &rejected);
    EXPECT_EQ(merged,
              "# HELP syncline_test_acks_total Acks.\n"
              "# TYPE syncline_test_acks_total counter\n"
              "syncline_test_acks_total{pipeline=\"p\",process=\"sink\"} 3\n"
              "syncline_test_acks_total{pipeline=\"p\",process=\"worker-1\"} 4\n"
              "# HELP syncline_test_seconds Latency.\n"
              "# TYPE syncline_test_seconds histogram\n"
              "syncline_test_seconds_bucket{le=\"0.1\",pipeline=\"p\",process=\"sink\"} 1\n"
              "syncline_test_seconds_bucket{le=\"+Inf\",pipeline=\"p\",process=\"sink\"} 1\n"
              "syncline_test_seconds_sum{pipeline=\"p\",process=\"sink\"} 0.05\n"
              "syncline_test_seconds_count{pipeline=\"p\",process=\"sink\"} 1\n"
              "syncline_test_seconds_bucket{le=\"0.1\",pipeline=\"p\",process=\"worker-1\"} 0\n"
              "syncline_test_seconds_bucket{le=\"+Inf\",pipeline=\"p\",process=\"worker-1\"} 1\n"
              "syncline_test_seconds_sum{pipeline=\"p\",process=\"worker-1\"} 1\n"
              "syncline_test_seconds_count{pipeline=\"p\",process=\"worker-1\"} 1\n"
              "# HELP syncline_test_in_flight Batches.\n"
              "# TYPE syncline_test_in_flight gauge\n"
              "syncline_test_in_flight{pipeline=\"p\",process=\"worker-1\"} 2\n"
              "odd_total{exported_process=\"x\",process=\"other\"} 1\n");
    ASSERT_EQ(rejected.size(), 1u);
    EXPECT_EQ(rejected[0].rfind("bad: ", 0), 0u) << rejected[0];
    // What is merged parses, and label values with quotes and newlines survive.
    registry tricky;
    tricky.counter_family("syncline_test_total", "T.", {"reason"}).with({"a \"b\"\nc\\"}).inc();
    auto back = parse_exposition(merge_expositions({{"w", tricky.expose()}}, "process"));
    ASSERT_TRUE(back.ok()) << back.get_status().message();
    EXPECT_EQ(find_sample(*back, "syncline_test_total", {{"reason", "a \"b\"\nc\\"}, {"process", "w"}}), 1);
}


endpoint_options listen_on(std::string listen, std::string address_file = "") {
    endpoint_options o;
    o.listen = std::move(listen);
    o.address_file = std::move(address_file);
    return o;
}

TEST(metrics_endpoint, options_validate_host_and_port) {
    EXPECT_TRUE(validate_endpoint_options({}).ok());
    EXPECT_TRUE(validate_endpoint_options(listen_on("127.0.0.1:0")).ok());
    EXPECT_TRUE(validate_endpoint_options(listen_on("[::1]:9101")).ok());
    for (const char* bad : {"127.0.0.1", ":9101", "127.0.0.1:65536", "127.0.0.1:x", "[::1:9101"}) {
        auto s = validate_endpoint_options(listen_on(bad));
        EXPECT_EQ(s.code(), errc::invalid_argument) << bad;
        EXPECT_NE(s.message().find("--metrics-listen"), std::string::npos) << s.message();
    }
    EXPECT_EQ(validate_endpoint_options(listen_on("", "x")).code(), errc::invalid_argument);
}

TEST(metrics_endpoint, health_reports_liveness_and_readiness_with_reason) {
    health h;
    std::string reason;
    EXPECT_FALSE(h.ready(reason));
    EXPECT_EQ(reason, "starting");
    h.set_ready(false, "waiting for the sink");
    EXPECT_FALSE(h.ready(reason));
    EXPECT_EQ(reason, "waiting for the sink");
    h.set_ready(true);
    EXPECT_TRUE(h.ready(reason));
    EXPECT_TRUE(h.live(std::chrono::seconds(10)));
    EXPECT_FALSE(h.live(std::chrono::milliseconds(0)));
}

}  // namespace
}  // namespace syncline::metrics
