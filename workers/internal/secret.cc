#include "workers/internal/secret.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace syncline::workers::internal {

result<std::optional<std::string>> take_secret(uri_options& options, const std::string& name,
                                               const std::string& shown_prefix) {
    const std::string env_option = name + "_env", file_option = name + "_file";
    const std::string shown_env = shown_prefix + env_option, shown_file = shown_prefix + file_option;
    if (options.take(name))
        return options.error("the " + name + " never goes into the URI (URIs are logged): use " + shown_env +
                             "=NAME or " + shown_file + "=PATH");
    auto env = options.take(env_option);
    auto file = options.take(file_option);
    if (env && file) return options.error("give " + shown_env + " or " + shown_file + ", not both");
    if (env) {
        const char* value = std::getenv(env->c_str());
        if (value == nullptr || *value == '\0')
            return options.error("environment variable " + *env + " (" + shown_env + ") is not set or empty");
        return std::optional<std::string>(value);
    }
    if (file) {
        std::ifstream in(*file, std::ios::binary);
        if (!in) return options.error("cannot read " + shown_file + " " + *file + ": " + std::strerror(errno));
        std::ostringstream text;
        text << in.rdbuf();
        std::string secret = text.str();
        while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
        if (secret.empty()) return options.error(shown_file + " " + *file + " is empty");
        return std::optional<std::string>(std::move(secret));
    }
    return std::optional<std::string>();
}

}  // namespace syncline::workers::internal
