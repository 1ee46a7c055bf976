// `syncline capture ...`: runs the sibling binary syncline-capture (capture/capture.h) in place,
// with the same arguments, the way `syncline run` finds its daemons (SYNCLINE_BIN_DIR, else the
// directory of this executable).
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/internal/command_util.h"
#include "cli/syncline_cli.h"
#include "common/process.h"

namespace syncline::cli {

int capture_command(int argc, const char* const* argv) {
    namespace fs = std::filesystem;
    fs::path dir;
    if (const char* env = std::getenv("SYNCLINE_BIN_DIR"); env && *env) {
        dir = env;
    } else {
        std::error_code ec;
        auto self = fs::read_symlink("/proc/self/exe", ec);
        dir = ec ? fs::path(".") : self.parent_path();
    }
    const std::string program = (dir / "syncline-capture").string();
    std::vector<char*> args;
    args.push_back(const_cast<char*>(program.c_str()));
    for (int i = 1; i < argc; ++i) args.push_back(const_cast<char*>(argv[i]));
    args.push_back(nullptr);
    ::execv(program.c_str(), args.data());
    return internal::failure("capture", "cannot run " + program + ": " + std::strerror(errno));
}

}  // namespace syncline::cli
