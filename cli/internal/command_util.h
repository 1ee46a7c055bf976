#pragma once
// cli/internal/command_util.h: what every subcommand shares: option parsing through
// common/cli_options.h, one-line error reports ("syncline <cmd>: error: ..."), size options with
// unit suffixes, and opening the stores with messages worded for operators.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/cli_options.h"
#include "common/status.h"
#include "store/change_log.h"

namespace syncline::cli::internal {

// "syncline <cmd>: error: <msg>" on stderr; exit_usage / exit_failure.
int usage_error(std::string_view cmd, std::string_view msg);
int failure(std::string_view cmd, std::string_view msg);
// "syncline <cmd>: warning: <msg>" on stderr.
void warn(std::string_view cmd, std::string_view msg);

// argv with "--opt -5" joined into "--opt=-5" for each option in `signed_options`: Boost would
// otherwise read "-5" as an unknown short option.
std::vector<const char*> join_negative_values(int argc, const char* const* argv,
                                              std::initializer_list<std::string_view> signed_options,
                                              std::vector<std::string>& storage);

// A non-negative decimal integer; invalid_argument naming `option` otherwise. (Boost would
// accept "-1" for an unsigned option and wrap it around.)
result<std::uint64_t> parse_count(std::string_view option, std::string_view text);

// Bytes from "1048576", "64K", "64KiB", "1M", "1MiB", "2G", "2GiB" (powers of 1024).
result<std::uint64_t> parse_size(std::string_view option, std::string_view text);

// The log as its single writer; errors worded for the user ("is locked by another writer", "is
// not a syncline change log"), without the "syncline <cmd>: error: " prefix. `sync`: fsync every
// append (change_log_options::sync).
result<std::unique_ptr<store::change_log>> open_log_writer(const std::string& path, bool sync = true);
// The log as a reader (works while a writer appends); not_found when the directory is missing.
result<std::unique_ptr<store::change_log>> open_log_reader(const std::string& path);

// The keys of a pipeline file (`syncline run`'s options), for parse(): verify, replay and dlq read
// the same file and skip the keys they do not use.
const po::options_description& pipeline_file_keys();


// "appended N records: offsets a..b" (or "appended 0 records").
std::string appended_summary(std::uint64_t count, std::uint64_t first, std::uint64_t last);

}  // namespace syncline::cli::internal
