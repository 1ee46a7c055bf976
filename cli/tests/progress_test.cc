#include "cli/progress.h"

#include <gtest/gtest.h>

namespace syncline::cli {
namespace {

TEST(progress, bar_with_percent_count_rate_and_eta) {
    EXPECT_EQ(render_progress("run", 12'000, 30'000, 5'000, "", 10),
              "run [####......]  40%  12,000/30,000  5,000/s  ETA 4 s");
    EXPECT_EQ(render_progress("run", 30'000, 30'000, 5'000, "lag=0", 10),
              "run [##########] 100%  30,000/30,000  5,000/s  done  lag=0");
    EXPECT_EQ(render_progress("replay", 0, 100, 0, "", 4), "replay [....]   0%  0/100  0/s  ETA ?");
}

TEST(progress, unknown_total_shows_count_and_rate_only) {
    EXPECT_EQ(render_progress("run", 1'234'567, 0, 99.6, "lag=5"), "run  1,234,567  99/s  lag=5");
}

TEST(progress, more_done_than_total_never_overflows_the_bar) {
    EXPECT_EQ(render_progress("x", 150, 100, 10, "", 4), "x [####] 100%  150/100  10/s  done");
}

}  // namespace
}  // namespace syncline::cli
