#pragma once
// workers/internal/secret.h: secrets (passwords, signing keys) for target URIs. They never go
// into a URI (URIs are logged and shown in errors): an option names an environment variable
// (`<name>_env`) or a file (`<name>_file`) that holds the secret.
#include <optional>
#include <string>

#include "common/status.h"
#include "workers/internal/uri.h"

namespace syncline::workers::internal {

// Takes the options `<name>_env` and `<name>_file` and reads the secret they name; a file's
// trailing line breaks are dropped (`echo secret > file`). nullopt when neither is given.
// invalid_argument (through `options.error`) when both are given, when an option `<name>` holds
// the secret itself, or when the variable is unset or empty or the file unreadable or empty.
// `shown_prefix` is how the user writes the options (e.g. "syncline." for webhooks), for messages.
result<std::optional<std::string>> take_secret(uri_options& options, const std::string& name,
                                               const std::string& shown_prefix = "");

}  // namespace syncline::workers::internal
