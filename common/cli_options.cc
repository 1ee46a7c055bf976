#include "common/cli_options.h"

#include "common/zmq_util.h"

#include <filesystem>
#include <fstream>
#include <iostream>

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

}  // namespace

result<parse_outcome> parse(int argc, const char* const* argv, po::options_description desc,
                            std::string_view usage, const po::positional_options_description* positional) {
    try {
        po::options_description general("General options");
        add_general(desc, general, "help,h", "help", nullptr, "Print this help and exit.");
        add_general(desc, general, "version", "version", nullptr, "Print the version and exit.");
        add_general(desc, general, "config", "config", po::value<std::string>()->value_name("FILE"),
                    "Read options from an INI file (same names as the flags; the command line wins).");
        add_general(desc, general, "log-level", "log-level", po::value<std::string>()->value_name("LEVEL"),
                    "debug|info|warn|error. Default: info, or $SYNCLINE_LOG_LEVEL.");
        desc.add(general);

        parse_outcome out;
        po::command_line_parser parser(argc, argv);
        parser.options(desc);
        // Without a positional description boost silently drops stray arguments; an empty one
        // makes them an error, so `syncline-sink orders` cannot quietly ignore "orders".
        const po::positional_options_description none;
        parser.positional(positional != nullptr ? *positional : none);
        po::store(parser.run(), out.values);

        // --help and --version come before notify(): required options must not block them.
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

        if (out.values.count("config")) {
            const std::string path = out.values["config"].as<std::string>();
            std::error_code ec;
            if (std::filesystem::is_directory(path, ec))
                return invalid("--config: '" + path + "' is a directory, not a config file");
            std::ifstream file(path);
            if (!file) return invalid("--config: cannot read config file '" + path + "'");
            try {
                // store() keeps values already present, which is what makes the command line win.
                po::store(po::parse_config_file(file, desc), out.values);
            } catch (const po::error& e) {
                return invalid("config file '" + path + "': " + e.what());
            }
        }
        po::notify(out.values);

        if (out.values.count("log-level")) {
            const std::string text = out.values["log-level"].as<std::string>();
            log_level level;
            if (!parse_log_level(text, level))
                return invalid("--log-level: unknown level '" + text + "' (expected debug, info, warn or error)");
            set_log_level(level);
        }
        return out;
    } catch (const po::error& e) {
        return invalid(e.what());
    } catch (const std::exception& e) {
        // Custom validators and notifiers may throw anything; it is still bad input.
        return invalid(e.what());
    }
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
