#pragma once
// workers/internal/secret.h: secrets of target URIs (webhook keys, SMTP passwords). URIs are
// logged and shown in errors, so a secret never sits in one: the option NAME_env names an
// environment variable holding it, NAME_file a file (its trailing line break dropped). Read
// when the URI is parsed, so a missing variable or file is a configuration error.
#include <optional>
#include <string>

#include "common/status.h"
#include "workers/internal/uri.h"

namespace syncline::workers::internal {

// Takes the options `<name>_env` and `<name>_file` (at most one of them); nullopt when neither
// is given. invalid_argument naming the variable or file (never the secret) when it is unset,
// unreadable or empty.
result<std::optional<std::string>> take_secret(uri_options& options, const std::string& name);

}  // namespace syncline::workers::internal
