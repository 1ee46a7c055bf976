#include "common/cli_options.h"

#include "common/zmq_util.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "common/log.h"

#ifndef SYNCLINE_VERSION
#define SYNCLINE_VERSION "0.1.0"
#endif

namespace syncline::cli {
namespace {

// Callers pass "endpoint" or "--endpoint"; messages always show the flag as typed by users.
std::string flag(std::string_view option) {
    if (option.starts_with("-")) return std::string(option);
    return "--" + std::string(option);
}

status invalid(std::string msg) { return status{errc::invalid_argument, std::move(msg)}; }

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

bool printable(std::string_view s) {
    for (unsigned char c : s)
        if (c <= 0x20 || c == 0x7f) return false;
    return true;
}

bool names_a_secret(std::string_view name) {
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // password_env=VAR, secret_file=PATH: they say where the secret is, which is worth showing.
    for (const char* where : {"_env", "_file", "-env", "-file"})
        if (lower.ends_with(where)) return false;
    for (const char* word : {"password", "passwd", "secret", "token"})
        if (lower.find(word) != std::string::npos) return true;
    return false;
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

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return "";
    const auto last = s.find_last_not_of(" \t\r");
    return std::string(s.substr(first, last - first + 1));
}

// INI as Boost.Program_options reads it: `key = value`, `[section]` prefixing keys with
// "section.", comments from '#' or ';' at the start of a line or '#' after a space (a '#' inside
// a value, as in a URI fragment, stays).
void read_config_file(const po::options_description& desc, const std::string& path, parse_outcome& out,
                      std::vector<std::string>& problems, const po::options_description* pipeline_file_keys = nullptr) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        problems.push_back(path + ": is a directory, not a config file");
        return;
    }
    std::ifstream file(path);
    if (!file) {
        problems.push_back(path + ": cannot read config file");
        return;
    }
    std::string section;
    std::map<std::string, int> first_line;
    int number = 0;
    for (std::string raw; std::getline(file, raw);) {
        ++number;
        std::string line = trim(raw);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        for (std::size_t hash = line.find('#'); hash != std::string::npos; hash = line.find('#', hash + 1)) {
            if (line[hash - 1] == ' ' || line[hash - 1] == '\t') {
                line = trim(line.substr(0, hash));
                break;
            }
        }
        const std::string where = path + ":" + std::to_string(number);
        if (line.front() == '[') {
            if (line.back() != ']') {
                problems.push_back(where + ": unterminated section header '" + line + "'");
                continue;
            }
            section = trim(line.substr(1, line.size() - 2));
            if (!section.empty()) section += '.';
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string::npos) {
            problems.push_back(where + ": expected 'key = value', got '" + line + "'");
            continue;
        }
        const std::string key = section + trim(std::string_view(line).substr(0, eq));
        if (key.empty() || key == section) {
            problems.push_back(where + ": missing key before '='");
            continue;
        }
        if (const auto [it, fresh] = first_line.emplace(key, number); !fresh) {
            problems.push_back(where + ": key '" + key + "': set twice (first on line " + std::to_string(it->second) + ")");
            continue;
        }
        apply(desc, out, key, trim(std::string_view(line).substr(eq + 1)), {value_source::config_file, where}, problems,
              pipeline_file_keys);
    }
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

namespace {

// The [begin, end) spans of `value` that are secret: the whole value for an option named like a
// secret, a URI's password (scheme://user:password@host) and secret query values (?password=x).
std::vector<std::pair<std::size_t, std::size_t>> secret_spans(std::string_view option, std::string_view value) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    if (value.empty()) return spans;
    if (names_a_secret(option)) return {{0, value.size()}};
    std::size_t query_from = 0;
    if (const auto scheme_end = value.find("://"); scheme_end != std::string_view::npos) {
        const auto authority = scheme_end + 3;
        // The userinfo ends at the last '@' before the query: a password may hold a raw '/' or '@'.
        const auto authority_end = std::min(value.find_first_of("?#", authority), value.size());
        const auto at = value.rfind('@', authority_end);
        if (at != std::string_view::npos && at > authority) {
            const auto colon = value.find(':', authority);
            if (colon != std::string_view::npos && colon < at) {
                spans.emplace_back(colon + 1, at);
                query_from = at;
            }
        }
    }
    if (auto query = value.find('?', query_from); query != std::string_view::npos) {
        std::size_t pos = query + 1;
        while (pos < value.size()) {
            std::size_t end = value.find('&', pos);
            if (end == std::string_view::npos) end = value.size();
            const auto eq = value.find('=', pos);
            if (eq != std::string_view::npos && eq < end && names_a_secret(value.substr(pos, eq - pos)))
                spans.emplace_back(eq + 1, end);
            pos = end + 1;
        }
    }
    return spans;
}

}  // namespace

std::string redact_secrets(std::string_view option, std::string_view value) {
    if (value.empty()) return "";
    if (names_a_secret(option)) return "***";
    std::string out(value);
    const auto spans = secret_spans(option, value);
    for (auto it = spans.rbegin(); it != spans.rend(); ++it) out.replace(it->first, it->second - it->first, "***");
    return out;
}

void remember_secrets(std::string_view option, std::string_view value) {
    for (const auto& [begin, end] : secret_spans(option, value)) remember_secret(value.substr(begin, end - begin));
}

std::string redact_secrets_in(std::string text, std::string_view option, std::string_view value) {
    const std::string redacted = redact_secrets(option, value);
    if (value.empty() || redacted == value) return text;
    for (auto at = text.find(value); at != std::string::npos; at = text.find(value, at + redacted.size()))
        text.replace(at, value.size(), redacted);
    return text;
}

std::string env_name(std::string_view option) {
    std::string name = "SYNCLINE_";
    for (char c : option) name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return name;
}

status validate_endpoint_list(std::string_view option, std::string_view list) {
    const auto endpoints = zmqx::split_endpoints(list);
    if (endpoints.empty()) return invalid(flag(option) + ": no endpoint given");
    for (const auto& endpoint : endpoints) SYNCLINE_RETURN_IF_ERROR(validate_endpoint(option, endpoint));
    return {};
}

status validate_endpoint(std::string_view option, std::string_view endpoint) {
    auto bad = [&](std::string_view why) {
        return invalid(flag(option) + ": invalid endpoint '" + std::string(endpoint) + "': " + std::string(why));
    };
    if (!printable(endpoint)) return bad("contains spaces or control characters");
    if (endpoint.starts_with("tcp://")) {
        const std::string_view rest = endpoint.substr(6);
        const std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) return bad("expected tcp://host:port");
        const std::string_view host = rest.substr(0, colon);
        const std::string_view port = rest.substr(colon + 1);
        if (host.empty()) return bad("missing host (use * or 127.0.0.1)");
        if (host.front() == '[' && host.back() != ']') return bad("unbalanced [ in IPv6 host");
        if (port == "*") return {};
        if (port.empty() || port.size() > 5) return bad("port must be 1-65535 or *");
        unsigned value = 0;
        for (char c : port) {
            if (c < '0' || c > '9') return bad("port must be 1-65535 or *");
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value == 0 || value > 65535) return bad("port must be 1-65535 or *");
        return {};
    }
    if (endpoint.starts_with("ipc://")) {
        const std::string_view path = endpoint.substr(6);
        if (path.empty()) return bad("missing path");
        // sockaddr_un holds 107 path bytes plus the terminator; libzmq would fail later, vaguely.
        if (path.size() > 107) return bad("ipc path longer than 107 bytes");
        return {};
    }
    if (endpoint.starts_with("inproc://")) {
        if (endpoint.size() == 9) return bad("missing name");
        return {};
    }
    return bad("expected tcp://host:port, ipc://path or inproc://name");
}

status validate_name(std::string_view option, std::string_view name) {
    auto bad = [&](std::string_view why) {
        return invalid(flag(option) + ": invalid name '" + std::string(name) + "': " + std::string(why));
    };
    if (name.empty()) return bad("must not be empty");
    if (name.size() > 128) return bad("longer than 128 characters");
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) return bad("only letters, digits, '.', '_' and '-' are allowed");
    }
    // Names become path components and table names: "." and ".." would escape or alias a directory.
    if (name == "." || name == "..") return bad("'.' and '..' are reserved");
    return {};
}

}  // namespace syncline::cli
