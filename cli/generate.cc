// `syncline generate`: appends deterministic sample records (cli/generate.h) in large batches.
// The generator fills a reused vector of records, so the store's append is the only real cost.
#include "cli/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <span>

#include "cli/display.h"
#include "cli/internal/appender.h"
#include "cli/internal/command_util.h"
#include "cli/progress.h"
#include "cli/syncline_cli.h"
#include "common/process.h"

namespace syncline::cli {

namespace {
constexpr std::size_t pad_source_bytes = 1u << 16;
}

record_generator::record_generator(const generate_options& options)
    : _options(options), _state(options.seed ^ 0x9e3779b97f4a7c15ull) {
    if (_options.collections.empty()) _options.collections.push_back("events");
    if (_options.keys == 0) _options.keys = 1;
    const double ratio = std::clamp(_options.delete_ratio, 0.0, 1.0);
    _delete_threshold = ratio >= 1.0 ? UINT64_MAX : static_cast<std::uint64_t>(std::ldexp(ratio, 64));
    // Random letters rather than one repeated byte: compression must not make the values free.
    static constexpr char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    _pad_source.resize(pad_source_bytes);
    for (auto& c : _pad_source) c = letters[random() % (sizeof letters - 1)];
}

// splitmix64: tiny, fast, and the same on every platform (std distributions are not).
std::uint64_t record_generator::random() {
    std::uint64_t z = (_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void record_generator::next(record& out) {
    const std::uint64_t n = ++_sequence;
    out.offset = 0;
    out.ts_ms = 0;
    out.headers.clear();
    out.collection = _options.collections[random() % _options.collections.size()];
    const std::uint64_t id = random() % _options.keys;
    char buf[64];
    int len = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(id));
    out.key.assign(buf, static_cast<std::size_t>(len));
    if (random() < _delete_threshold) {
        out.operation = op::del;
        out.value.clear();
        return;
    }
    out.operation = op::upsert;
    len = std::snprintf(buf, sizeof buf, "{\"id\":%llu,\"n\":%llu,\"pad\":\"", static_cast<unsigned long long>(id),
                        static_cast<unsigned long long>(n));
    out.value.assign(buf, static_cast<std::size_t>(len));
    const std::size_t fixed = out.value.size() + 2;  // Plus the closing "}.
    std::size_t pad = _options.value_bytes > fixed ? _options.value_bytes - fixed : 0;
    while (pad > 0) {
        const std::size_t start = random() % pad_source_bytes;
        const std::size_t take = std::min(pad, pad_source_bytes - start);
        out.value.append(_pad_source, start, take);
        pad -= take;
    }
    out.value += "\"}";
}

int generate_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "generate";
    using internal::failure;
    using internal::usage_error;

    generate_options g;
    std::string log_path, via, records_text, keys_text = "100000", collections = "users,orders,events", seed_text = "1";
    std::string value_bytes_text = "100";
    std::size_t batch_size = 1000;
    bool no_sync = false;
    po::options_description desc("generate options");
    desc.add_options()
        ("log", po::value(&log_path)->value_name("DIR"), "change log directory (created if missing)")
        ("via", po::value(&via)->value_name("ENDPOINT"), "append through the gateway listening there (tcp:// or ipc://) instead of --log")
        ("records", po::value(&records_text)->required()->value_name("N"), "number of records to append")
        ("keys", po::value(&keys_text)->default_value(keys_text)->value_name("K"), "distinct keys per collection")
        ("collections", po::value(&collections)->default_value(collections)->value_name("LIST"),
         "comma-separated collection names")
        ("delete-ratio", po::value(&g.delete_ratio)->default_value(g.delete_ratio)->value_name("R"),
         "share of deletes, 0..1")
        ("value-bytes", po::value(&value_bytes_text)->default_value(value_bytes_text)->value_name("BYTES"),
         "approximate size of each JSON value")
        ("seed", po::value(&seed_text)->default_value(seed_text)->value_name("S"), "random seed (same seed, same records)")
        ("batch-size", po::value(&batch_size)->default_value(batch_size)->value_name("N"), "records per append")
        ("no-sync", po::bool_switch(&no_sync), "do not fsync each append (faster; a crash may lose the last appends)");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline generate (--log DIR | --via ENDPOINT) --records N [--keys K] [--collections a,b,c]\n"
                        "         [--delete-ratio R] [--value-bytes B] [--seed S] [--batch-size N]\n\n"
                        "Appends N deterministic sample changes: upserts with JSON values\n"
                        "{\"id\":..,\"n\":..,\"pad\":\"..\"} and deletes, over repeated keys in several collections.\n"
                        "Progress goes to stderr (one updating bar with rate and ETA on a terminal, a line per\n"
                        "10% otherwise); the last line on stdout is `appended N records: offsets A..B`.");
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;

    std::uint64_t records = 0;
    if (!parse_u64(records_text, records) || records < 1) return usage_error(cmd, "--records must be a positive integer");
    if (!parse_u64(keys_text, g.keys) || g.keys < 1) return usage_error(cmd, "--keys must be a positive integer");
    if (!parse_u64(seed_text, g.seed)) return usage_error(cmd, "--seed must be a non-negative integer");
    auto vb = internal::parse_size("--value-bytes", value_bytes_text);
    if (!vb.ok()) return usage_error(cmd, vb.get_status().message());
    if (*vb > (16u << 20)) return usage_error(cmd, "--value-bytes must be at most 16MiB");
    g.value_bytes = static_cast<std::size_t>(*vb);
    if (!(g.delete_ratio >= 0.0 && g.delete_ratio <= 1.0)) return usage_error(cmd, "--delete-ratio must be between 0 and 1");
    if (batch_size < 1 || batch_size > 1'000'000) return usage_error(cmd, "--batch-size must be between 1 and 1000000");
    g.collections.clear();
    for (std::size_t start = 0; start <= collections.size();) {
        std::size_t comma = collections.find(',', start);
        if (comma == std::string::npos) comma = collections.size();
        const std::string name = collections.substr(start, comma - start);
        if (name.empty()) return usage_error(cmd, "--collections: empty collection name in '" + collections + "'");
        g.collections.push_back(name);
        start = comma + 1;
    }

    if (log_path.empty() && via.empty()) return usage_error(cmd, "give --log DIR, or --via ENDPOINT to append through a gateway");
    if (!log_path.empty() && !via.empty()) return usage_error(cmd, "give --log or --via, not both");
    if (!via.empty() && no_sync) return usage_error(cmd, "--no-sync has no effect with --via (the gateway's own --no-sync decides)");
    auto log = internal::open_appender(log_path, via, !no_sync);
    if (!via.empty()) log_path = "gateway " + via;
    if (!log.ok()) return failure(cmd, log.get_status().message());

    const stop_flag stop = install_stop_handlers();
    record_generator gen(g);
    std::vector<record> batch(std::min<std::uint64_t>(batch_size, records));
    std::uint64_t done = 0, first = 0, last = 0;
    const std::uint64_t progress_step = std::max<std::uint64_t>(records / 10, 1);
    std::uint64_t next_progress = progress_step;
    const auto started = std::chrono::steady_clock::now();
    std::optional<progress_line> bar;
    bar.emplace("generate");
    while (done < records) {
        if (stop.stop_requested()) {
            internal::warn(cmd, "interrupted; " + internal::appended_summary(done, first, last));
            break;
        }
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(batch.size(), records - done));
        for (std::size_t i = 0; i < n; ++i) gen.next(batch[i]);
        auto range = (*log)->append(std::span<record>(batch.data(), n));
        if (!range.ok())
            return failure(cmd, "append to " + log_path + " failed: " + range.get_status().message() + "; " +
                                    (done == 0 ? std::string("nothing was appended")
                                               : "already " + internal::appended_summary(done, first, last)));
        if (done == 0) first = range->first;
        last = range->last;
        done += n;
        if (bar->active()) {
            bar->update(done, records, {}, done >= records);
        } else if (done >= next_progress && done < records) {
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            char line[160];
            std::snprintf(line, sizeof line, "generate: %llu/%llu records (%llu%%), %.0f records/s\n",
                          static_cast<unsigned long long>(done), static_cast<unsigned long long>(records),
                          static_cast<unsigned long long>(done * 100 / records), secs > 0 ? done / secs : 0.0);
            std::fputs(line, stderr);
            while (next_progress <= done) next_progress += progress_step;
        }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    bar.reset();  // Ends the bar's line before the summary.
    std::cout << internal::appended_summary(done, first, last) << '\n' << std::flush;
    char line[128];
    std::snprintf(line, sizeof line, "generate: %.2f s, %.0f records/s\n", secs, secs > 0 ? done / secs : 0.0);
    std::fputs(line, stderr);
    return exit_ok;
}

}  // namespace syncline::cli
