#include "workers/internal/secret.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace syncline::workers::internal {

result<std::optional<std::string>> take_secret(uri_options& options, const std::string& env_option,
                                               const std::string& file_option) {
    auto env = options.take(env_option);
    auto file = options.take(file_option);
    if (env && file) return options.error("give " + env_option + " or " + file_option + ", not both");
    if (env) {
        const char* value = std::getenv(env->c_str());
        if (value == nullptr || *value == '\0')
            return options.error("environment variable " + *env + " (" + env_option + ") is not set or empty");
        return std::optional<std::string>(value);
    }
    if (!file) return std::optional<std::string>();
    std::ifstream in(*file, std::ios::binary);
    if (!in) return options.error("cannot read " + file_option + " " + *file + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    std::string secret = text.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) return options.error(file_option + " " + *file + " is empty");
    return std::optional<std::string>(std::move(secret));
}

}  // namespace syncline::workers::internal
