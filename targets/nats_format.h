#pragma once
// targets/nats_format.h: what the nats:// target sends, kept apart from libnats so that
// the URI and the message shape are unit-tested without a server (docs/targets/nats.md).
//
// URI: nats://HOST[:PORT]/SUBJECT-PREFIX[?options]. Each record is published to
// <prefix>.<collection token>, the collection made into one valid subject token (see
// subject_token). Body: the record's value bytes as they are (empty for deletes). Headers:
//   Nats-Msg-Id: <pipeline>:<offset>      JetStream drops a redelivered record in its window
//   Syncline-Op: upsert | delete
//   Syncline-Offset: <offset>
//   Syncline-Collection / Syncline-Key: the bytes, header-escaped (see header_escape)
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "targets/internal/uri.h"

namespace syncline::targets {

struct nats_target_options {
    std::string host;                                  // Non-empty.
    int port = 4222;                                   // Default: 4222.
    std::string prefix;                                // Dot-separated subject tokens, no wildcards.
    std::string pipeline;                              // In every Nats-Msg-Id.
    std::string token;                                 // ?token_env= / ?token_file=. Empty: no token.
    std::string creds_file;                            // ?creds_file=: a NATS .creds file (JWT + NKey seed).
    std::chrono::milliseconds connect_timeout{2'000};  // ?connect_timeout_ms=. Default: 2 s.
    std::chrono::milliseconds ack_timeout{5'000};      // ?ack_timeout_ms=: the batch's acks. Default: 5 s.
    std::string create_stream;                         // ?create_stream=NAME on <prefix>.>. Default: none.
    std::chrono::seconds duplicate_window{120};        // ?duplicate_window_s= of a created stream. Default: 2 min.
    bool missing_stream_is_permanent = false;          // ?missing_stream=dead_letter. Default: retry.
};

// The options of a nats:// URI, without connecting; reads the token (from the environment or a
// file). invalid_argument naming what is wrong, never the token.
result<nats_target_options> parse_nats_target_options(const internal::parsed_uri& p, internal::uri_options& options,
                                                      const std::string& pipeline);

// A collection as one subject token: ASCII letters, digits, '-' and '_' stay; every other byte
// (the token separator '.', the wildcards '*' and '>', spaces, '%', non-ASCII) becomes %XX
// (upper-case hex), so distinct collections get distinct subjects. "orders.eu" -> "orders%2Eeu".
std::string subject_token(std::string_view collection);
// <prefix>.<subject_token(collection)>
std::string nats_subject(std::string_view prefix, std::string_view collection);
// <pipeline>:<offset>: the same for every redelivery of a record.
std::string nats_msg_id(std::string_view pipeline, std::uint64_t offset);
// Header values are text lines: bytes below 0x21 or above 0x7E, and '%', become %XX; other
// printable ASCII stays, so readable keys stay readable ("user:42" -> "user:42").
std::string header_escape(std::string_view bytes);

}  // namespace syncline::targets
