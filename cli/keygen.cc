// `syncline keygen`: writes a CurveZMQ key pair for a pipeline's sockets (docs/security.md):
// DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub. Existing files are never overwritten.
#include <cstdio>

#include "cli/internal/command_util.h"
#include "cli/syncline_cli.h"
#include "common/curve.h"
#include "common/process.h"

namespace syncline::cli {

int keygen_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "keygen";
    std::string out_dir, name;
    po::options_description desc("keygen options");
    desc.add_options()
        ("out", po::value(&out_dir)->required(), "directory for the key files (created with mode 0700 if missing)")
        ("name", po::value(&name)->required(),
         "key name: NAME.key and NAME.pub (e.g. server for the ventilator and sink, worker for workers)");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline keygen --out DIR --name NAME\n"
                        "Writes a CurveZMQ key pair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub.\n"
                        "A client is admitted once its NAME.pub is in the servers' --curve-allow directory.");
    if (!parsed.ok()) return internal::usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;
    if (auto s = validate_name("--name", name); !s.ok()) return internal::usage_error(cmd, s.message());

    auto keys = curve::generate();
    if (!keys.ok()) return internal::failure(cmd, keys.get_status().message());
    auto written = curve::write_key_pair(out_dir, name, *keys);
    if (!written.ok()) {
        return written.get_status().code() == errc::invalid_argument
                   ? internal::usage_error(cmd, written.get_status().message())
                   : internal::failure(cmd, written.get_status().message());
    }
    std::printf("wrote %s (secret, mode 0600) and %s\npublic key: %s\n", written->first.c_str(),
                written->second.c_str(), curve::to_z85(keys->public_key).c_str());
    return exit_ok;
}

}  // namespace syncline::cli
