#pragma once
// workers/internal/secret.h: secrets for targets (webhook keys, broker tokens) never travel in
// the URI, which is logged: an option names the environment variable or the file that holds
// them. Errors name the variable or the file, never the secret.
#include <optional>
#include <string>

#include "common/status.h"
#include "workers/internal/uri.h"

namespace syncline::workers::internal {

// Takes `<env_option>=VARIABLE` or `<file_option>=PATH` from `options` (giving both is an error)
// and returns the secret: the variable's value, or the file's content without its trailing line
// breaks (`echo secret > file`). nullopt when neither option is given; invalid_argument when the
// variable is unset or empty, or the file unreadable or empty.
result<std::optional<std::string>> take_secret(uri_options& options, const std::string& env_option,
                                               const std::string& file_option);

}  // namespace syncline::workers::internal
