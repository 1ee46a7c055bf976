#pragma once
// cli/progress.h: the progress display of long commands (issue 18). On a terminal, one line
// redrawn in place: a bar when the total is known, the count, the rate and the ETA; when stderr
// is not a terminal the caller prints its plain lines as before (scripts and logs keep parsing).
// Not thread-safe: one owner draws it.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace syncline::cli {

// "label [##########··········]  45%  12,000/30,000  5,000/s  ETA 4 s  extra" (no bar, percent
// and ETA when total is 0 = unknown); `width` is the bar's width in characters.
std::string render_progress(std::string_view label, std::uint64_t done, std::uint64_t total, double rate,
                            std::string_view extra, unsigned width = 30);

class progress_line {
public:
    // Draws on stderr when it is a terminal (or when `force_tty`); otherwise active() is false
    // and update() does nothing.
    explicit progress_line(std::string label, bool force_tty = false);
    ~progress_line();  // Ends the line (a newline after the last drawing).
    bool active() const noexcept { return _tty; }
    // Redraws with `done` of `total` (0 = unknown), at most every 100 ms unless `final`.
    void update(std::uint64_t done, std::uint64_t total, std::string_view extra = {}, bool final = false);

private:
    std::string _label;
    bool _tty = false, _drawn = false;
    std::chrono::steady_clock::time_point _began, _last_draw{};
};

}  // namespace syncline::cli
