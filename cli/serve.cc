// `syncline serve`: runs the ingest gateway, `syncline-gateway` from this program's directory, in
// place of this process (exec), so signals, exit codes and logs are the gateway's own.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "cli/internal/command_util.h"
#include "cli/syncline_cli.h"
#include "common/bin_dir.h"

namespace syncline::cli {

int serve_command(int argc, const char* const* argv) {
    const std::string binary = (default_bin_dir() / "syncline-gateway").string();
    std::vector<char*> args;
    args.push_back(const_cast<char*>(binary.c_str()));
    for (int i = 1; i < argc; ++i) args.push_back(const_cast<char*>(argv[i]));
    args.push_back(nullptr);
    ::execv(binary.c_str(), args.data());
    return internal::failure("serve", "cannot run " + binary + ": " + std::strerror(errno));
}

}  // namespace syncline::cli
