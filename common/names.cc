#include "common/names.h"

#include <string>
#include <utility>

#include "common/internal/option_text.h"

namespace syncline {

std::string_view name_problem(std::string_view name) noexcept {
    if (name.empty()) return "must not be empty";
    if (name.size() > max_name_length) return "longer than 128 characters";
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) return "only letters, digits, '.', '_' and '-' are allowed";
    }
    // Names become path components and table names: "." and ".." would escape or alias a directory.
    if (name == "." || name == "..") return "'.' and '..' are reserved";
    return {};
}

namespace cli {

status validate_name(std::string_view option, std::string_view name) {
    const std::string_view problem = name_problem(name);
    if (problem.empty()) return {};
    return detail::invalid(detail::flag(option) + ": invalid name '" + std::string(name) + "': " +
                             std::string(problem));
}

status validate_pipeline_name(std::string_view option, std::string_view name) {
    SYNCLINE_RETURN_IF_ERROR(validate_name(option, name));
    for (const auto& [suffix, what] : {std::pair{run_dir_suffix, "is the run directory of pipeline"},
                                       std::pair{replay_suffix, "is the temporary pipeline `syncline replay` uses for"}}) {
        if (name.size() > suffix.size() && name.ends_with(suffix)) {
            const std::string base(name.substr(0, name.size() - suffix.size()));
            return detail::invalid(detail::flag(option) + ": '" + std::string(name) + "' is reserved: STATE/" +
                                   std::string(name) + " " + what + " '" + base + "' (choose a name not ending in " +
                                   std::string(suffix) + ")");
        }
    }
    return {};
}

}  // namespace cli
}  // namespace syncline
