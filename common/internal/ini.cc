#include "common/internal/ini.h"

#include <filesystem>
#include <fstream>
#include <map>

namespace syncline::cli::detail {
namespace {

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return "";
    const auto last = s.find_last_not_of(" \t\r");
    return std::string(s.substr(first, last - first + 1));
}

}  // namespace

void read_ini(const std::string& path, std::vector<std::string>& problems, const ini_visitor& on_entry) {
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
        on_entry(key, trim(std::string_view(line).substr(eq + 1)), where);
    }
}

}  // namespace syncline::cli::detail
