#pragma once
// common/cli_options.h: Boost.Program_options glue shared by every binary. The same option names
// work on the command line and in an INI file given with --config (command line wins).
// parse() prints --help/--version itself and never throws: bad input comes back as
// errc::invalid_argument naming the option (exit 2 at the caller).
#include <string>
#include <string_view>

#include <boost/program_options.hpp>

#include "common/status.h"

namespace syncline::cli {

namespace po = boost::program_options;

struct parse_outcome {
    po::variables_map values;
    bool exit_now = false;  // --help or --version was printed.
};

// Adds --help, --version, --config and --log-level to `desc`, parses argv (and the config file
// when given), runs notify(), applies --log-level. `usage` heads the --help text.
result<parse_outcome> parse(int argc, const char* const* argv, po::options_description desc,
                            std::string_view usage,
                            const po::positional_options_description* positional = nullptr);

// errc::invalid_argument unless `endpoint` looks like tcp://host:port|*, ipc://path or inproc://name.
status validate_endpoint(std::string_view option, std::string_view endpoint);

// validate_endpoint for each endpoint of a comma-separated list (sockets that bind several).
status validate_endpoint_list(std::string_view option, std::string_view list);

// errc::invalid_argument unless `name` is 1-128 chars of [A-Za-z0-9._-] (safe in paths and tables).
status validate_name(std::string_view option, std::string_view name);

}  // namespace syncline::cli
