// The subcommand table and the top-level dispatch of `syncline`.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/internal/command_util.h"
#include "cli/syncline_cli.h"
#include "common/process.h"

#ifndef SYNCLINE_VERSION
#define SYNCLINE_VERSION "0.1.0"
#endif

namespace syncline::cli {
namespace {

// Adding a subcommand is one line here (and its function).
constexpr command_entry command_table[] = {
    {"append", append_command, "append JSON Lines changes to the change log"},
    {"log show", log_show_command, "print records of the change log"},
    {"log stats", log_stats_command, "offsets, counts, size on disk and collections of the change log"},
    {"log trim", log_trim_command, "delete records every pipeline has committed (prints the plan; --execute applies it)"},
    {"offsets show", offsets_show_command, "committed offset (and lag) of one or all pipelines"},
    {"offsets set", offsets_set_command, "rewind or skip a stopped pipeline (prints the plan; --execute applies it)"},
    {"serve", serve_command, "run the ingest gateway: producers publish over ZeroMQ and HTTP (syncline-gateway)"},
    {"generate", generate_command, "append deterministic sample changes (demo, benchmarks)"},
    {"run", run_command, "launch and supervise a whole pipeline (sink, workers, ventilator)"},
    {"status", status_command, "every pipeline: running or not, lag, rate, ETA, workers, dead letters, stalls"},
    {"replay", replay_command, "re-deliver offsets N..M into a target as a bounded pass, beside the running pipeline"},
    {"dlq list", dlq_list_command, "a pipeline's dead letters: offset, time, attempts, error"},
    {"dlq show", dlq_show_command, "dead letters in full, with the decoded record"},
    {"dlq retry", dlq_retry_command, "re-deliver dead-lettered records to a target; removes those that succeed"},
    {"dlq purge", dlq_purge_command, "remove dead letters of a stopped pipeline"},
    {"verify", verify_command, "compare a target with the log's state at the committed offset"},
    {"config check", config_check_command, "validate a pipeline config file and print the effective configuration"},
    {"capture", capture_command, "change capture from PostgreSQL into the change log (runs syncline-capture; docs/capture.md)"},
    {"keygen", keygen_command, "write a CurveZMQ key pair (NAME.key, NAME.pub) for secure pipelines"},
};

void print_help(std::FILE* out) {
    std::string text =
        "usage: syncline <command> [options]\n"
        "\n"
        "The syncline control tool. Commands:\n";
    std::size_t width = 0;
    for (const auto& c : command_table) width = std::max(width, c.name.size());
    for (const auto& c : command_table) {
        text += "  ";
        text += c.name;
        text.append(width - c.name.size() + 3, ' ');
        text += c.summary;
        text += '\n';
    }
    text +=
        "\n"
        "`syncline <command> --help` shows a command's options. Every command also takes --config FILE\n"
        "(INI, same names as the options), --log-level LEVEL and --log-format text|json; every option\n"
        "can also be set as SYNCLINE_<NAME> (SYNCLINE_WORKERS=8). Precedence: flag > env > file > default.\n"
        "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config (status: 3 when a pipeline is stalled).\n";
    std::fputs(text.c_str(), out);
    std::fflush(out);
}

// The entry whose words start argv[1..]: two-word names ("log show") win over one-word ones.
const command_entry* find_command(int argc, const char* const* argv, int& words) {
    for (const auto& c : command_table) {
        const auto space = c.name.find(' ');
        if (space == std::string_view::npos) {
            if (c.name == argv[1]) {
                words = 1;
                return &c;
            }
        } else if (argc > 2 && c.name.substr(0, space) == argv[1] && c.name.substr(space + 1) == argv[2]) {
            words = 2;
            return &c;
        }
    }
    return nullptr;
}

// "show or stats" for the group "log".
std::string group_members(std::string_view group) {
    std::string out;
    for (const auto& c : command_table) {
        const auto space = c.name.find(' ');
        if (space == std::string_view::npos || c.name.substr(0, space) != group) continue;
        if (!out.empty()) out += ", ";
        out += c.name.substr(space + 1);
    }
    return out;
}

}  // namespace

std::span<const command_entry> commands() { return command_table; }

int syncline_main(int argc, const char* const* argv) {
    if (argc < 2) {
        print_help(stderr);
        return exit_usage;
    }
    const std::string_view first = argv[1];
    if (first == "--help" || first == "-h" || first == "help") {
        if (first == "help" && argc > 2) {
            // `syncline help log show` == `syncline log show --help`.
            std::vector<const char*> args{argv[0]};
            for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
            args.push_back("--help");
            args.push_back(nullptr);
            return syncline_main(static_cast<int>(args.size()) - 1, args.data());
        }
        print_help(stdout);
        return exit_ok;
    }
    if (first == "--version") {
        std::fputs("syncline " SYNCLINE_VERSION "\n", stdout);
        return exit_ok;
    }
    int words = 0;
    if (const command_entry* c = find_command(argc, argv, words)) {
        // The command sees its last word as argv[0], like a program of its own.
        return c->run(argc - words, argv + words);
    }
    if (const std::string members = group_members(first); !members.empty()) {
        if (argc == 2 || std::string_view(argv[2]) == "--help" || std::string_view(argv[2]) == "-h") {
            const bool asked = argc > 2;
            std::string alternatives = members;
            for (auto pos = alternatives.find(", "); pos != std::string::npos; pos = alternatives.find(", "))
                alternatives.replace(pos, 2, "|");
            if (!asked) return internal::usage_error(first, "missing subcommand: one of " + members);
            std::printf("usage: syncline %s <%s> [options]\n", argv[1], alternatives.c_str());
            return exit_ok;
        }
        return internal::usage_error(first, "unknown subcommand '" + std::string(argv[2]) + "' (expected one of " +
                                                members + ")");
    }
    std::string msg = "unknown command '" + std::string(first) + "' (see syncline --help)";
    std::fprintf(stderr, "syncline: error: %s\n", msg.c_str());
    return exit_usage;
}

}  // namespace syncline::cli
