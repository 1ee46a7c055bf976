#include "targets/nats_format.h"

#include <fstream>


namespace syncline::targets {
namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

void append_escaped(std::string& out, unsigned char c) {
    out.push_back('%');
    out.push_back(hex_digits[c >> 4]);
    out.push_back(hex_digits[c & 0xF]);
}

// Subject tokens the server accepts and that match literally: printable ASCII without the
// separator and the wildcards.
bool valid_prefix(std::string_view prefix) {
    if (prefix.empty() || prefix.front() == '.' || prefix.back() == '.' || prefix.find("..") != std::string_view::npos)
        return false;
    for (unsigned char c : prefix)
        if (c < 0x21 || c > 0x7E || c == '*' || c == '>') return false;
    return true;
}

}  // namespace

std::string subject_token(std::string_view collection) {
    std::string out;
    out.reserve(collection.size());
    for (unsigned char c : collection) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (plain) out.push_back(static_cast<char>(c));
        else append_escaped(out, c);
    }
    return out;
}

std::string nats_subject(std::string_view prefix, std::string_view collection) {
    std::string subject(prefix);
    subject.push_back('.');
    subject += subject_token(collection);
    return subject;
}

std::string nats_msg_id(std::string_view pipeline, std::uint64_t offset) {
    return std::string(pipeline) + ":" + std::to_string(offset);
}

std::string header_escape(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (unsigned char c : bytes) {
        if (c < 0x21 || c > 0x7E || c == '%') append_escaped(out, c);
        else out.push_back(static_cast<char>(c));
    }
    return out;
}

result<nats_target_options> parse_nats_target_options(const internal::parsed_uri& p, internal::uri_options& options,
                                                      const std::string& pipeline) {
    if (!p.had_slashes) return options.error("write nats://HOST[:PORT]/SUBJECT-PREFIX");
    nats_target_options o;
    o.pipeline = pipeline;
    const auto slash = p.path.find('/');
    auto authority = internal::parse_authority(p.path.substr(0, slash), o.port, options);
    if (!authority.ok()) return authority.get_status();
    if (!authority->user.empty())
        return options.error("no user or token in the URI (it would be logged): use token_env, token_file or creds_file");
    o.host = std::move(authority->host);
    o.port = authority->port;
    auto prefix = internal::percent_decode(slash == std::string_view::npos ? std::string_view{} : p.path.substr(slash + 1));
    if (!prefix || !valid_prefix(*prefix))
        return options.error("the subject prefix must be dot-separated tokens of printable ASCII without '*' or '>' "
                             "(nats://HOST[:PORT]/SUBJECT-PREFIX)");
    o.prefix = std::move(*prefix);

    auto token = internal::take_secret(options, "token");
    if (!token.ok()) return token.get_status();
    if (token->has_value()) o.token = std::move(**token);
    if (auto creds = options.take("creds_file")) {
        if (!o.token.empty()) return options.error("give a token (token_env, token_file) or creds_file, not both");
        if (!std::ifstream(*creds)) return options.error("cannot read creds_file " + *creds);
        o.creds_file = std::move(*creds);
    }
    using std::chrono::milliseconds;
    auto connect_ms = options.take_duration("connect_timeout_ms", o.connect_timeout, milliseconds(1), milliseconds(600'000));
    if (!connect_ms.ok()) return connect_ms.get_status();
    o.connect_timeout = connect_ms.value();
    auto ack_ms = options.take_duration("ack_timeout_ms", o.ack_timeout, milliseconds(1), milliseconds(600'000));
    if (!ack_ms.ok()) return ack_ms.get_status();
    o.ack_timeout = ack_ms.value();
    if (auto stream = options.take("create_stream")) {
        // Stream names are one subject token without wildcards (the server's rule).
        if (stream->empty() || stream->size() > 255 || stream->find_first_of(". *>/\\\t\r\n") != std::string::npos)
            return options.error("create_stream must be a stream name: no '.', '*', '>', '/', '\\' or spaces");
        o.create_stream = std::move(*stream);
    }
    auto window = options.take_uint("duplicate_window_s", static_cast<std::uint64_t>(o.duplicate_window.count()), 1, 7 * 24 * 3600);
    if (!window.ok()) return window.get_status();
    o.duplicate_window = std::chrono::seconds(window.value());
    if (auto missing = options.take("missing_stream")) {
        if (*missing == "dead_letter") o.missing_stream_is_permanent = true;
        else if (*missing != "retry") return options.error("missing_stream must be retry or dead_letter, not '" + *missing + "'");
    }
    return o;
}

}  // namespace syncline::targets
