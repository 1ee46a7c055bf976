#pragma once
// targets/push_format.h: what the push targets (push_target.h) put on the wire for the
// two services, and what the services' replies mean, kept apart from the transport so that it is
// tested byte for byte. docs/targets/push.md describes the same contract for users.
//
// fcm://PROJECT: POST {endpoint}/v1/projects/PROJECT/messages:send, one request per record,
//   {"message":{"token":T,"notification":{"title":..,"body":..},"data":{..,"syncline_id":ID}}}
//   (the FCM HTTP v1 API); "authorization: Bearer <access token>".
// apns://TOPIC: POST {endpoint}/3/device/T, one request per record, headers apns-id (a UUID
//   derived from ID), apns-topic, apns-push-type, apns-priority, apns-collapse-id when set,
//   "authorization: bearer <JWT>"; body {"aps":{"alert":{"title":..,"body":..}},<data members>}
//   ({"aps":{"content-available":1},...} for background pushes).
// ID = "<pipeline>:<offset>": the same on every redelivery, so receivers can drop duplicates.
#include <openssl/evp.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "common/record.h"
#include "common/status.h"
#include "targets/internal/template.h"

namespace syncline::targets::push {

// The text the templates of a push target fill per record. Unset optional templates are left out.
struct message_templates {
    internal::message_template device_token;
    std::optional<internal::message_template> title;
    std::optional<internal::message_template> body;
    // A JSON object with placeholders inside its strings (rendered with JSON string escaping):
    // FCM "data" (values become strings) or APNs custom payload members beside "aps".
    std::optional<internal::message_template> data;
    std::optional<internal::message_template> collapse_id;  // APNs only.
};

// "<pipeline>:<offset>".
std::string message_id(std::string_view pipeline, std::uint64_t offset);
// A UUID (RFC 9562 version 8, canonical lowercase text) from the first 16 bytes of
// SHA-256(message_id): the apns-id of the record, the same on every delivery.
std::string apns_id(std::string_view pipeline, std::uint64_t offset);

// The device token for `r`: invalid_argument (a dead letter) when the template cannot be filled
// or the token is empty or holds characters no FCM/APNs token has (it goes into a URL path or JSON).
result<std::string> device_token(const message_templates& t, const record_view& r, std::string_view pipeline);

// The FCM v1 request body for `r` sent to `token`.
result<std::string> fcm_body(const message_templates& t, const record_view& r, std::string_view pipeline,
                             std::string_view token);

enum class apns_push_type { alert, background, voip, complication, fileprovider, mdm, location, liveactivity, pushtotalk, widgets };
std::optional<apns_push_type> parse_apns_push_type(std::string_view name);
std::string_view apns_push_type_name(apns_push_type type);

// The APNs JSON payload for `r`.
result<std::string> apns_payload(const message_templates& t, apns_push_type type, const record_view& r,
                                 std::string_view pipeline);

// An APNs provider token: the JWT {"alg":"ES256","kid":KEY_ID}.{"iss":TEAM_ID,"iat":IAT} signed with
// ES256 (P-256 ECDSA over SHA-256, r||s, base64url). `key` is the .p8 private key.
result<std::string> apns_jwt(EVP_PKEY* key, std::string_view key_id, std::string_view team_id, std::time_t iat);
// Loads a .p8 (PKCS#8 PEM) P-256 key; invalid_argument naming `path` otherwise.
result<EVP_PKEY*> load_apns_key(const std::string& pem, const std::string& path);

// What a service's answer to one request means for its record.
enum class verdict {
    delivered,
    dead_letter,          // The record is refused for good (unknown token, bad payload).
    transient,            // Retry the batch later (throttled, down, credentials refused).
    refresh_credentials,  // APNs ExpiredProviderToken: sign a new token, then send again.
};
struct reply_meaning {
    verdict kind;
    std::string reason;  // The service's error code, for messages ("UNREGISTERED", "BadDeviceToken").
};

// Per the FCM v1 documentation: 400 INVALID_ARGUMENT and 404 UNREGISTERED (and other 4xx) dead
// letters; 429 QUOTA_EXCEEDED, 5xx, and 401/403 (credentials can be fixed) transient.
reply_meaning classify_fcm(long http_status, std::string_view body);
// Per the APNs documentation: 400 (BadDeviceToken, ...), 410 Unregistered, 413 PayloadTooLarge
// (and other 4xx) dead letters; 403 ExpiredProviderToken refresh; other 403 (credentials),
// 429 TooManyRequests, 5xx transient.
reply_meaning classify_apns(long http_status, std::string_view body);

}  // namespace syncline::targets::push
