#include "common/cli_options.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "common/internal/ini.h"
#include "common/internal/option_text.h"
#include "common/log.h"

#ifndef SYNCLINE_VERSION
#define SYNCLINE_VERSION "0.1.0"
#endif

namespace syncline::cli {
using detail::flag;
using detail::invalid;
namespace {

// Boost formats its messages by replacing "%value%"-style placeholders until none is left, so a
// value that itself contains "%value%" never finishes (found by fuzz/config_fuzz.cc). Its
// substitutions are protected: a derived class names them, and '%' in them is swapped for a
// character that cannot start a placeholder, then swapped back in the finished text.
struct placeholder_safe : po::error_with_option_name {
    static std::string message(const std::exception& e) {
        const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
        if (named == nullptr) return e.what();
        constexpr char stand_in = '\x1f';
        po::error_with_option_name copy = *named;
        for (auto& [placeholder, text] : copy.*(&placeholder_safe::m_substitutions))
            std::replace(text.begin(), text.end(), '%', stand_in);
        std::string formatted = copy.what();
        std::replace(formatted.begin(), formatted.end(), stand_in, '%');
        return formatted;
    }
};

// Adds a general option unless the component already declared one of that name.
void add_general(po::options_description& desc, po::options_description& general, const char* name,
                 const char* long_name, const po::value_semantic* value, const char* help) {
    if (desc.find_nothrow(long_name, false) != nullptr) {
        delete value;
        return;
    }
    if (value != nullptr) {
        general.add_options()(name, value, help);
    } else {
        general.add_options()(name, help);
    }
}

void add_general_options(po::options_description& desc) {
    po::options_description general("General options");
    add_general(desc, general, "help,h", "help", nullptr, "Print this help and exit.");
    add_general(desc, general, "version", "version", nullptr, "Print the version and exit.");
    add_general(desc, general, "config", "config", po::value<std::string>()->value_name("FILE"),
                "Read options from an INI file (same names as the flags). Precedence: command line, "
                "then SYNCLINE_* environment variables (SYNCLINE_WORKERS for --workers), then this file.");
    add_general(desc, general, "log-level", "log-level", po::value<std::string>()->value_name("LEVEL"),
                "debug|info|warn|error. Default: info.");
    add_general(desc, general, "log-format", "log-format", po::value<std::string>()->value_name("FORMAT"),
                "text|json (JSON lines: ts, level, process, pipeline, msg, fields). Default: text.");
    desc.add(general);
}

// Edit distance, for "did you mean".
std::size_t distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

std::string unknown_key(const po::options_description& desc, std::string_view key) {
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
    for (const auto& option : desc.options()) {
        const std::string& name = option->long_name();
        if (name == "help" || name == "version") continue;
        const std::size_t d = distance(key, name);
        if (d < best_distance) {
            best_distance = d;
            best = name;
        }
    }
    return best.empty() ? "unknown key" : "unknown key (did you mean '" + best + "'?)";
}

// Boost reads "-5" into an unsigned option as a huge number; no option of ours means that.
bool wraps_negative(const po::variable_value& stored, std::string_view text) {
    if (stored.empty() || text.find('-') == std::string_view::npos) return false;
    const boost::any& v = stored.value();
    const bool is_unsigned = boost::any_cast<unsigned>(&v) || boost::any_cast<unsigned long>(&v) ||
                             boost::any_cast<unsigned long long>(&v) || boost::any_cast<unsigned short>(&v);
    return is_unsigned && text.find_first_not_of(" \t") == text.find('-');
}

// Stores `key = value` from a lower-precedence source: validated always (so a bad value is
// reported even where a flag overrides it), kept only if no earlier source set the option.
void apply(const po::options_description& desc, parse_outcome& out, const std::string& key, const std::string& value,
           value_origin origin, std::vector<std::string>& problems,
           const po::options_description* pipeline_file_keys = nullptr) {
    const std::string where = origin.where + ": key '" + key + "': ";
    if (desc.find_nothrow(key, false) == nullptr) {
        if (pipeline_file_keys != nullptr && pipeline_file_keys->find_nothrow(key, false) != nullptr) return;
        problems.push_back(where + unknown_key(desc, key));
        return;
    }
    if (key == "help" || key == "version" || (key == "config" && origin.source == value_source::config_file)) {
        problems.push_back(where + "only valid on the command line");
        return;
    }
    po::parsed_options parsed(&desc);
    po::option option;
    option.string_key = key;
    option.value.push_back(value);
    option.original_tokens = {key, value};
    parsed.options.push_back(std::move(option));
    try {
        po::variables_map scratch;
        po::store(parsed, scratch);
        if (wraps_negative(scratch[key], value)) {
            problems.push_back(where + "must not be negative, got '" + value + "'");
            return;
        }
    } catch (const po::error& e) {
        problems.push_back(where + placeholder_safe::message(e));
        return;
    }
    const auto existing = out.values.find(key);
    if (existing != out.values.end() && !existing->second.defaulted()) return;
    po::store(parsed, out.values);
    out.origins[key] = std::move(origin);
}

void read_environment(const po::options_description& desc, const po::positional_options_description* positional,
                      parse_outcome& out, std::vector<std::string>& problems) {
    for (const auto& option : desc.options()) {
        const std::string& name = option->long_name();
        if (name.empty() || name == "help" || name == "version") continue;
        // A destructive confirmation comes from the command line only: an exported variable must
        // never turn every later `offsets set` / `log trim` dry run into the real thing.
        if (name == "execute") continue;
        bool is_positional = false;
        if (positional != nullptr)
            for (unsigned i = 0; i < positional->max_total_count() && i < 16; ++i)
                if (positional->name_for_position(i) == name) is_positional = true;
        if (is_positional) continue;
        const std::string var = env_name(name);
        const char* value = std::getenv(var.c_str());
        // An empty variable counts as unset, as `export SYNCLINE_X=` is often meant.
        if (value == nullptr || *value == '\0') continue;
        apply(desc, out, name, value, {value_source::environment, var}, problems);
    }
}

// The INI file `path` (internal/ini.h), each entry applied as from the config file.
void read_config_file(const po::options_description& desc, const std::string& path, parse_outcome& out,
                      std::vector<std::string>& problems, const po::options_description* pipeline_file_keys = nullptr) {
    detail::read_ini(path, problems, [&](const std::string& key, const std::string& value, const std::string& where) {
        apply(desc, out, key, value, {value_source::config_file, where}, problems, pipeline_file_keys);
    });
}

void note_defaults(const po::options_description& desc, parse_outcome& out) {
    for (const auto& option : desc.options())
        if (out.values.count(option->long_name()) && !out.origins.count(option->long_name()))
            out.origins[option->long_name()] = {value_source::default_value, ""};
}

// --log-level / --log-format, and the pipeline every log line names.
status apply_log_options(const parse_outcome& out) {
    if (out.values.count("log-level")) {
        const std::string text = out.values["log-level"].as<std::string>();
        log_level level;
        if (!parse_log_level(text, level))
            return out.locate("log-level", status{errc::invalid_argument,
                                                  "unknown level '" + text + "' (expected debug, info, warn or error)"});
        set_log_level(level);
    }
    if (out.values.count("log-format")) {
        const std::string text = out.values["log-format"].as<std::string>();
        log_format format;
        if (!parse_log_format(text, format))
            return out.locate("log-format",
                              status{errc::invalid_argument, "unknown format '" + text + "' (expected text or json)"});
        set_log_format(format);
    }
    if (const auto pipeline = out.values.find("pipeline"); pipeline != out.values.end())
        if (const auto* name = boost::any_cast<std::string>(&pipeline->second.value())) set_log_pipeline(*name);
    return {};
}

}  // namespace

result<parse_outcome> parse(int argc, const char* const* argv, po::options_description desc,
                            std::string_view usage, const po::positional_options_description* positional,
                            const po::options_description* pipeline_file_keys) {
    try {
        add_general_options(desc);
        parse_outcome out;
        po::command_line_parser parser(argc, argv);
        parser.options(desc);
        // Without a positional description boost silently drops stray arguments; an empty one
        // makes them an error, so `syncline-sink orders` cannot quietly ignore "orders".
        const po::positional_options_description none;
        parser.positional(positional != nullptr ? *positional : none);
        const po::parsed_options parsed = parser.run();
        po::store(parsed, out.values);
        for (const auto& option : parsed.options) {
            out.origins[option.string_key] = {value_source::command_line, flag(option.string_key)};
            if (!option.value.empty() && wraps_negative(out.values[option.string_key], option.value.front()))
                return invalid(flag(option.string_key) + ": must not be negative, got '" + option.value.front() + "'");
        }

        // --help and --version come before the rest: required options must not block them.
        if (out.values.count("help")) {
            std::cout << usage << "\n\n" << desc << std::flush;
            out.exit_now = true;
            return out;
        }
        if (out.values.count("version")) {
            std::cout << "syncline " SYNCLINE_VERSION "\n" << std::flush;
            out.exit_now = true;
            return out;
        }

        std::vector<std::string> problems;
        read_environment(desc, positional, out, problems);
        if (problems.empty() && out.values.count("config"))
            read_config_file(desc, out.values["config"].as<std::string>(), out, problems, pipeline_file_keys);
        if (!problems.empty()) return invalid(problems.front());
        po::notify(out.values);
        note_defaults(desc, out);
        // Every surface of this process is scrubbed of them from now on (log.h).
        for (const auto& [name, value] : out.values)
            if (const auto* text = boost::any_cast<std::string>(&value.value())) remember_secrets(name, *text);
        SYNCLINE_RETURN_IF_ERROR(apply_log_options(out));
        return out;
    } catch (const std::exception& e) {
        // Custom validators and notifiers may throw anything; it is still bad input.
        return invalid(placeholder_safe::message(e));
    }
}

config_check check_config_file(po::options_description desc, const std::string& path) {
    config_check check;
    auto& out = check.outcome;
    auto& problems = check.problems;
    try {
        add_general_options(desc);
        read_environment(desc, nullptr, out, problems);
        read_config_file(desc, path, out, problems);
        for (const auto& option : desc.options()) {
            const std::string& name = option->long_name();
            if (option->semantic()->is_required() && out.values.count(name) == 0)
                problems.push_back(path + ": key '" + name + "': required but missing");
        }
        if (!problems.empty()) return check;
        po::notify(out.values);
        note_defaults(desc, out);
        if (status s = apply_log_options(out); !s.ok()) problems.push_back(s.message());
    } catch (const std::exception& e) {
        problems.push_back(path + ": " + placeholder_safe::message(e));
    }
    return check;
}

std::string parse_outcome::locate(std::string_view option, std::string_view problem) const {
    for (const std::string_view prefix : {flag(option) + ": ", std::string(option) + ": "}) {
        if (problem.starts_with(prefix)) {
            problem.remove_prefix(prefix.size());
            break;
        }
    }
    const auto it = origins.find(option);
    const std::string key = "key '" + std::string(option) + "': " + std::string(problem);
    if (it == origins.end() || it->second.source == value_source::command_line)
        return flag(option) + ": " + std::string(problem);
    if (it->second.source == value_source::default_value) return key + " (the default)";
    return it->second.where + ": " + key;
}

status parse_outcome::locate(std::string_view option, const status& s) const {
    if (s.ok()) return s;
    return invalid(locate(option, s.message()));
}

std::string value_text(const parse_outcome& parsed, std::string_view option) {
    const auto found = parsed.values.find(std::string(option));
    if (found == parsed.values.end() || found->second.empty()) return "";
    const boost::any& v = found->second.value();
    std::string text;
    if (const auto* s = boost::any_cast<std::string>(&v)) text = *s;
    else if (const auto* b = boost::any_cast<bool>(&v)) text = *b ? "true" : "false";
    else if (const auto* i = boost::any_cast<int>(&v)) text = std::to_string(*i);
    else if (const auto* u = boost::any_cast<unsigned>(&v)) text = std::to_string(*u);
    else if (const auto* l = boost::any_cast<long>(&v)) text = std::to_string(*l);
    else if (const auto* ul = boost::any_cast<unsigned long>(&v)) text = std::to_string(*ul);
    else if (const auto* ull = boost::any_cast<unsigned long long>(&v)) text = std::to_string(*ull);
    else if (const auto* d = boost::any_cast<double>(&v)) text = std::to_string(*d);
    else text = "(set)";
    return redact_secrets(option, text);
}

std::string env_name(std::string_view option) {
    std::string name = "SYNCLINE_";
    for (char c : option) name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return name;
}

}  // namespace syncline::cli
