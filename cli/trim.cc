// `syncline log trim`: log retention. Deletes the records every pipeline under the state root
// has committed, never one a pipeline still needs. The plan is computed from the committed
// offsets read while the sinks run (they only move forward, except by `offsets set`, which an
// operator does not run against a trim in progress), and applied under the log's writer lock.
#include "cli/trim.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/internal/command_util.h"
#include "cli/syncline_cli.h"
#include "common/process.h"
#include "store/state_store.h"

namespace syncline::cli {
namespace {

using internal::failure;
using internal::usage_error;

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        if (!out.empty()) out += ", ";
        out += n;
    }
    return out;
}

std::string padded(std::string_view label, std::size_t width) {
    std::string out(label);
    out.append(width > label.size() ? width - label.size() : 1, ' ');
    return out;
}

}  // namespace

result<trim_plan> plan_trim(const trim_request& request) {
    trim_plan plan;
    std::optional<std::uint64_t> lowest;
    for (const auto& p : request.pipelines) {
        if (!p.committed) {
            plan.never_committed.push_back(p.name);
        } else if (!lowest || *p.committed < *lowest) {
            lowest = *p.committed;
            plan.limited_by = "pipeline " + p.name;
        }
    }
    if (!request.force_below) {
        if (request.pipelines.empty())
            return status{errc::invalid_argument,
                          "no pipeline has state under the state root, so nothing tells which records are still "
                          "needed: give --force-below N to delete the offsets below N anyway"};
        if (!plan.never_committed.empty())
            return status{errc::invalid_argument,
                          std::string(plan.never_committed.size() == 1 ? "pipeline " : "pipelines ") +
                              join(plan.never_committed) +
                              (plan.never_committed.size() == 1 ? " has" : " have") +
                              " never committed (it would start at the log's first offset): run it first, remove "
                              "its state, or give --force-below N to trim below N anyway"};
    }
    plan.below = lowest ? *lowest + 1 : UINT64_MAX;
    if (request.force_below && *request.force_below < plan.below) {
        plan.below = *request.force_below;
        plan.limited_by = "--force-below";
    }
    // Their only copy is in the log, whatever --force-below says.
    for (const auto& p : request.pipelines) {
        if (p.first_bare_dead_letter && *p.first_bare_dead_letter < plan.below) {
            plan.below = *p.first_bare_dead_letter;
            plan.limited_by = "dead letter " + std::to_string(*p.first_bare_dead_letter) + " of pipeline " + p.name +
                              ", which holds no copy of its record (its sink ran without --log): retry or purge it "
                              "with syncline dlq";
        }
    }
    // Never past the end of the log: offsets not yet appended are not "trimmed".
    if (plan.below > request.log_last + 1) plan.below = request.log_last + 1;
    if (request.log_first != 0 && plan.below > request.log_first)
        plan.records = std::min(plan.below - 1, request.log_last) - request.log_first + 1;
    return plan;
}

std::string describe_trim_plan(const trim_request& request, const trim_plan& plan) {
    std::string out;
    constexpr std::size_t width = 20;
    std::size_t name_width = 8;
    for (const auto& p : request.pipelines) name_width = std::max(name_width, p.name.size());
    out += request.pipelines.empty() ? padded("pipelines:", width) + "none\n" : std::string("pipelines:\n");
    for (const auto& p : request.pipelines) {
        out += "  " + padded(p.name, name_width + 2);
        out += p.committed ? "committed " + std::to_string(*p.committed)
                           : std::string("never committed (ignored: --force-below)");
        out += '\n';
    }
    out += padded("log:", width) +
           (request.log_first == 0 ? std::string("no stored records (last offset ") + std::to_string(request.log_last) + ")"
                                   : "offsets " + std::to_string(request.log_first) + ".." +
                                         std::to_string(request.log_last)) +
           "\n";
    out += padded("trim point:", width) + "delete offsets below " + std::to_string(plan.below);
    if (!plan.limited_by.empty()) out += " (set by " + plan.limited_by + ")";
    out += '\n';
    if (plan.deletes_nothing()) {
        out += padded("effect:", width) + "nothing to delete\n";
    } else {
        const std::uint64_t last_deleted = std::min(plan.below - 1, request.log_last);
        const std::uint64_t remain = request.log_last - last_deleted;
        out += padded("effect:", width) + "deletes " + std::to_string(plan.records) + " records (offsets " +
               std::to_string(request.log_first) + ".." + std::to_string(last_deleted) + "); " +
               std::to_string(remain) + " remain\n";
    }
    return out;
}

int log_trim_command(int argc, const char* const* argv) {
    constexpr std::string_view cmd = "log trim";
    std::string log_path, root, force_text;
    bool execute = false;
    po::options_description desc("log trim options");
    desc.add_options()
        ("log", po::value(&log_path)->required()->value_name("DIR"), "change log directory")
        ("state", po::value(&root)->required()->value_name("DIR"), "state root of every pipeline reading this log")
        ("force-below", po::value(&force_text)->value_name("N"),
         "trim below N even if some pipeline never committed (never above a committed pipeline's resume point)")
        ("execute", po::bool_switch(&execute), "delete the records (without it nothing changes)");
    auto parsed = parse(argc, argv, desc,
                        "usage: syncline log trim --log DIR --state DIR [--force-below N] [--execute]\n\n"
                        "Log retention: deletes the records below the lowest committed offset + 1 of ALL pipelines\n"
                        "under --state, so no pipeline loses a record it still needs. Prints the plan (each\n"
                        "pipeline's committed offset, the trim point, the records deleted) and changes nothing\n"
                        "unless --execute is given. Refused when a pipeline never committed (unless --force-below)\n"
                        "and, with --execute, while another process appends to the log (it needs the writer lock).\n"
                        "Pipelines reading this log from another state root are not seen: keep them under one.");
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;
    trim_request request;
    if (parsed->values.count("force-below")) {
        auto n = internal::parse_count("--force-below", force_text);
        if (!n.ok()) return usage_error(cmd, n.get_status().message());
        request.force_below = *n;
    }

    std::error_code ec;
    if (!std::filesystem::exists(log_path, ec)) return failure(cmd, "log " + log_path + " does not exist");
    if (!std::filesystem::is_directory(root, ec)) return failure(cmd, "state root " + root + " does not exist");

    // The writer lock first: the plan is made from what the log holds while nobody appends.
    std::string note;
    std::unique_ptr<store::change_log> log;
    auto writer = internal::open_log_writer(log_path);
    if (writer.ok()) {
        log = std::move(*writer);
    } else if (writer.get_status().code() == errc::busy && !execute) {
        note = "the log is locked by a writer: --execute will be refused until it stops";
        auto reader = internal::open_log_reader(log_path);
        if (!reader.ok()) return failure(cmd, reader.get_status().message());
        log = std::move(*reader);
    } else {
        return failure(cmd, writer.get_status().message() +
                                (writer.get_status().code() == errc::busy ? " (stop it, then trim)" : ""));
    }
    request.log_first = log->first_offset();
    request.log_last = log->last_offset();

    auto names = store::state_store::list_pipelines(root);
    if (!names.ok()) return failure(cmd, "listing pipelines under " + root + ": " + names.get_status().message());
    for (const auto& name : *names) {
        auto reader = store::state_store::open_reader(root, name);
        if (!reader.ok())
            return failure(cmd, "reading the state of pipeline " + name + ": " + reader.get_status().message());
        auto c = (*reader)->committed();
        if (!c.ok()) return failure(cmd, "reading the state of pipeline " + name + ": " + c.get_status().message());
        auto dead = (*reader)->dead_letters();
        if (!dead.ok()) return failure(cmd, "reading the dead letters of pipeline " + name + ": " + dead.get_status().message());
        std::optional<std::uint64_t> bare;
        for (const auto& d : *dead)
            if (d.record.empty() && (!bare || d.offset < *bare)) bare = d.offset;
        request.pipelines.push_back({name, *c, bare});
    }

    auto plan = plan_trim(request);
    if (!plan.ok()) return failure(cmd, "refused: " + plan.get_status().message() + " (state root " + root + ")");
    std::string text = describe_trim_plan(request, *plan);
    if (!note.empty()) text += "note:               " + note + "\n";
    std::cout << text;
    if (!execute) {
        std::cout << "dry run: nothing changed; add --execute to delete these records\n" << std::flush;
        return exit_ok;
    }
    if (plan->deletes_nothing()) {
        std::cout << "done: nothing to delete\n" << std::flush;
        return exit_ok;
    }
    auto deleted = log->trim_below(plan->below);
    if (!deleted.ok()) return failure(cmd, "trimming log " + log_path + ": " + deleted.get_status().message());
    const std::uint64_t first = log->first_offset();
    std::cout << "done: deleted " << *deleted << " records; "
              << (first == 0 ? "the log holds no records now" : "the log now starts at offset " + std::to_string(first))
              << "\n" << std::flush;
    return exit_ok;
}

}  // namespace syncline::cli
