#pragma once
// common/internal/ini.h: the INI syntax of --config files, as Boost.Program_options reads it:
// `key = value`, `[section]` prefixing keys with "section.", comments from '#' or ';' at the start
// of a line or '#' after a space (a '#' inside a value, as in a URI fragment, stays). What the
// keys mean is cli_options.cc's business. Not a public header.
#include <functional>
#include <string>
#include <vector>

namespace syncline::cli::detail {

// Called per entry with the (section-prefixed) key, the trimmed value and "PATH:LINE".
using ini_visitor = std::function<void(const std::string& key, const std::string& value, const std::string& where)>;

// Visits every entry of the file `path` in order. Syntax problems (unreadable file, a directory,
// unterminated section, a line without '=', a missing key, a key set twice) are appended to
// `problems` as "PATH[:LINE]: ..." and their lines skipped.
void read_ini(const std::string& path, std::vector<std::string>& problems, const ini_visitor& on_entry);

}  // namespace syncline::cli::detail
