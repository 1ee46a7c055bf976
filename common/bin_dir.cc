#include "common/bin_dir.h"

#include <cstdlib>

namespace syncline {

std::filesystem::path default_bin_dir() {
    if (const char* env = std::getenv("SYNCLINE_BIN_DIR"); env && *env) return env;
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path(".") : self.parent_path();
}

}  // namespace syncline
