#pragma once
// common/bin_dir.h: where the syncline-* binaries are, for a process that starts its siblings
// (`syncline run`, `syncline capture`, `syncline serve`, the fault injector).
#include <filesystem>

namespace syncline {

// $SYNCLINE_BIN_DIR when set and not empty, else the directory of this program (read from
// /proc/self/exe), else ".". Thread-safe.
std::filesystem::path default_bin_dir();

}  // namespace syncline
