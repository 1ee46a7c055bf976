// `syncline verify`: compares a target with the state the log defines at the pipeline's
// committed offset (targets/verify.h), prints every difference, exits 1 when there is one.
// With --source postgresql://..., compares the target with the source database's tables instead
// (capture/source_verify.h; docs/capture.md).
#include <cstdio>

#include "common/cli_options.h"
#include "cli/internal/command_util.h"
#include "cli/syncline_cli.h"
#include "common/process.h"
#include "store/state_store.h"
#include "targets/target.h"
#include "targets/verify.h"
#if SYNCLINE_WITH_POSTGRES  // Change capture is built with the postgres switch (cmake/syncline.cmake).
#include "capture/source_verify.h"
#endif

namespace syncline::cli {

int verify_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "verify";
    std::string log_dir, state, pipeline = "default", target, source;
    std::size_t max_lines = 50;
    po::options_description desc("verify options");
    desc.add_options()
        ("log", po::value(&log_dir), "change log directory (required without --source)")
        ("state", po::value(&state), "state root directory (required without --source)")
        ("source", po::value(&source),
         "compare with a PostgreSQL source instead of the log: postgresql://USER@HOST/DB?tables=a,b|publication=P"
         "[&password_file=PATH|&password_env=VAR] (docs/capture.md)")
        ("pipeline", po::value(&pipeline)->default_value(pipeline), "pipeline name")
        ("target", po::value(&target)->required(), "target URI to check, one of the state targets listed above (docs/targets)")
        ("max-differences", po::value(&max_lines)->default_value(max_lines), "differences to print");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline verify --log DIR --state DIR --pipeline NAME --target URI\n"
                        "       syncline verify --source postgresql://USER@HOST/DB?tables=a,b --target URI\n"
                        "Exit 0 when the target equals the log's state at the committed offset (or the source's\n"
                        "tables), 1 otherwise.\n\n" +
                            targets::target_uri_help(/*verifiable_only=*/true),
                        nullptr, &internal::pipeline_file_keys());
    if (!parsed.ok()) return internal::usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;
    if (auto s = validate_name("--pipeline", pipeline); !s.ok()) return internal::usage_error(cmd, s.message());
    if (!source.empty()) {
#if !SYNCLINE_WITH_POSTGRES
        return internal::usage_error(cmd, "--source needs change capture, which is not in this build "
                                          "(rebuild with -DSYNCLINE_WITH_POSTGRES=ON)");
#else
        auto src = capture::parse_source_uri(source, false);
        if (!src.ok()) return internal::usage_error(cmd, src.get_status().message());
        auto t = targets::open_target(target, {pipeline});
        if (!t.ok()) {
            const auto& s = t.get_status();
            return s.code() == errc::invalid_argument ? internal::usage_error(cmd, s.message())
                                                      : internal::failure(cmd, s.message());
        }
        auto report = capture::verify_source(*src, **t);
        if (!report.ok()) {
            const auto& s = report.get_status();
            return s.code() == errc::invalid_argument ? internal::usage_error(cmd, s.message())
                                                      : internal::failure(cmd, s.message());
        }
        std::fputs(capture::format_source_report(*report, max_lines).c_str(), stdout);
        return report->clean() ? exit_ok : exit_failure;
#endif
    }
    if (log_dir.empty() || state.empty()) return internal::usage_error(cmd, "--log and --state are required (or --source)");

    auto log = internal::open_log_reader(log_dir);
    if (!log.ok()) return internal::failure(cmd, log.get_status().message());
    auto offsets = store::state_store::open_reader(state, pipeline);
    if (!offsets.ok()) return internal::failure(cmd, offsets.get_status().message());
    auto committed = (*offsets)->committed();
    if (!committed.ok()) return internal::failure(cmd, committed.get_status().message());
    if (!committed->has_value())
        return internal::failure(cmd, "pipeline " + pipeline + " has not committed anything yet");

    auto t = targets::open_target(target, {pipeline});
    if (!t.ok()) {
        const auto& s = t.get_status();
        return s.code() == errc::invalid_argument ? internal::usage_error(cmd, s.message())
                                                  : internal::failure(cmd, s.message());
    }
    auto report = targets::verify_target(**log, **committed, **t, cli::redact_secrets("target", target));
    if (!report.ok()) return internal::failure(cmd, report.get_status().message());
    std::fputs(targets::format_report(*report, max_lines).c_str(), stdout);
    return report->clean() ? exit_ok : exit_failure;
}

}  // namespace syncline::cli
