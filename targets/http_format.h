#pragma once
// targets/http_format.h: what the webhook target (http_target.h) puts on the wire, kept
// apart from the transport so that it is tested byte for byte; docs/targets/webhook.md is the
// user-facing description of the same contract.
//
// Body of one request (one batch, or one record with mode=record), compact JSON in UTF-8:
//   {"pipeline":P,"first_offset":F,"last_offset":L,"records":[R,...]}
//   R = {"offset":N,"ts":MS,"collection":C,"key":K,"op":"upsert"|"delete","value":V,"headers":[[NAME,VALUE],...]}
// Lossless for any bytes: C and K are JSON strings when they are valid UTF-8, else the field is
// named collection_base64 / key_base64 and holds base64. V is the value embedded as JSON when it
// is JSON, else the field is value_base64 (deletes carry no value). "headers" appears only when
// the record has headers; headers_base64 (every name and value base64) when one is not UTF-8.
// The body depends on the records only (no clock), so a redelivery is byte-identical.
//
// Headers: Idempotency-Key: "<pipeline>:<first>-<last>", and
//   Syncline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// (the shape of Stripe's signatures; t is the sending time, so each retry is signed anew).
#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/record.h"

namespace syncline::targets::http {

// Appends the body for `records` (non-empty, in offset order) to `out`.
void append_body(std::string& out, std::string_view pipeline, std::span<const record_view> records);

// "<pipeline>:<first>-<last>": the same for every delivery of the same range.
std::string idempotency_key(std::string_view pipeline, std::uint64_t first, std::uint64_t last);

// The Syncline-Signature header value for `body` sent at `unix_seconds`.
std::string signature_header(std::string_view secret, std::int64_t unix_seconds, std::string_view body);

// What a response status means for the records of the request.
enum class response_kind {
    delivered,  // 2xx.
    transient,  // 5xx, 408, 429, 1xx/3xx (redirects are not followed: fix the URL, nothing is lost).
    refused,    // Any other 4xx: the receiver refuses these records for good (dead letters).
};
response_kind classify(long http_status);

// A Retry-After header value (delta-seconds or an HTTP-date) as a wait from `now`; nullopt
// when it is malformed. Dates in the past are a zero wait.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::time_t now);

}  // namespace syncline::targets::http
