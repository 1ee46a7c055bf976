#include "targets/smtp_target.h"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "targets/internal/curl_http.h"
#include "targets/internal/text.h"
#include "targets/smtp_format.h"

namespace syncline::targets {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kept_reply_lines = 32;  // Of one transfer; only the last reply is reported.
constexpr std::size_t reply_excerpt_bytes = 300;

result<internal::message_template> take_template(internal::uri_options& options, const std::string& name,
                                                 std::string_view fallback) {
    auto text = options.take(name);
    auto parsed = internal::message_template::parse(text ? *text : fallback);
    if (!parsed.ok()) return options.error(name + ": " + parsed.get_status().message());
    return parsed;
}

// The body template inline (body=) or from a file (body_file=): long texts do not fit a URI.
result<internal::message_template> take_body(internal::uri_options& options) {
    auto file = options.take("body_file");
    if (!file) return take_template(options, "body", "{value}");
    if (options.take("body")) return options.error("give body or body_file, not both");
    std::ifstream in(*file, std::ios::binary);
    if (!in) return options.error("cannot read body_file " + *file + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = internal::message_template::parse(text.str());
    if (!parsed.ok()) return options.error("body_file " + *file + ": " + parsed.get_status().message());
    return parsed;
}

// "smtp://host:port" of the URI; user info and paths are refused.
result<std::string> server_url(const internal::parsed_uri& p, internal::uri_options& options) {
    if (!p.had_slashes) return options.error("write " + std::string(p.scheme) + "://HOST[:PORT]");
    std::string_view authority = p.path;
    if (authority.ends_with('/')) authority.remove_suffix(1);
    if (authority.find('@') != std::string_view::npos)
        return options.error("no user or password in the URI (it is logged): use ?user=NAME&password_file=PATH or password_env=VAR");
    if (authority.find('/') != std::string_view::npos) return options.error("no path after HOST[:PORT]");
    if (authority.empty()) return options.error("no host");
    std::string url = std::string(p.scheme) + "://" + std::string(authority);
    // Checked by libcurl's own URL parser (IPv6 literals, port range): what passes is what it connects to.
    SYNCLINE_RETURN_IF_ERROR(internal::check_curl_url(url, options));
    return url;
}

std::size_t read_message(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* upload = static_cast<std::pair<const std::string*, std::size_t>*>(user);
    const std::string& text = *upload->first;
    const std::size_t n = std::min(size * count, text.size() - upload->second);
    std::memcpy(buffer, text.data() + upload->second, n);
    upload->second += n;
    return n;
}

// libcurl hands every SMTP reply line to the header callback.
std::size_t keep_reply_line(char* data, std::size_t size, std::size_t count, void* user) {
    auto* lines = static_cast<std::vector<std::string>*>(user);
    std::string line(data, size * count);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (lines->size() == kept_reply_lines) lines->erase(lines->begin());
    lines->push_back(std::move(line));
    return size * count;
}

// One email to send and the records it carries.
struct email {
    std::string to;
    std::string subject;
    std::vector<std::string> bodies;     // One per record (a digest has several).
    std::vector<std::uint64_t> offsets;  // In order.
    std::int64_t ts_ms = 0;              // Of the last record: the Date header.
};

}  // namespace

result<smtp_target_options> parse_smtp_target_options(const internal::parsed_uri& p, internal::uri_options& options,
                                                      const std::string& pipeline) {
    smtp_target_options o;
    auto url = server_url(p, options);
    if (!url.ok()) return url.get_status();
    o.url = std::move(url.value());
    o.pipeline = pipeline;
    auto from = options.take("from");
    if (!from) return options.error("needs from=ADDRESS (the sender)");
    if (!smtp::plain_address(*from)) return options.error("from must be a plain address like alerts@example.com, not '" + *from + "'");
    o.from = std::move(*from);
    if (auto to = options.take("to")) {
        auto parsed = internal::message_template::parse(*to);
        if (!parsed.ok()) return options.error("to: " + parsed.get_status().message());
        o.to = std::move(parsed.value());
    } else {
        return options.error("needs to=TEMPLATE (the recipient, e.g. to={value.email})");
    }
    auto subject = take_template(options, "subject", "{collection} {key} {op}");
    if (!subject.ok()) return subject.get_status();
    o.subject = std::move(subject.value());
    auto body = take_body(options);
    if (!body.ok()) return body.get_status();
    o.body = std::move(body.value());
    if (auto mode = options.take("mode")) {
        if (*mode == "digest") o.mode = smtp_mode::digest;
        else if (*mode != "record") return options.error("mode must be record or digest, not '" + *mode + "'");
    }
    if (auto deletes = options.take("deletes")) {
        if (*deletes == "send") o.send_deletes = true;
        else if (*deletes != "skip") return options.error("deletes must be skip or send, not '" + *deletes + "'");
    }
    if (auto starttls = options.take("starttls")) {
        if (p.scheme == "smtps") return options.error("starttls is for smtp://; smtps:// is TLS from the start");
        if (*starttls == "required") o.starttls = smtp_starttls::required;
        else if (*starttls == "never") o.starttls = smtp_starttls::never;
        else if (*starttls != "try") return options.error("starttls must be try, required or never, not '" + *starttls + "'");
    }
    if (options.take("password"))
        return options.error("the password never goes into the URI (URIs are logged): use password_env=VAR or password_file=PATH");
    auto password = internal::take_secret(options, "password");
    if (!password.ok()) return password.get_status();
    if (auto user = options.take("user")) o.user = std::move(*user);
    if (password->has_value() != !o.user.empty()) return options.error("user and password_env/password_file go together");
    if (password->has_value()) o.password = std::move(**password);
    // The transport options of every libcurl target, with this target's defaults.
    auto transport = internal::take_transport_options(options, {o.connect_timeout, o.timeout, o.verify_tls, o.ca_file});
    if (!transport.ok()) return transport.get_status();
    o.connect_timeout = transport->connect_timeout;
    o.timeout = transport->timeout;
    o.verify_tls = transport->verify_tls;
    o.ca_file = std::move(transport->ca_file);
    return o;
}

struct smtp_target::impl {
    smtp_target_options options;
    CURL* curl = nullptr;
    std::vector<std::string> reply_lines;  // The server's reply lines of the current transfer.
    char error[CURL_ERROR_SIZE] = {};

    ~impl() {
        if (curl != nullptr) curl_easy_cleanup(curl);
    }

    // The message bytes of `e` (one record, or a digest's several for one recipient).
    std::string text_of(const email& e) const {
        smtp::message m;
        m.from = options.from;
        m.to = e.to;
        m.subject = e.subject;
        if (e.offsets.size() > 1) m.subject += " (+" + std::to_string(e.offsets.size() - 1) + " more)";
        m.date = smtp::date_header(e.ts_ms);
        m.message_id = smtp::message_id(options.pipeline, e.offsets.front(), e.offsets.back());
        m.offsets = std::to_string(e.offsets.front());
        if (e.offsets.size() > 1) m.offsets += "-" + std::to_string(e.offsets.back());
        m.body = e.bodies.size() == 1 ? e.bodies.front() : smtp::digest_body(e.bodies);
        return smtp::format_message(m);
    }

    // The server's last reply with status `code` (all lines of a multi-line one), for messages:
    // after a refusal libcurl still says QUIT, so the refusal is not the last line.
    std::string reply_with(long code) const {
        const std::string code_text = std::to_string(code);
        // "550-first", "550-more", "550 last".
        auto has_code = [&](const std::string& line, char separator) {
            return line.starts_with(code_text) && (line.size() == 3 || line[3] == separator);
        };
        auto last = std::find_if(reply_lines.rbegin(), reply_lines.rend(), [&](const std::string& line) { return has_code(line, ' '); });
        if (last == reply_lines.rend()) return "";
        auto first = last;
        while (std::next(first) != reply_lines.rend() && has_code(*std::next(first), '-')) ++first;
        std::string out;
        for (auto it = first.base() - 1; it != last.base(); ++it) out += (out.empty() ? "" : " ") + *it;
        return internal::printable(out, reply_excerpt_bytes);
    }

    // Sends one email; records a refusal in `out.failures`. false when the failure is transient
    // (then nothing of this delivery may count as done).
    bool send(const email& e, delivery_outcome& out) {
        const std::string text = text_of(e);
        const std::string rcpt = "<" + e.to + ">";
        curl_slist* recipients = curl_slist_append(nullptr, rcpt.c_str());
        SYNCLINE_CHECK(recipients != nullptr);
        std::pair<const std::string*, std::size_t> upload{&text, 0};
        curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
        curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(text.size()));
        reply_lines.clear();
        error[0] = '\0';
        const CURLcode rc = curl_easy_perform(curl);
        curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
        curl_slist_free_all(recipients);
        if (rc == CURLE_OK) return true;
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        std::string why = options.url + ": " + (error[0] ? error : curl_easy_strerror(rc));
        if (const std::string reply = reply_with(code); !reply.empty()) why += ": " + reply;
        // A refused login is the configuration's fault, not the message's: stall, do not drop.
        if (code >= 500 && code <= 599 && rc != CURLE_LOGIN_DENIED) {
            const std::string reason = "SMTP " + std::to_string(code) + " for " + rcpt + " from " + why;
            for (std::uint64_t offset : e.offsets) out.failures.push_back({offset, reason});
            return true;
        }
        out.transient = {errc::unavailable, "smtp " + why};
        return false;
    }

    // Renders one record into `e`; false (and a failure recorded) when it cannot fill a template.
    bool render(const record_view& r, email& e, delivery_outcome& out) const {
        auto refuse = [&](const status& s) {
            out.failures.push_back({r.offset, "smtp message of offset " + std::to_string(r.offset) + ": " + s.message()});
            return false;
        };
        auto to = options.to.render(r, options.pipeline, internal::template_escaping::header_line);
        if (!to.ok()) return refuse(to.get_status());
        if (!smtp::plain_address(*to))
            return refuse({errc::invalid_argument, "recipient '" + internal::printable(*to) + "' is not a plain address"});
        auto subject = options.subject.render(r, options.pipeline, internal::template_escaping::header_line);
        if (!subject.ok()) return refuse(subject.get_status());
        auto body = options.body.render(r, options.pipeline);
        if (!body.ok()) return refuse(body.get_status());
        e.to = std::move(*to);
        e.subject = std::move(*subject);
        e.bodies.push_back(std::move(*body));
        e.offsets.push_back(r.offset);
        e.ts_ms = r.ts_ms;
        return true;
    }
};

smtp_target::smtp_target(std::unique_ptr<impl> i) : _impl(std::move(i)) {}
smtp_target::~smtp_target() = default;

result<std::unique_ptr<smtp_target>> smtp_target::open(const smtp_target_options& opts) {
    internal::init_curl_once();
    auto i = std::make_unique<impl>();
    i->options = opts;
    i->curl = curl_easy_init();
    if (i->curl == nullptr) return status{errc::unavailable, "smtp " + opts.url + ": curl_easy_init failed"};
    CURL* c = i->curl;
    const std::string mail_from = "<" + opts.from + ">";
    const bool implicit_tls = opts.url.starts_with("smtps://");
    const long use_ssl = implicit_tls || opts.starttls == smtp_starttls::required ? CURLUSESSL_ALL
                         : opts.starttls == smtp_starttls::try_it               ? CURLUSESSL_TRY
                                                                                : CURLUSESSL_NONE;
    // One handle for the target's lifetime: libcurl keeps the SMTP connection open between
    // messages (a new MAIL FROM per message).
    bool ok = curl_easy_setopt(c, CURLOPT_URL, opts.url.c_str()) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str()) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_reply_line) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERDATA, &i->reply_lines) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USE_SSL, use_ssl) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count())) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count())) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, opts.verify_tls ? 1L : 0L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, opts.verify_tls ? 2L : 0L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_ERRORBUFFER, i->error) == CURLE_OK;
    if (ok && !opts.user.empty())
        ok = curl_easy_setopt(c, CURLOPT_USERNAME, opts.user.c_str()) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_PASSWORD, opts.password.c_str()) == CURLE_OK;
    if (ok && !opts.ca_file.empty()) ok = curl_easy_setopt(c, CURLOPT_CAINFO, opts.ca_file.c_str()) == CURLE_OK;
    if (!ok) return status{errc::invalid_argument, "smtp " + opts.url + ": libcurl refused the options"};
    return std::unique_ptr<smtp_target>(new smtp_target(std::move(i)));
}

delivery_outcome smtp_target::deliver(std::span<const record_view> records) {
    delivery_outcome out;
    std::vector<email> emails;  // In the order of their first record.
    for (const record_view& r : records) {
        if (r.operation == op::del && !_impl->options.send_deletes) continue;
        email e;
        if (!_impl->render(r, e, out)) continue;
        if (_impl->options.mode == smtp_mode::digest) {
            auto same = std::find_if(emails.begin(), emails.end(), [&](const email& d) { return d.to == e.to; });
            if (same != emails.end()) {
                same->bodies.push_back(std::move(e.bodies.front()));
                same->offsets.push_back(e.offsets.front());
                same->ts_ms = e.ts_ms;
                continue;
            }
        }
        emails.push_back(std::move(e));
    }
    for (const email& e : emails) {
        if (!_impl->send(e, out)) {
            // A transient failure voids the whole delivery (the worker retries all of it):
            // refusals before it will be met again then.
            out.failures.clear();
            break;
        }
    }
    return out;
}

result<std::optional<state_map>> smtp_target::read_state() { return std::optional<state_map>{}; }

}  // namespace syncline::targets
