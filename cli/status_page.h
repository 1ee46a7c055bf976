#pragma once
// cli/status_page.h: the status page `syncline run` serves at `/` of its --metrics-listen endpoint:
// one self-contained HTML document (no external scripts, styles, fonts or CDNs) whose script
// polls the same endpoint's merged /metrics every 2 s and shows the pipeline's committed offset,
// log last offset, lag in records and seconds, commit rate, stall state, each process (up,
// restarts, in-flight batches, records delivered), dead letters, and a live chart of lag and rate.
// The figures are read from the same series `syncline status` reads, so the two agree.
#include <string_view>

namespace syncline::cli {

// The page's HTML. Static: everything live comes from /metrics.
std::string_view status_page_html();

}  // namespace syncline::cli
