// transform_bench: the cost of a Lua transform per record, in one thread (what one worker pays),
// without the pipeline (docs/benchmarks.md "Processing"). Runs each script over the same records
// and prints microseconds per record.
// Usage: transform_bench [--records N] [--script FILE]...   (default: built-in scripts)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "workers/transform.h"

namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;
using namespace syncline;

double run(workers::lua_transform& t, const std::vector<record_view>& records, std::size_t& outputs) {
    const auto began = std::chrono::steady_clock::now();
    outputs = 0;
    for (const auto& r : records) {
        auto out = t.apply(r);
        outputs += out.what == workers::lua_transform::outcome::kind::unchanged ? 1 : out.records.size();
    }
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - began).count();
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 200'000;
    std::vector<std::string> scripts;
    po::options_description desc("transform_bench");
    desc.add_options()("records", po::value(&n))("script", po::value(&scripts)->composing());
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);

    const fs::path dir = fs::temp_directory_path() / ("syncline-transform-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    if (scripts.empty()) {
        const std::pair<const char*, const char*> builtin[] = {
            {"identity.lua", "function transform(rec) return rec end\n"},
            {"read_value.lua", "function transform(rec) local v = rec.value; return rec end\n"},
            {"mask_field.lua",
             "function transform(rec) local v = rec.value; if type(v) == 'table' and v.email then "
             "v.email = string.sub(v.email, 1, 1) .. '***' end; return rec end\n"},
        };
        for (const auto& [name, text] : builtin) {
            std::ofstream((dir / name).string()) << text;
            scripts.push_back((dir / name).string());
        }
    }
    std::vector<std::string> values;
    values.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        values.push_back("{\"id\":" + std::to_string(i) + ",\"email\":\"user" + std::to_string(i) +
                         "@example.com\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
    std::vector<record_view> records(n);
    for (std::size_t i = 0; i < n; ++i) {
        records[i].offset = i + 1;
        records[i].collection = "users";
        records[i].key = "k";
        records[i].value = values[i];
    }
    std::printf("| script | records | us/record | records/s (one thread) |\n|---|---:|---:|---:|\n");
    for (const auto& path : scripts) {
        auto t = workers::lua_transform::load(path);
        if (!t.ok()) {
            std::fprintf(stderr, "%s\n", t.get_status().message().c_str());
            return 2;
        }
        std::size_t outputs = 0;
        run(**t, records, outputs);  // Warm-up.
        const double us = run(**t, records, outputs);
        std::printf("| %s | %zu | %.3f | %.0f |\n", fs::path(path).filename().c_str(), n, us / static_cast<double>(n),
                    static_cast<double>(n) / (us / 1e6));
    }
    fs::remove_all(dir);
    return 0;
}
