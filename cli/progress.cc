#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include "cli/status.h"

namespace syncline::cli {

std::string render_progress(std::string_view label, std::uint64_t done, std::uint64_t total, double rate,
                            std::string_view extra, unsigned width) {
    std::string out(label);
    if (total > 0) {
        const std::uint64_t shown = std::min(done, total);
        const auto filled = static_cast<unsigned>(static_cast<double>(shown) / static_cast<double>(total) * width);
        out += " [";
        out.append(filled, '#');
        out.append(width - filled, '.');
        char percent[16];
        std::snprintf(percent, sizeof percent, "] %3u%%", static_cast<unsigned>(shown * 100 / total));
        out += percent;
        out += "  " + with_thousands(done) + "/" + with_thousands(total);
    } else {
        out += "  " + with_thousands(done);
    }
    out += "  " + with_thousands(static_cast<std::uint64_t>(rate > 0 ? rate : 0)) + "/s";
    if (total > 0) {
        if (done >= total) out += "  done";
        else if (rate > 0) out += "  ETA " + human_duration(static_cast<double>(total - done) / rate);
        else out += "  ETA ?";
    }
    if (!extra.empty()) out += "  " + std::string(extra);
    return out;
}

progress_line::progress_line(std::string label, bool force_tty)
    : _label(std::move(label)), _tty(force_tty || ::isatty(STDERR_FILENO) == 1), _began(std::chrono::steady_clock::now()) {}

progress_line::~progress_line() {
    if (_tty && _drawn) std::fputs("\n", stderr);
}

void progress_line::update(std::uint64_t done, std::uint64_t total, std::string_view extra, bool final) {
    if (!_tty) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final && _drawn && now - _last_draw < std::chrono::milliseconds(100)) return;
    _last_draw = now;
    const double secs = std::chrono::duration<double>(now - _began).count();
    const std::string line = render_progress(_label, done, total, secs > 0 ? done / secs : 0, extra);
    // \r, the line, then clear to the end of the line (a shorter line leaves nothing behind).
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
    _drawn = true;
}

}  // namespace syncline::cli
