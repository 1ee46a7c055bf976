#include "cli/internal/command_util.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "cli/display.h"
#include "cli/runner.h"
#include "common/log.h"
#include "common/process.h"
#include "gateway/gateway.h"

namespace syncline::cli::internal {
namespace {

void write_line(std::string_view cmd, std::string_view kind, std::string_view msg) {
    std::string line = "syncline ";
    line += cmd;
    line += ": ";
    line += kind;
    line += ": ";
    line += msg;
    line += '\n';
    write_stderr_line(line);
}

// The store says "not a syncline log: PATH" or names the format version it found.
std::string not_a_log(const std::string& path, const status& s) {
    if (s.message().starts_with("not a syncline log"))
        return "log " + path + " is not a syncline change log (give the directory that `syncline append` created)";
    return "log " + path + ": " + s.message();
}

}  // namespace

int usage_error(std::string_view cmd, std::string_view msg) {
    write_line(cmd, "error", msg);
    return exit_usage;
}

int failure(std::string_view cmd, std::string_view msg) {
    write_line(cmd, "error", msg);
    return exit_failure;
}

void warn(std::string_view cmd, std::string_view msg) { write_line(cmd, "warning", msg); }

std::vector<const char*> join_negative_values(int argc, const char* const* argv,
                                              std::initializer_list<std::string_view> signed_options,
                                              std::vector<std::string>& storage) {
    storage.clear();
    storage.reserve(static_cast<std::size_t>(argc));
    for (int i = 0; i < argc; ++i) {
        const std::string_view arg = argv[i];
        bool joined = false;
        for (std::string_view opt : signed_options) {
            if (arg == opt && i + 1 < argc && argv[i + 1][0] == '-' && argv[i + 1][1] >= '0' && argv[i + 1][1] <= '9') {
                storage.push_back(std::string(arg) + "=" + argv[i + 1]);
                ++i;
                joined = true;
                break;
            }
        }
        if (!joined) storage.emplace_back(arg);
    }
    std::vector<const char*> out;
    out.reserve(storage.size() + 1);
    for (const auto& s : storage) out.push_back(s.c_str());
    out.push_back(nullptr);
    return out;
}

result<std::uint64_t> parse_count(std::string_view option, std::string_view text) {
    std::uint64_t n = 0;
    if (!parse_u64(text, n))
        return status{errc::invalid_argument,
                      std::string(option) + ": expected a non-negative integer, got '" + escape_for_display(text, 40) + "'"};
    return n;
}

result<std::uint64_t> parse_size(std::string_view option, std::string_view text) {
    std::size_t digits_end = 0;
    while (digits_end < text.size() && text[digits_end] >= '0' && text[digits_end] <= '9') ++digits_end;
    std::uint64_t n = 0;
    std::string_view unit = text.substr(digits_end);
    std::uint64_t mult = 1;
    if (unit.empty() || unit == "B") mult = 1;
    else if (unit == "K" || unit == "KiB" || unit == "k") mult = 1ull << 10;
    else if (unit == "M" || unit == "MiB") mult = 1ull << 20;
    else if (unit == "G" || unit == "GiB") mult = 1ull << 30;
    else mult = 0;
    if (!parse_u64(text.substr(0, digits_end), n) || mult == 0 || (n != 0 && mult > UINT64_MAX / n))
        return status{errc::invalid_argument, std::string(option) + ": invalid size '" + escape_for_display(text, 40) +
                                                  "' (expected bytes, optionally with K, M or G: 1048576, 64K, 1MiB)"};
    return n * mult;
}

result<std::unique_ptr<store::change_log>> open_log_writer(const std::string& path, bool sync) {
    store::change_log_options opts;
    opts.path = path;
    opts.sync = sync;
    auto log = store::change_log::open_writer(opts);
    if (log.ok()) return log;
    const status s = log.get_status();
    switch (s.code()) {
        case errc::busy:
            if (auto gw = gateway::read_endpoints_file(path)) {
                std::string where;
                for (const auto& e : gw->zmq) where += (where.empty() ? "" : ", ") + e;
                if (!gw->http.empty()) where += (where.empty() ? "" : ", ") + gw->http + "/v1/changes";
                const std::string via = gw->zmq.empty() ? gw->http + "/v1/changes" : gw->zmq.front();
                return status{errc::busy, "log " + path + " is held by a syncline gateway (pid " + std::to_string(gw->pid) +
                                              ") listening on " + where + ": send through it with --via " +
                                              (gw->zmq.empty() ? "(a ZeroMQ endpoint; this gateway has none) or POST to " + via
                                                               : via)};
            }
            return status{errc::busy, "log " + path +
                                          " is locked by another writer (a running `syncline append`, `generate` or "
                                          "producer): only one process may append at a time"};
        case errc::invalid_argument:
            return status{s.code(), not_a_log(path, s)};
        default:
            return status{s.code(), "cannot open log " + path + ": " + s.message()};
    }
}

result<std::unique_ptr<store::change_log>> open_log_reader(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return status{errc::not_found, "log " + path + " does not exist"};
    auto log = store::change_log::open_reader(path);
    if (log.ok()) return log;
    const status s = log.get_status();
    if (s.code() == errc::invalid_argument) return status{s.code(), not_a_log(path, s)};
    return status{s.code(), "cannot open log " + path + ": " + s.message()};
}

std::string appended_summary(std::uint64_t count, std::uint64_t first, std::uint64_t last) {
    if (count == 0) return "appended 0 records";
    return "appended " + std::to_string(count) + (count == 1 ? " record" : " records") + ": offsets " +
           std::to_string(first) + ".." + std::to_string(last);
}

const po::options_description& pipeline_file_keys() {
    static run_options unused;
    static const po::options_description keys = run_options_description(unused);
    return keys;
}

}  // namespace syncline::cli::internal
