// `syncline capture ...`: runs the sibling binary syncline-capture (capture/capture.h) in place,
// with the same arguments, the way `syncline run` finds its daemons (SYNCLINE_BIN_DIR, else the
// directory of this executable).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "cli/internal/command_util.h"
#include "cli/syncline_cli.h"
#include "common/bin_dir.h"
#include "common/process.h"

namespace syncline::cli {

int capture_command(int argc, const char* const* argv) {
    const std::string program = (default_bin_dir() / "syncline-capture").string();
    std::vector<char*> args;
    args.push_back(const_cast<char*>(program.c_str()));
    for (int i = 1; i < argc; ++i) args.push_back(const_cast<char*>(argv[i]));
    args.push_back(nullptr);
    ::execv(program.c_str(), args.data());
    return internal::failure("capture", "cannot run " + program + ": " + std::strerror(errno));
}

}  // namespace syncline::cli
