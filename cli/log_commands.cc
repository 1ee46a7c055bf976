// `syncline log show` and `syncline log stats`: read-only views of the change log. Both open the
// log as a reader (a RocksDB secondary), so they work while a writer appends.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/display.h"
#include "cli/internal/command_util.h"
#include "cli/internal/records.h"
#include "cli/syncline_cli.h"
#include "common/codec.h"
#include "common/process.h"

namespace syncline::cli {
namespace {

using internal::failure;
using internal::usage_error;
using ojson = nlohmann::ordered_json;

constexpr std::size_t value_display_chars = 80;
constexpr std::size_t scan_chunk_records = 1000;
constexpr std::size_t scan_chunk_bytes = 4u << 20;

// Writes `out` to stdout and clears it; false once stdout is gone (a closed pipe: `| head`).
bool flush_stdout(std::string& out) {
    if (!out.empty() && std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) return false;
    out.clear();
    return std::fflush(stdout) == 0;
}

void append_table_line(std::string& out, const record_view& r, int offset_width) {
    char num[32];
    std::snprintf(num, sizeof num, "%*llu", offset_width, static_cast<unsigned long long>(r.offset));
    out += num;
    out += "  ";
    out += format_iso_time(r.ts_ms);
    out += "  ";
    out += escape_for_display(r.collection, 40);
    out += r.operation == op::del ? "  delete  " : "  upsert  ";
    out += escape_for_display(r.key, 60);
    out += "  ";
    out += r.operation == op::del && r.value.empty() ? std::string("-") : escape_for_display(r.value, value_display_chars);
    if (!r.headers.empty()) {
        out += "  {";
        for (std::size_t i = 0; i < r.headers.size(); ++i) {
            if (i) out += ", ";
            out += escape_for_display(r.headers[i].first, 40);
            out += '=';
            out += escape_for_display(r.headers[i].second, 40);
        }
        out += '}';
    }
    out += '\n';
}

int digits_of(std::uint64_t v) {
    int n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

// The append time of the record at `offset`, if it is stored and decodes.
std::optional<std::int64_t> ts_at(const store::change_log& log, std::uint64_t offset) {
    auto stored = internal::read_stored_record(log, offset);
    if (!stored.ok() || !*stored) return std::nullopt;
    auto r = codec::decode_record(**stored);
    return r.ok() ? std::optional<std::int64_t>(r->ts_ms) : std::nullopt;
}

}  // namespace

int log_show_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "log show";
    std::string path;
    std::string from_text, limit_text;
    bool as_json = false;
    po::options_description desc("log show options");
    desc.add_options()
        ("log", po::value(&path)->required()->value_name("DIR"), "change log directory")
        ("from", po::value(&from_text)->value_name("N"), "first offset to show. Default: the first stored")
        ("limit", po::value(&limit_text)->value_name("K"), "show at most K records. Default: all")
        ("json", po::bool_switch(&as_json), "JSON Lines {offset, ts, collection, key, op, value, headers}");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline log show --log DIR [--from N] [--limit K] [--json]\n\n"
                        "Prints records in offset order, one per line: offset, append time (UTC), collection, op,\n"
                        "key and value (cut at 80 characters; control and invalid bytes shown as \\xNN). With\n"
                        "--json, the value is JSON when it parses as JSON, else a string. Works while a writer\n"
                        "appends.");
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;
    std::uint64_t from = 0, limit = 0;
    if (!from_text.empty()) {
        auto n = internal::parse_count("--from", from_text);
        if (!n.ok()) return usage_error(cmd, n.get_status().message());
        from = *n;
    }
    if (parsed->values.count("limit")) {
        auto n = internal::parse_count("--limit", limit_text);
        if (!n.ok()) return usage_error(cmd, n.get_status().message());
        if (*n == 0) return usage_error(cmd, "--limit must be at least 1");
        limit = *n;
    }

    auto log = internal::open_log_reader(path);
    if (!log.ok()) return failure(cmd, log.get_status().message());
    if (status s = (*log)->catch_up(); !s.ok()) return failure(cmd, "reading log " + path + ": " + s.message());
    const std::uint64_t last = (*log)->last_offset();
    const int width = digits_of(last);
    if (from == 0) from = 1;  // Offsets start at 1; scan() skips what retention trimmed.

    std::string out;
    std::uint64_t shown = 0, corrupt = 0;
    std::uint64_t next = from;
    bool stdout_ok = true;
    while (stdout_ok && (limit == 0 || shown < limit) && next <= last) {
        const std::size_t want = limit == 0 ? scan_chunk_records
                                            : static_cast<std::size_t>(std::min<std::uint64_t>(scan_chunk_records, limit - shown));
        std::uint64_t seen_last = 0;
        auto visited = (*log)->scan(next, want, scan_chunk_bytes, [&](std::uint64_t offset, std::string_view encoded) {
            seen_last = offset;
            auto r = codec::decode_record(encoded);
            if (!r.ok()) {
                ++corrupt;
                internal::warn(cmd, "offset " + std::to_string(offset) + ": cannot decode the record: " +
                                        r.get_status().message());
                return true;
            }
            if (as_json) internal::append_record_json_line(out, *r);
            else append_table_line(out, *r, width);
            ++shown;
            return true;
        });
        if (!visited.ok()) return failure(cmd, "reading log " + path + ": " + visited.get_status().message());
        if (*visited == 0) break;
        next = seen_last + 1;
        stdout_ok = flush_stdout(out);
    }
    if (stdout_ok) stdout_ok = flush_stdout(out);
    if (!stdout_ok) return exit_failure;  // The reader went away; nothing useful to say to it.
    if (corrupt > 0) return failure(cmd, std::to_string(corrupt) + " records could not be decoded (see above)");
    return exit_ok;
}

int log_stats_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "log stats";
    std::string path;
    bool as_json = false;
    po::options_description desc("log stats options");
    desc.add_options()
        ("log", po::value(&path)->required()->value_name("DIR"), "change log directory")
        ("json", po::bool_switch(&as_json), "one JSON object instead of text");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline log stats --log DIR [--json]\n\n"
                        "First and last offset, record count, first and last append time, size on disk and\n"
                        "records per collection. Works while a writer appends.");
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;

    auto log = internal::open_log_reader(path);
    if (!log.ok()) return failure(cmd, log.get_status().message());
    if (status s = (*log)->catch_up(); !s.ok()) return failure(cmd, "reading log " + path + ": " + s.message());
    auto st = (*log)->stats();
    if (!st.ok()) return failure(cmd, "reading log " + path + ": " + st.get_status().message());
    std::optional<std::int64_t> first_ts, last_ts;
    if (st->count > 0) {
        first_ts = ts_at(**log, st->first_offset);
        last_ts = ts_at(**log, st->last_offset);
    }

    if (as_json) {
        ojson j;
        j["log"] = path;
        j["count"] = st->count;
        j["first_offset"] = st->first_offset;
        j["last_offset"] = st->last_offset;
        j["first_ts"] = first_ts ? ojson(*first_ts) : ojson(nullptr);
        j["last_ts"] = last_ts ? ojson(*last_ts) : ojson(nullptr);
        j["disk_bytes"] = st->disk_bytes;
        ojson per = ojson::object();
        for (const auto& [name, n] : st->per_collection) per[name] = n;
        j["collections"] = std::move(per);
        std::cout << j.dump(-1, ' ', false, ojson::error_handler_t::replace) << '\n' << std::flush;
        return exit_ok;
    }

    std::string out;
    auto row = [&](std::string_view label, const std::string& value) {
        out += label;
        out.append(label.size() < 14 ? 14 - label.size() : 1, ' ');
        out += value;
        out += '\n';
    };
    row("log", path);
    row("records", std::to_string(st->count));
    row("offsets", st->count == 0 ? std::string("none (empty log)")
                                  : std::to_string(st->first_offset) + ".." + std::to_string(st->last_offset));
    if (first_ts) row("first append", format_iso_time(*first_ts));
    if (last_ts) row("last append", format_iso_time(*last_ts));
    row("size on disk", human_bytes(st->disk_bytes) + " (" + std::to_string(st->disk_bytes) + " bytes)");
    row("collections", std::to_string(st->per_collection.size()));
    std::size_t name_width = 0;
    for (const auto& [name, n] : st->per_collection) name_width = std::max(name_width, escape_for_display(name, 40).size());
    for (const auto& [name, n] : st->per_collection) {
        const std::string shown = escape_for_display(name, 40);
        out += "  " + shown + std::string(name_width - shown.size() + 2, ' ') + std::to_string(n) + '\n';
    }
    std::cout << out << std::flush;
    return exit_ok;
}

}  // namespace syncline::cli
