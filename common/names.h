#pragma once
// common/names.h: the one rule for names that become path components and table names (pipeline
// names, `--origin-pipeline`): 1-128 characters of [A-Za-z0-9._-], and not "." or "..". The
// command line (cli::validate_name) and the state store (state_store::open) both apply it.
#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace syncline {

inline constexpr std::size_t max_name_length = 128;

// What is wrong with `name` ("must not be empty", "only letters, digits, ..."), or "" when valid.
std::string_view name_problem(std::string_view name) noexcept;

// Names syncline derives from a pipeline's: STATE/NAME.run (the run directory of `syncline run`)
// and NAME.replay (the temporary pipeline of `syncline replay`, whose state it resets and then
// deletes). A pipeline a user names for `syncline run` or `syncline replay` must not end in either
// suffix, so no user pipeline's state can be taken for another's derived one.
inline constexpr std::string_view run_dir_suffix = ".run";
inline constexpr std::string_view replay_suffix = ".replay";

namespace cli {
// errc::invalid_argument "--option: invalid name 'x': problem" unless name_problem(name) is "".
status validate_name(std::string_view option, std::string_view name);
// validate_name, and the name must not end in a derived-name suffix (above): the error says
// whose derived name it would be. For the pipeline names users choose (run, replay).
status validate_pipeline_name(std::string_view option, std::string_view name);
}  // namespace cli

}  // namespace syncline
