#pragma once
// workers/internal/secret.h: secrets (passwords, keys) never go into target URIs, which are
// logged: an option names where to read one, an environment variable or a file.
#include <optional>
#include <string>

#include "common/status.h"
#include "workers/internal/uri.h"

namespace syncline::workers::internal {

// Takes the options `env_option` (the name of an environment variable) and `file_option` (a
// file path; trailing line breaks are dropped, as `echo secret > file` leaves one) and returns the
// secret; nullopt when neither is given. invalid_argument, naming the variable or file but never
// the secret, when both are given or the one given is unset, unreadable or empty.
result<std::optional<std::string>> take_secret(uri_options& options, const std::string& env_option,
                                               const std::string& file_option);

}  // namespace syncline::workers::internal
