// Fuzz target: the INI config file every binary reads with --config (here `syncline run`'s,
// the launcher config, with its validation), and CurveZMQ key files (common/curve.h).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/runner.h"
#include "common/curve.h"
#include "common/log.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace syncline;
    // The parsers read files, so the input is one (per process, rewritten each run).
    static const std::string path = "/tmp/syncline-config-fuzz-" + std::to_string(getpid()) + ".ini";
    static const bool once = (set_log_level(log_level::error), std::atexit([] { std::remove(path.c_str()); }), true);
    (void)once;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return 0;
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    const char* argv[] = {"run", "--config", path.c_str()};
    (void)cli::parse_run_cli(3, argv);
    (void)curve::load_public_key(path);
    return 0;
}
