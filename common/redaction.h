#pragma once
// common/redaction.h: which parts of an option's value are secret, for every surface that shows
// values (log lines, error reports, /ready, /metrics, `syncline config check`). An option named
// like a secret (password, passwd, secret, token; not *_env / *_file, which say where the secret
// is) is hidden whole; otherwise a URI's password and secret query values are.
#include <string>
#include <string_view>

namespace syncline::cli {

// `value` safe to print: the password of a URI's user info and the values of options named
// like password/secret/token become "***"; an option whose name says secret is hidden whole.
std::string redact_secrets(std::string_view option, std::string_view value);

// Remembers the secret parts of `value` (those redact_secrets hides) for scrub_secrets (log.h),
// so no surface of the process shows them. parse() does it for every option it reads.
void remember_secrets(std::string_view option, std::string_view value);

// `text` (an error message) with every occurrence of `value` replaced by redact_secrets(option, value).
std::string redact_secrets_in(std::string text, std::string_view option, std::string_view value);

}  // namespace syncline::cli
