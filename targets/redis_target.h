#pragma once
// targets/redis_target.h: `redis://[user@]host[:port][/db][?options]` — a Redis state
// target (hiredis). Full description: docs/targets/redis.md.
//
// Layout: one hash per (collection, key) at Redis key  <prefix><collection>:<key>  with fields
// v (the value; "" for tombstones), o (the record's offset, decimal) and d ("1" tombstone, "0"
// live). In the collection part '%' and ':' are written %25 and %3A, so the first ':' after the
// prefix always separates collection from key (keys are stored as they are, any bytes) and
// read_state() splits every Redis key back unambiguously.
// Fencing: a Lua script (EVALSHA; loaded with SCRIPT LOAD once per connection, reloaded on
// NOSCRIPT) writes a change only if its offset is greater than the stored o, deletes included
// (a delete writes a tombstone), so older changes arriving later never resurrect or regress a key.
// One deliver() = one round trip: the batch is split into chunks of `chunk_records`, each one
// script call (atomic on the server), all pipelined before reading the replies.
// Errors: open -> unavailable (cannot connect, server loading), invalid_argument (bad password,
// no such db). deliver -> transient errc::unavailable for connection loss, timeouts, LOADING,
// BUSY, OOM, READONLY, ... (the connection is dropped and made again on the next call; chunks
// already applied are harmless thanks to the fence); per-record failures (WRONGTYPE: a key of
// another type under that name) are dead-lettered. The password never appears in messages.
// Not thread-safe: one instance per thread.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "targets/target.h"

namespace syncline::targets {

namespace internal {
struct parsed_uri;
class uri_options;
}  // namespace internal

struct redis_target_options {
    std::string host = "127.0.0.1";                    // Default: 127.0.0.1.
    int port = 6379;                                    // Default: 6379.
    unsigned db = 0;                                    // SELECTed after connecting. Default: 0.
    std::string user;                                   // ACL user for AUTH; empty = the default user.
    std::string password;                               // Read from ?password_env=NAME; empty = no AUTH.
    std::string prefix;                                 // ?prefix=: prepended to every key. Default: "".
    std::chrono::milliseconds connect_timeout{2000};    // ?connect_timeout_ms=. Default: 2 s.
    std::chrono::milliseconds timeout{10'000};          // ?timeout_ms=: per read/write. Default: 10 s.
    std::size_t chunk_records = 500;                    // ?chunk_records=: records per script call. Default: 500.
};

class redis_target final : public target {
public:
    // The options of a redis:// URI (see the top of this file and docs/targets/redis.md), without
    // connecting: invalid_argument naming what is wrong; a password in the URI is refused.
    static result<redis_target_options> options_from_uri(const internal::parsed_uri& p, internal::uri_options& options);
    // Connects (AUTH, SELECT, SCRIPT LOAD) so that a bad password or db fails at start.
    static result<std::unique_ptr<redis_target>> open(const redis_target_options& opts);
    ~redis_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    // SCAN over <prefix>* (hashes only) with the fields of every key read in pipelined HMGETs;
    // hashes without an o field, and keys that do not split into collection:key, are not ours
    // and skipped. Not a snapshot: keys written during the scan may show either state.
    result<std::optional<state_map>> read_state() override;

    // The Redis key of (collection, key) under `prefix` (for tests and tools).
    static std::string redis_key(std::string_view prefix, std::string_view collection, std::string_view key);

private:
    struct impl;  // Owns the hiredis context; keeps <hiredis/hiredis.h> out of this header.
    explicit redis_target(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::targets
