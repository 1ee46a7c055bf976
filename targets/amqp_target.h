#pragma once
// targets/amqp_target.h: `amqp://[USER@]HOST[:PORT]/EXCHANGE[?options]` — publishes every
// record to a RabbitMQ exchange (AMQP 0-9-1, librabbitmq). Full description: docs/targets/amqp.md.
//
// Message: routing key = the record's collection; body = the value bytes (empty for deletes);
// persistent (delivery_mode 2); message_id = "<pipeline>:<offset>", the same on every redelivery
// so consumers can drop duplicates; headers syncline-pipeline, syncline-collection, syncline-key,
// syncline-op ("upsert"/"delete"), syncline-offset (a signed 64-bit integer); app_id "syncline".
// Delivery: publisher confirms. deliver() publishes the batch with mandatory=true and returns once
// the broker has confirmed every message: then (and only then) the batch counts as delivered.
// Outcomes: a message the broker returns as unroutable (no queue bound for its routing key) is
// dead-lettered with the broker's reason; a nack, a missing confirm within timeout_ms, a lost
// connection or a closed channel (the exchange deleted meanwhile included) fail the whole batch
// as transient (the connection is dropped and made again on the next call). open() connects and
// checks that the exchange exists (or declares it with ?declare_exchange=TYPE): a missing exchange,
// refused credentials or an unknown vhost are invalid_argument (a configuration error), an
// unreachable broker unavailable. The password never appears in messages.
// A push target: read_state() is nullopt. Not thread-safe: one instance per worker thread.
#include <chrono>
#include <memory>
#include <string>

#include "targets/target.h"

namespace syncline::targets {

namespace internal {
struct parsed_uri;
class uri_options;
}  // namespace internal

struct amqp_target_options {
    std::string host;
    int port = 5672;                                   // Default: 5672.
    std::string exchange;                              // The URI's path; "" is the default exchange.
    std::string vhost = "/";                           // ?vhost=. Default: "/".
    std::string user = "guest";                        // USER@ in the URI or ?user=. Default: guest.
    std::string password = "guest";                    // ?password_env= / ?password_file=. Default: guest.
    std::string declare_type;                          // ?declare_exchange=TYPE: declared durable if missing.
    bool mandatory = true;                             // ?mandatory=: unroutable messages come back.
    std::chrono::seconds heartbeat{30};                // ?heartbeat_s= (0: none). Default: 30 s.
    std::chrono::milliseconds connect_timeout{5000};   // ?connect_timeout_ms=. Default: 5 s.
    std::chrono::milliseconds timeout{10'000};         // ?timeout_ms=: each RPC, and all confirms of a batch.
    std::string pipeline;                              // In message ids.
};

class amqp_target final : public target {
public:
    // The options of an amqp:// URI without connecting: invalid_argument naming what is wrong; a
    // password in the URI is refused (URIs are logged).
    static result<amqp_target_options> options_from_uri(const internal::parsed_uri& p, internal::uri_options& options,
                                                        const std::string& pipeline);
    // Connects, opens a confirm channel and checks (or declares) the exchange.
    static result<std::unique_ptr<amqp_target>> open(const amqp_target_options& opts);
    ~amqp_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    result<std::optional<state_map>> read_state() override;

    // "<pipeline>:<offset>": the message_id of the record at `offset`.
    static std::string message_id(const std::string& pipeline, std::uint64_t offset);

private:
    struct impl;
    explicit amqp_target(std::unique_ptr<impl> i);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::targets
