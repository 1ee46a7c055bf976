// `syncline config check FILE [--connect]`: validates a pipeline's INI file (the keys of
// `syncline run`) as the pipeline would see it (SYNCLINE_* variables included), reports every
// problem as "FILE:LINE: key 'x': problem" (exit 2), or prints the effective configuration with
// where each value came from (exit 0). --connect also opens the target and the stores (exit 1 if
// one cannot be reached). Secrets are never printed.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/internal/command_util.h"
#include "cli/runner.h"
#include "cli/syncline_cli.h"
#include "common/process.h"
#include "store/state_store.h"
#include "targets/target.h"
#include "workers/transform.h"

namespace syncline::cli {
namespace {

namespace fs = std::filesystem;

struct findings {
    std::vector<std::string> problems;
    std::vector<std::string> warnings;
};

// A directory the pipeline creates when missing (state, run-dir): fine if it is a writable
// directory, or if its nearest existing ancestor is one.
std::string creatable_directory_problem(const std::string& path) {
    std::error_code ec;
    fs::path p = fs::absolute(path, ec);
    if (fs::exists(p, ec)) {
        if (!fs::is_directory(p, ec)) return "'" + path + "' exists and is not a directory";
        if (access(p.c_str(), W_OK | X_OK) != 0) return "'" + path + "' is not writable";
        return "";
    }
    for (p = p.parent_path(); !p.empty(); p = p.parent_path()) {
        if (!fs::exists(p, ec)) {
            if (p == p.parent_path()) break;
            continue;
        }
        if (!fs::is_directory(p, ec)) return "cannot be created: '" + p.string() + "' is not a directory";
        if (access(p.c_str(), W_OK | X_OK) != 0) return "cannot be created: '" + p.string() + "' is not writable";
        return "";
    }
    return "cannot be created: no existing parent directory";
}

// File targets (`scheme:PATH`, no "//" authority: sqlite, jsonl, rocksdb): the target creates
// PATH but not its directory.
std::string target_path_problem(const std::string& uri) {
    const auto colon = uri.find(':');
    if (colon == std::string::npos) return "";
    std::string path = uri.substr(colon + 1, uri.find('?') == std::string::npos ? std::string::npos
                                                                                 : uri.find('?') - colon - 1);
    if (path.empty() || path.starts_with("//")) return "";
    std::error_code ec;
    const fs::path parent = fs::absolute(path, ec).parent_path();
    if (!fs::is_directory(parent, ec)) return "directory '" + parent.string() + "' does not exist";
    if (access(parent.c_str(), W_OK | X_OK) != 0) return "directory '" + parent.string() + "' is not writable";
    return "";
}

// What needs the filesystem: the paths exist, or can be created, and are writable.
void check_paths(const run_options& o, const parse_outcome& parsed, findings& out) {
    auto problem = [&](std::string_view option, const std::string& text) {
        if (!text.empty()) out.problems.push_back(parsed.locate(option, text));
    };
    std::error_code ec;
    if (!fs::exists(o.log, ec))
        out.warnings.push_back(parsed.locate("log", "'" + o.log +
                                                        "' does not exist yet: the first append creates it; until "
                                                        "then the ventilator is restarted with backoff"));
    else if (!fs::is_directory(o.log, ec))
        problem("log", "'" + o.log + "' is not a directory");
    problem("state", creatable_directory_problem(o.state));
    if (!o.run_dir.empty()) problem("run-dir", creatable_directory_problem(o.run_dir));
    if (!o.bin_dir.empty()) {
        for (const char* program : {"syncline-sink", "syncline-worker", "syncline-ventilator"})
            if (access((fs::path(o.bin_dir) / program).c_str(), X_OK) != 0)
                problem("bin-dir", "no executable " + std::string(program) + " in '" + o.bin_dir + "'");
    }
    problem("target", target_path_problem(o.target));
    // The workers load the script at start and exit 2 when it does not load: say so here first.
    if (!o.transform.empty()) {
        auto loaded = workers::lua_transform::load(o.transform);
        if (!loaded.ok()) problem("transform", loaded.get_status().message());
    }
}

std::string origin_text(const value_origin& origin) {
    switch (origin.source) {
        case value_source::config_file: return "file " + origin.where;
        case value_source::environment: return "env " + origin.where;
        case value_source::command_line: return "flag " + origin.where;
        case value_source::default_value: return "default";
    }
    return "default";
}

void print_effective(const std::string& file, const po::options_description& desc, const parse_outcome& parsed) {
    std::printf("%s: valid. Effective configuration (flag > env > file > default):\n", file.c_str());
    for (const auto& option : desc.options()) {
        const std::string& name = option->long_name();
        if (name == "help" || name == "version" || name == "config") continue;
        const auto origin = parsed.origins.find(name);
        if (origin == parsed.origins.end()) continue;  // Unset and without a default.
        std::printf("  %-16s = %-40s # %s\n", name.c_str(), value_text(parsed, name).c_str(),
                    origin_text(origin->second).c_str());
    }
}

// --connect: what the pipeline would open. Returns false if something cannot be reached.
bool check_reachability(const run_options& o) {
    bool ok = true;
    auto report = [&](const char* what, bool good, const std::string& detail) {
        std::printf("  %-7s %s: %s\n", what, good ? "ok" : "FAILED", detail.c_str());
        ok = ok && good;
    };
    std::printf("Reachability:\n");
    if (auto t = targets::open_target(o.target, {o.pipeline}); t.ok())
        report("target", true, "opened " + redact_secrets("target", o.target));
    else
        report("target", false, redact_secrets_in(t.get_status().message(), "target", o.target));
    if (auto log = internal::open_log_reader(o.log); log.ok())
        report("log", true, "opened, last offset " + std::to_string((*log)->last_offset()));
    else
        report("log", false, log.get_status().message());
    std::error_code ec;
    if (!fs::exists(fs::path(o.state) / o.pipeline, ec)) {
        report("state", true, "not created yet (the sink creates it)");
    } else if (auto state = store::state_store::open_reader(o.state, o.pipeline); !state.ok()) {
        report("state", false, state.get_status().message());
    } else {
        auto committed = (*state)->committed();
        report("state", committed.ok(),
               committed.ok() ? "opened, committed offset " + std::to_string(committed->value_or(0))
                              : committed.get_status().message());
    }
    return ok;
}

// The line of a "FILE:LINE: ..." problem; max for any other.
std::size_t line_number(const std::string& file, const std::string& problem) {
    if (!problem.starts_with(file + ":")) return std::numeric_limits<std::size_t>::max();
    const char* digits = problem.c_str() + file.size() + 1;
    char* end = nullptr;
    const unsigned long line = std::strtoul(digits, &end, 10);
    return end == digits ? std::numeric_limits<std::size_t>::max() : line;
}

}  // namespace

int config_check_command(int argc, const char* const* argv) {
    std::string file;
    bool connect = false;
    po::options_description desc("config check options");
    desc.add_options()("file", po::value(&file)->required(), "the pipeline's INI file (keys of `syncline run`)")(
        "connect", po::bool_switch(&connect), "also open the target, the log and the state, and report reachability");
    po::positional_options_description positional;
    positional.add("file", 1);
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline config check FILE [--connect]\n\n"
                        "Validates a pipeline config (the keys of `syncline run`; SYNCLINE_* variables apply) and\n"
                        "prints the effective configuration. Exit 0 valid, 2 invalid, 1 unreachable (--connect).",
                        &positional);
    if (!parsed.ok()) return internal::usage_error("config check", parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;

    run_options o;
    const po::options_description run_desc = run_options_description(o);
    config_check check = check_config_file(run_desc, file);
    findings found{std::move(check.problems), {}};
    if (found.problems.empty()) {
        for (auto& p : validate_run_options(o, check.outcome)) found.problems.push_back(std::move(p));
        check_paths(o, check.outcome, found);
    }
    // In file order: "FILE:LINE: ..." by line; problems without a line (missing keys) last.
    std::stable_sort(found.problems.begin(), found.problems.end(), [&](const std::string& a, const std::string& b) {
        return line_number(file, a) < line_number(file, b);
    });
    for (const auto& w : found.warnings) std::fprintf(stderr, "%s (warning)\n", w.c_str());
    if (!found.problems.empty()) {
        for (const auto& p : found.problems) std::fprintf(stderr, "%s\n", p.c_str());
        std::fprintf(stderr, "syncline config check: %s: %zu problem%s\n", file.c_str(), found.problems.size(),
                     found.problems.size() == 1 ? "" : "s");
        return exit_usage;
    }
    print_effective(file, run_desc, check.outcome);
    std::fflush(stdout);
    if (connect && !check_reachability(o)) return exit_failure;
    return exit_ok;
}

}  // namespace syncline::cli
