#pragma once
// targets/nats_target.h: `nats://HOST[:PORT]/SUBJECT-PREFIX` — JetStream publishing with
// libnats. Full description: docs/targets/nats.md; subjects, headers and body: nats_format.h.
//
// Each record is one message on <prefix>.<collection token> with Nats-Msg-Id = <pipeline>:<offset>,
// so the stream's duplicate window drops a redelivered record. A batch is published
// asynchronously (js_PublishMsgAsync) and its acks are awaited together (ack_timeout).
// Outcomes per message: a PubAck (duplicate or not) is delivered; a refusal the server will
// repeat (message larger than the connection's or the stream's limit, a stream mismatch, and
// no stream for the subject with missing_stream=dead_letter) is a dead letter carrying the
// server's text; anything else (no ack in time, no responders, disconnected, JetStream not
// ready) makes the whole batch transient. At-least-once: exactly-once within the window.
// open() connects (and creates the stream when asked): unavailable when the server cannot be
// reached, invalid_argument when it refuses the credentials. libnats reconnects by itself;
// while it does, deliveries are transient. read_state() is nullopt. Not thread-safe (one per
// worker); the ack callback runs on a libnats thread and only touches the ack table.
#include <memory>

#include "targets/target.h"
#include "targets/nats_format.h"

namespace syncline::targets {

class nats_target final : public target {
public:
    static result<std::unique_ptr<nats_target>> open(const nats_target_options& opts);
    ~nats_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    result<std::optional<state_map>> read_state() override;

private:
    struct impl;
    explicit nats_target(std::unique_ptr<impl> i);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::targets
