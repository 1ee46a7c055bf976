#include "targets/push_target.h"

#include <openssl/evp.h>

#include <algorithm>
#include <ctime>

#include "common/log.h"
#include "targets/internal/h2_client.h"
#include "targets/internal/text.h"

namespace syncline::targets {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t body_excerpt_bytes = 300;
// APNs refuses provider tokens older than an hour and more than one new token per 20 minutes.
constexpr std::time_t jwt_lifetime_seconds = 50 * 60;

std::string_view service_name(push_service s) { return s == push_service::fcm ? "fcm" : "apns"; }

bool is_name(std::string_view text, std::string_view extra) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
    });
}

result<internal::message_template> take_template(internal::uri_options& options, const std::string& name,
                                                 const std::string& fallback = "") {
    auto text = options.take(name);
    if (!text && fallback.empty()) return status{errc::not_found, name};
    auto t = internal::message_template::parse(text ? *text : fallback);
    if (!t.ok()) return options.error(name + ": " + t.get_status().message());
    return t;
}

status take_optional_template(internal::uri_options& options, const std::string& name,
                              std::optional<internal::message_template>& into) {
    auto t = take_template(options, name);
    if (t.ok()) into = std::move(t.value());
    else if (t.get_status().code() != errc::not_found) return t.get_status();
    return {};
}

// The options fcm: and apns: share: templates, deletes, endpoint and transport.
status take_common(internal::uri_options& options, push_target_options& o, const std::string& default_endpoint) {
    auto token = take_template(options, "device_token", "{value.device_token}");
    if (!token.ok()) return token.get_status();
    o.templates.device_token = std::move(token.value());
    for (auto [name, into] : {std::pair{"title", &o.templates.title}, std::pair{"body", &o.templates.body},
                              std::pair{"data", &o.templates.data}})
        SYNCLINE_RETURN_IF_ERROR(take_optional_template(options, name, *into));
    if (auto deletes = options.take("deletes")) {
        if (*deletes == "send") o.send_deletes = true;
        else if (*deletes != "skip") return options.error("deletes must be skip or send, not '" + *deletes + "'");
    }
    o.endpoint = options.take("endpoint").value_or(default_endpoint);
    while (o.endpoint.ends_with('/')) o.endpoint.pop_back();
    if (!o.endpoint.starts_with("https://") && !o.endpoint.starts_with("http://"))
        return options.error("endpoint must be an http:// or https:// URL, not '" + internal::shown_url(o.endpoint) + "'");
    SYNCLINE_RETURN_IF_ERROR(internal::check_curl_url(o.endpoint, options));
    auto transport = internal::take_transport_options(options);
    if (!transport.ok()) return transport.get_status();
    o.transport = std::move(transport.value());
    return {};
}

}  // namespace

result<push_target_options> parse_fcm_options(const internal::parsed_uri& p, internal::uri_options& options,
                                              const std::string& pipeline) {
    push_target_options o;
    o.service = push_service::fcm;
    o.pipeline = pipeline;
    if (!p.had_slashes || !is_name(p.path, "-")) return options.error("expected fcm://PROJECT_ID (letters, digits, '-')");
    o.project = std::string(p.path);
    SYNCLINE_RETURN_IF_ERROR(take_common(options, o, "https://fcm.googleapis.com"));
    if (!o.templates.title && !o.templates.body && !o.templates.data)
        return options.error("give a title, body or data template: the message would be empty");
    auto token = internal::require_secret(options, "token", "", "the OAuth 2 access token for the FCM API", &o.token_file);
    if (!token.ok()) return token.get_status();
    o.access_token = std::move(token.value());
    return o;
}

result<push_target_options> parse_apns_options(const internal::parsed_uri& p, internal::uri_options& options,
                                               const std::string& pipeline) {
    push_target_options o;
    o.service = push_service::apns;
    o.pipeline = pipeline;
    if (!p.had_slashes || !is_name(p.path, "-._")) return options.error("expected apns://TOPIC (the app's bundle id)");
    o.topic = std::string(p.path);
    auto sandbox = options.take_bool("sandbox", false);
    if (!sandbox.ok()) return sandbox.get_status();
    SYNCLINE_RETURN_IF_ERROR(take_common(options, o, sandbox.value() ? "https://api.sandbox.push.apple.com"
                                                                      : "https://api.push.apple.com"));
    SYNCLINE_RETURN_IF_ERROR(take_optional_template(options, "collapse_id", o.templates.collapse_id));
    if (auto type = options.take("push_type")) {
        auto parsed = push::parse_apns_push_type(*type);
        if (!parsed) return options.error("push_type must be alert, background, voip, complication, fileprovider, mdm, location, liveactivity, pushtotalk or widgets, not '" + *type + "'");
        o.push_type = *parsed;
    }
    const bool background = o.push_type == push::apns_push_type::background;
    if (background && (o.templates.title || o.templates.body))
        return options.error("a background push has no alert: drop title and body (send data)");
    if (o.push_type == push::apns_push_type::alert && !o.templates.title && !o.templates.body)
        return options.error("an alert push needs a title or body template");
    auto priority = options.take_uint("priority", background ? 5 : 10, 1, 10);
    if (!priority.ok()) return priority.get_status();
    if (priority.value() != 1 && priority.value() != 5 && priority.value() != 10)
        return options.error("priority must be 10, 5 or 1");
    if (background && priority.value() == 10) return options.error("background pushes must have priority 5 or 1");
    o.priority = static_cast<int>(priority.value());
    auto key_file = options.take("key_file");
    auto key_id = options.take("key_id");
    auto team_id = options.take("team_id");
    if (!key_file || !key_id || !team_id)
        return options.error("token auth needs key_file=PATH (the .p8 key), key_id=KEY_ID and team_id=TEAM_ID");
    if (!is_name(*key_id, "") || !is_name(*team_id, "")) return options.error("key_id and team_id are letters and digits");
    auto key = internal::read_text_file(*key_file, "key_file");
    if (!key.ok()) return options.error(key.get_status().message());
    o.key_file = std::move(*key_file);
    o.key_id = std::move(*key_id);
    o.team_id = std::move(*team_id);
    return o;
}

struct push_target::impl {
    push_target_options options;
    std::string name;  // "fcm https://host" for messages.
    std::unique_ptr<internal::h2_client> client;
    EVP_PKEY* key = nullptr;  // apns:
    std::string authorization;  // The header line, made by refresh_credentials().
    std::time_t signed_at = 0;
    bool credentials_refused = false;  // Renew them before the next delivery.

    ~impl() {
        if (key != nullptr) EVP_PKEY_free(key);
    }

    // FCM: the token file again (a refresher may have replaced the token); APNs: a new JWT.
    status refresh_credentials() {
        if (options.service == push_service::fcm) {
            if (!options.token_file.empty()) {
                auto text = internal::read_text_file(options.token_file, "token_file");
                if (!text.ok()) return {errc::unavailable, name + ": " + text.get_status().message()};
                std::string token = std::move(text.value());
                while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
                // A refreshed token is scrubbed like the first one; one too short to scrub is not taken.
                if (token.size() >= min_secret_bytes) {
                    remember_secret(token);
                    options.access_token = std::move(token);
                }
            }
            authorization = "authorization: Bearer " + options.access_token;
            return {};
        }
        signed_at = std::time(nullptr);
        auto jwt = push::apns_jwt(key, options.key_id, options.team_id, signed_at);
        if (!jwt.ok()) return jwt.get_status();
        authorization = "authorization: bearer " + jwt.value();
        return {};
    }

    result<internal::h2_request> request(const record_view& r) {
        const std::string_view pipeline = options.pipeline;
        auto token = push::device_token(options.templates, r, pipeline);
        if (!token.ok()) return token.get_status();
        internal::h2_request req;
        req.headers = {authorization, "content-type: application/json"};  // authorization first: see deliver().
        if (options.service == push_service::fcm) {
            auto body = push::fcm_body(options.templates, r, pipeline, token.value());
            if (!body.ok()) return body.get_status();
            req.url = options.endpoint + "/v1/projects/" + options.project + "/messages:send";
            req.body = std::move(body.value());
            return req;
        }
        auto payload = push::apns_payload(options.templates, options.push_type, r, pipeline);
        if (!payload.ok()) return payload.get_status();
        req.url = options.endpoint + "/3/device/" + token.value();
        req.body = std::move(payload.value());
        req.headers.push_back("apns-id: " + push::apns_id(pipeline, r.offset));
        req.headers.push_back("apns-topic: " + options.topic);
        req.headers.push_back("apns-push-type: " + std::string(push::apns_push_type_name(options.push_type)));
        req.headers.push_back("apns-priority: " + std::to_string(options.priority));
        if (options.templates.collapse_id) {
            auto id = options.templates.collapse_id->render(r, pipeline, internal::template_escaping::header_line);
            if (!id.ok()) return id.get_status();
            if (id.value().size() > 64) return status{errc::invalid_argument, "apns-collapse-id longer than 64 bytes"};
            if (!id.value().empty()) req.headers.push_back("apns-collapse-id: " + id.value());
        }
        return req;
    }

    push::reply_meaning classify(const internal::h2_response& r) const {
        return options.service == push_service::fcm ? push::classify_fcm(r.status, r.body)
                                                    : push::classify_apns(r.status, r.body);
    }

    std::string describe(const internal::h2_response& r, const push::reply_meaning& m) const {
        std::string text = name + ": HTTP " + std::to_string(r.status);
        if (!m.reason.empty()) text += " " + m.reason;
        return text + ": " + internal::printable(r.body, body_excerpt_bytes);
    }
};

push_target::push_target(std::unique_ptr<impl> i) : _impl(std::move(i)) {}
push_target::~push_target() = default;

result<std::unique_ptr<push_target>> push_target::open(const push_target_options& opts) {
    auto i = std::make_unique<impl>();
    i->options = opts;
    i->name = std::string(service_name(opts.service)) + " " + internal::shown_url(opts.endpoint);
    if (opts.service == push_service::apns) {
        auto pem = internal::read_text_file(opts.key_file, "key_file");
        if (!pem.ok()) return pem.get_status();
        auto key = push::load_apns_key(pem.value(), opts.key_file);
        if (!key.ok()) return key.get_status();
        i->key = key.value();
    }
    SYNCLINE_RETURN_IF_ERROR(i->refresh_credentials());
    auto client = internal::h2_client::open(opts.transport, "syncline-push/1");
    if (!client.ok()) return client.get_status();
    i->client = std::move(client.value());
    return std::unique_ptr<push_target>(new push_target(std::move(i)));
}

delivery_outcome push_target::deliver(std::span<const record_view> records) {
    impl& m = *_impl;
    delivery_outcome out;
    // A refused credential is renewed when the batch is sent again, not at once: the operator
    // (or a token refresher) fixes the token file meanwhile.
    if (m.credentials_refused ||
        (m.options.service == push_service::apns && std::time(nullptr) - m.signed_at >= jwt_lifetime_seconds)) {
        if (status s = m.refresh_credentials(); !s.ok()) {
            out.transient = s;
            return out;
        }
        m.credentials_refused = false;
    }
    std::vector<internal::h2_request> requests;
    std::vector<std::uint64_t> offsets;
    for (const record_view& r : records) {
        if (r.operation == op::del && !m.options.send_deletes) continue;
        auto req = m.request(r);
        if (!req.ok()) {  // The record cannot fill the templates: no redelivery changes that.
            out.failures.push_back({r.offset, m.name + ": " + req.get_status().message()});
            continue;
        }
        requests.push_back(std::move(req.value()));
        offsets.push_back(r.offset);
    }
    // At most two rounds: the second sends what APNs refused for an expired provider token.
    for (int round = 0; round < 2 && !requests.empty(); ++round) {
        const std::vector<internal::h2_response> responses = m.client->post_all(requests);
        std::vector<internal::h2_request> again;
        std::vector<std::uint64_t> again_offsets;
        bool refresh = false;
        for (std::size_t i = 0; i < responses.size(); ++i) {
            const internal::h2_response& r = responses[i];
            if (!r.transport_error.empty()) {
                if (out.transient.ok()) out.transient = {errc::unavailable, m.name + ": " + r.transport_error};
                continue;
            }
            const push::reply_meaning meaning = m.classify(r);
            switch (meaning.kind) {
                case push::verdict::delivered:
                    break;
                case push::verdict::dead_letter:
                    out.failures.push_back({offsets[i], m.describe(r, meaning)});
                    break;
                case push::verdict::refresh_credentials:
                    if (round == 0) {
                        refresh = true;
                        again.push_back(std::move(requests[i]));
                        again_offsets.push_back(offsets[i]);
                        break;
                    }
                    [[fallthrough]];  // Refused right after signing: the clock or the key is wrong.
                case push::verdict::transient:
                    if (out.transient.ok()) {
                        std::string why = m.describe(r, meaning);
                        if (r.status == 401 || r.status == 403)
                            why += m.options.service == push_service::fcm
                                       ? " (the access token was refused: renew token_file/token_env)"
                                       : " (the provider token was refused: check key_file, key_id and team_id)";
                        out.transient = {errc::unavailable, std::move(why)};
                    }
                    if (r.retry_after) out.retry_after = std::max(out.retry_after, *r.retry_after);
                    if (r.status == 401 || r.status == 403) m.credentials_refused = true;
                    break;
            }
        }
        if (refresh) {
            if (status s = m.refresh_credentials(); !s.ok() && out.transient.ok()) out.transient = s;
        }
        if (!out.transient.ok()) break;
        for (auto& req : again) req.headers.front() = m.authorization;
        requests = std::move(again);
        offsets = std::move(again_offsets);
    }
    // A transient failure voids the whole delivery (the worker sends it all again): records
    // refused meanwhile will be refused again then.
    if (!out.transient.ok()) out.failures.clear();
    return out;
}

result<std::optional<state_map>> push_target::read_state() { return std::optional<state_map>{}; }

}  // namespace syncline::targets
