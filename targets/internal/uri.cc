#include "targets/internal/uri.h"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/log.h"

namespace syncline::targets::internal {

parsed_uri split_uri(std::string_view uri) {
    parsed_uri p;
    auto colon = uri.find(':');
    if (colon == std::string_view::npos) return p;
    p.scheme = uri.substr(0, colon);
    std::string_view rest = uri.substr(colon + 1);
    if (rest.starts_with("//")) {
        rest.remove_prefix(2);
        p.had_slashes = true;
    }
    auto q = rest.find('?');
    p.path = rest.substr(0, q);
    if (q != std::string_view::npos) p.query = rest.substr(q + 1);
    return p;
}

status uri_options::error(std::string_view why) const {
    return {errc::invalid_argument, "target URI '" + _uri + "': " + std::string(why) + " (" + _help + ")"};
}

status uri_options::parse(std::string_view query) {
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string_view::npos) return error("option '" + std::string(item) + "' needs a value");
        auto value = percent_decode(item.substr(eq + 1));
        if (!value) return error("option '" + std::string(item.substr(0, eq)) + "' has a bad %-escape");
        auto [it, inserted] = _values.emplace(std::string(item.substr(0, eq)), std::move(*value));
        if (!inserted) return error("option '" + it->first + "' given twice");
    }
    return {};
}

std::optional<std::string> uri_options::take(const std::string& name) {
    auto it = _values.find(name);
    if (it == _values.end()) return std::nullopt;
    std::string value = std::move(it->second);
    _values.erase(it);
    return value;
}

result<std::uint64_t> uri_options::take_uint(const std::string& name, std::uint64_t fallback, std::uint64_t min,
                                             std::uint64_t max) {
    auto text = take(name);
    if (!text) return fallback;
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc{} || end != text->data() + text->size() || n < min || n > max)
        return error(name + " must be " + std::to_string(min) + ".." + std::to_string(max) + ", not '" + *text + "'");
    return n;
}

status uri_options::take_timeouts(std::chrono::milliseconds& connect_timeout, std::chrono::milliseconds& timeout) {
    using std::chrono::milliseconds;
    auto connect = take_duration("connect_timeout_ms", connect_timeout, milliseconds(1), milliseconds(600'000));
    if (!connect.ok()) return connect.get_status();
    auto whole = take_duration("timeout_ms", timeout, milliseconds(1), milliseconds(3'600'000));
    if (!whole.ok()) return whole.get_status();
    connect_timeout = connect.value();
    timeout = whole.value();
    return {};
}

result<bool> uri_options::take_bool(const std::string& name, bool fallback) {
    auto text = take(name);
    if (!text) return fallback;
    if (*text == "true" || *text == "1" || *text == "yes") return true;
    if (*text == "false" || *text == "0" || *text == "no") return false;
    return error(name + " must be true or false, not '" + *text + "'");
}

status uri_options::reject_unknown() const {
    if (_values.empty()) return {};
    return error("unknown option '" + _values.begin()->first + "'");
}

result<std::string> read_text_file(const std::string& path, std::string_view what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return status{errc::invalid_argument, "cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno)};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

result<std::optional<std::string>> take_secret(uri_options& options, const std::string& name,
                                               std::string* file_path) {
    const std::string env_option = name + "_env", file_option = name + "_file";
    if (options.take(name))
        return options.error("the " + name + " never goes into the URI (URIs are logged): use " + env_option +
                             "=VARIABLE or " + file_option + "=PATH");
    const auto env = options.take(env_option);
    const auto file = options.take(file_option);
    if (env && file) return options.error("give " + env_option + " or " + file_option + ", not both");
    if (env) {
        const char* value = std::getenv(env->c_str());
        if (value == nullptr || *value == '\0')
            return options.error("environment variable " + *env + " (" + env_option + ") is not set or empty");
        if (std::strlen(value) < min_secret_bytes)
            return options.error("environment variable " + *env + " (" + env_option + ") holds a secret of fewer than " +
                                 std::to_string(min_secret_bytes) + " bytes: secrets must be at least " +
                                 std::to_string(min_secret_bytes) + " bytes (shorter ones cannot be kept out of logs)");
        remember_secret(value);  // No surface of this process shows it (common/log.h).
        return std::optional<std::string>(value);
    }
    if (!file) return std::optional<std::string>();
    auto text = read_text_file(*file, file_option);
    if (!text.ok()) return options.error(text.get_status().message());
    std::string secret = std::move(text.value());
    // `echo secret > file` leaves a line break that is not part of the secret.
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) return options.error(file_option + " " + *file + " is empty");
    if (secret.size() < min_secret_bytes)
        return options.error(file_option + " " + *file + " holds a secret of fewer than " + std::to_string(min_secret_bytes) +
                             " bytes: secrets must be at least " + std::to_string(min_secret_bytes) +
                             " bytes (shorter ones cannot be kept out of logs)");
    if (file_path != nullptr) *file_path = *file;
    remember_secret(secret);  // No surface of this process shows it (common/log.h).
    return std::optional<std::string>(std::move(secret));
}

result<std::string> require_secret(uri_options& options, const std::string& name, std::string_view prefix,
                                   std::string_view what, std::string* file_path) {
    auto secret = take_secret(options, name, file_path);
    if (!secret.ok()) return secret.get_status();
    if (!secret.value())
        return options.error("needs " + std::string(prefix) + name + "_env=NAME or " + std::string(prefix) + name +
                             "_file=PATH (" + std::string(what) + ")");
    return std::move(*secret.value());
}

result<authority> parse_authority(std::string_view text, int default_port, const uri_options& options,
                                  authority_rules rules) {
    authority out;
    out.port = default_port;
    if (const auto at = text.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = text.substr(0, at);
        text.remove_prefix(at + 1);
        if (userinfo.find(':') != std::string_view::npos)
            return options.error(
                "no password in the URI (it would be logged and shown by ps): use password_env=VAR or password_file=PATH");
        auto user = percent_decode(userinfo);
        if (!user || user->empty()) return options.error("bad user name '" + std::string(userinfo) + "'");
        out.user = std::move(*user);
    } else if (rules.user_required) {
        return options.error("no user: write USER@HOST");
    }
    std::string_view host = text;
    if (text.starts_with('[')) {  // [::1]:6379
        const auto close = text.find(']');
        if (close == std::string_view::npos) return options.error("unclosed '[' in the host");
        host = text.substr(1, close - 1);
        text.remove_prefix(close + 1);
        if (!text.empty() && !text.starts_with(':')) return options.error("expected ':PORT' after ']'");
    } else {
        host = text.substr(0, text.find(':'));
        text.remove_prefix(host.size());
    }
    auto decoded = percent_decode(host);
    if (!decoded) return options.error("bad %-escape in the host");
    if (decoded->empty() && rules.host_required) return options.error("no host");
    out.host = std::move(*decoded);
    if (text.starts_with(':')) {
        const std::string_view port = text.substr(1);
        unsigned n = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
        if (port.empty() || port.size() > 5 || ec != std::errc{} || end != port.data() + port.size() || n == 0 ||
            n > 65535)
            return options.error("port must be 1..65535, not '" + std::string(port) + "'");
        out.port = static_cast<int>(n);
    }
    return out;
}

std::optional<std::string> percent_decode(std::string_view text) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

}  // namespace syncline::targets::internal
