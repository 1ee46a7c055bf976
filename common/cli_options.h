#pragma once
// common/cli_options.h: Boost.Program_options glue shared by every binary (the option checks it
// re-exports live in endpoints.h, names.h and redaction.h; the INI syntax in internal/ini.h). Every option can be
// given three ways, and the first of these wins: the command line (--workers 8), the environment
// (SYNCLINE_WORKERS=8: SYNCLINE_ + the name upper-cased, '-' -> '_'), an INI file given with
// --config FILE or SYNCLINE_CONFIG (`workers = 8`); then the option's default.
// parse() prints --help/--version itself and never throws: bad input comes back as
// errc::invalid_argument naming the option and where it was set ("FILE:LINE: key 'x': ...",
// exit 2 at the caller). It also applies --log-level / --log-format and tags log lines with
// --pipeline when the command has one.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "common/endpoints.h"   // validate_endpoint, validate_endpoint_list
#include "common/names.h"       // validate_name
#include "common/redaction.h"   // redact_secrets, remember_secrets, redact_secrets_in
#include "common/status.h"

namespace syncline::cli {

namespace po = boost::program_options;

enum class value_source { default_value, command_line, environment, config_file };

// Where an option's effective value came from.
struct value_origin {
    value_source source = value_source::default_value;
    std::string where;  // "FILE:LINE", "SYNCLINE_X" or "--x"; empty for defaults.
};

struct parse_outcome {
    po::variables_map values;
    bool exit_now = false;  // --help or --version was printed.
    // Every option that has a value (defaults included) -> its origin.
    std::map<std::string, value_origin, std::less<>> origins;

    // A problem with `option`, located where its value was set: "FILE:LINE: key 'x': problem",
    // "SYNCLINE_X: key 'x': problem", "--x: problem" or, for a default, "key 'x': problem".
    // A leading "--x: " in `problem` (the validators' own prefix) is not repeated.
    std::string locate(std::string_view option, std::string_view problem) const;
    // invalid_argument with locate(option, s.message()); ok stays ok.
    status locate(std::string_view option, const status& s) const;
};

// Adds --help, --version, --config, --log-level and --log-format to `desc`, reads argv, the
// SYNCLINE_* environment and the config file, runs notify(), applies the log options.
// `usage` heads the --help text. Keys of `pipeline_file_keys` that `desc` lacks are skipped when
// they come from the config file, so one pipeline file serves `run`, `verify`, `replay` and `dlq`.
result<parse_outcome> parse(int argc, const char* const* argv, po::options_description desc,
                            std::string_view usage,
                            const po::positional_options_description* positional = nullptr,
                            const po::options_description* pipeline_file_keys = nullptr);

// What `syncline config check` reports: the options of `desc` read from the environment and the
// INI file `path` (never the command line), with every problem found rather than the first:
// unknown keys (with a "did you mean" suggestion), repeated keys, bad values, missing required
// keys, each as "FILE:LINE: key 'x': problem". When `problems` is empty, notify() has run.
struct config_check {
    parse_outcome outcome;
    std::vector<std::string> problems;
};
config_check check_config_file(po::options_description desc, const std::string& path);

// The effective value of `option` as text ("" if unset); secrets redacted (redact_secrets).
std::string value_text(const parse_outcome& parsed, std::string_view option);

// The environment variable for `option`: "SYNCLINE_" + upper case, '-' -> '_'.
std::string env_name(std::string_view option);

}  // namespace syncline::cli
