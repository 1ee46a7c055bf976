#pragma once
// targets/push_target.h: mobile push, `fcm://PROJECT` (Firebase Cloud Messaging HTTP v1)
// and `apns://TOPIC` (Apple Push Notification service, token auth). One HTTP/2 request per record
// (push_format.h has the requests and what the replies mean; docs/targets/push.md is the user's
// page), sent concurrently as streams of one kept-alive connection (internal/h2_client.h).
// A batch's outcome: any transient reply (throttled, unavailable, credentials refused) or a lost
// connection makes the whole delivery transient (the worker sends it all again, each record under
// the same id, with the longest Retry-After as the least wait); otherwise records the service
// refused for good, or whose templates cannot be filled, are dead letters. Deletes are skipped
// unless deletes=send. At-least-once; read_state() is nullopt (a push cannot be read back).
// Not thread-safe (one per worker). Messages never show the access token, the JWT or the key.
#include <memory>
#include <string>

#include "common/status.h"
#include "targets/internal/curl_http.h"
#include "targets/internal/uri.h"
#include "targets/target.h"
#include "targets/push_format.h"

namespace syncline::targets {

enum class push_service { fcm, apns };

struct push_target_options {
    push_service service = push_service::fcm;
    std::string pipeline;
    std::string endpoint;  // scheme://host[:port][/prefix], without a trailing '/'.
    internal::http_transport transport;
    push::message_templates templates;
    bool send_deletes = false;
    // fcm:
    std::string project;
    std::string access_token;  // OAuth 2 bearer token; never logged.
    std::string token_file;    // Where it came from, re-read when FCM refuses it ("" for token_env).
    // apns:
    std::string topic;
    push::apns_push_type push_type = push::apns_push_type::alert;
    int priority = 10;
    std::string key_file;  // The .p8 signing key; read when the target opens.
    std::string key_id;
    std::string team_id;
};

// fcm://PROJECT?token_file=PATH|token_env=VAR&device_token=T&title=T&body=T&data=T&deletes=skip|send
//   &endpoint=URL&ca_file=PATH&verify_tls=B&timeout_ms=N&connect_timeout_ms=N
result<push_target_options> parse_fcm_options(const internal::parsed_uri& p, internal::uri_options& options,
                                              const std::string& pipeline);
// apns://TOPIC?key_file=PATH&key_id=K&team_id=T&push_type=alert|background|...&priority=10|5|1
//   &collapse_id=T&sandbox=B&device_token=T&title=T&body=T&data=T&deletes=... (and the transport options above)
result<push_target_options> parse_apns_options(const internal::parsed_uri& p, internal::uri_options& options,
                                               const std::string& pipeline);

class push_target final : public target {
public:
    // invalid_argument for an unusable key; connects lazily on the first delivery.
    static result<std::unique_ptr<push_target>> open(const push_target_options& opts);
    ~push_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    result<std::optional<state_map>> read_state() override;

private:
    struct impl;
    explicit push_target(std::unique_ptr<impl> i);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::targets
