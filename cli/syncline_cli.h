#pragma once
// cli/syncline_cli.h: the `syncline` control tool as a library. `syncline_main` dispatches
// `syncline <command> [options]` through a table of subcommands (name -> function taking the
// command's own argc/argv, where argv[0] is the command's last word, and returning an exit code:
// 0 ok, 1 runtime failure, 2 bad usage or config). Adding a subcommand is one table entry in
// cli/commands.cc. Commands report every error as one line "syncline <cmd>: error: ..." and do
// not throw on bad input; main.cc holds the only catch-all (for bugs and std::bad_alloc).
#include <span>
#include <string_view>

namespace syncline::cli {

// A subcommand: argv[0] is its last word ("show" for `syncline log show`); returns an exit code.
using command_fn = int (*)(int argc, const char* const* argv);

struct command_entry {
    std::string_view name;     // One or two words: "append", "log show".
    command_fn run;
    std::string_view summary;  // One line for `syncline --help`.
};

// Every subcommand, in the order `syncline --help` lists them.
std::span<const command_entry> commands();

// The whole tool: `argv` as given to main.
int syncline_main(int argc, const char* const* argv);

// The subcommands (each also reachable through syncline_main).
int append_command(int argc, const char* const* argv);
int log_show_command(int argc, const char* const* argv);
int log_stats_command(int argc, const char* const* argv);
int offsets_show_command(int argc, const char* const* argv);
int offsets_set_command(int argc, const char* const* argv);
int generate_command(int argc, const char* const* argv);
int verify_command(int argc, const char* const* argv);
int run_command(int argc, const char* const* argv);  // cli/runner.h
int replay_command(int argc, const char* const* argv);    // cli/replay.cc
int log_trim_command(int argc, const char* const* argv);  // cli/trim.cc
int dlq_list_command(int argc, const char* const* argv);  // cli/dlq.cc
int dlq_show_command(int argc, const char* const* argv);
int dlq_retry_command(int argc, const char* const* argv);
int dlq_purge_command(int argc, const char* const* argv);
int config_check_command(int argc, const char* const* argv);  // cli/config_check.cc
int status_command(int argc, const char* const* argv);    // cli/status.cc
int keygen_command(int argc, const char* const* argv);    // cli/keygen.cc
int serve_command(int argc, const char* const* argv);     // cli/serve.cc: execs syncline-gateway
int capture_command(int argc, const char* const* argv);   // cli/capture_command.cc: execs syncline-capture

}  // namespace syncline::cli
