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

namespace cli {
// errc::invalid_argument "--option: invalid name 'x': problem" unless name_problem(name) is "".
status validate_name(std::string_view option, std::string_view name);
}  // namespace cli

}  // namespace syncline
