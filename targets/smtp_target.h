#pragma once
// targets/smtp_target.h: `smtp://HOST[:PORT]` and `smtps://HOST[:PORT]`: an email per
// change (or one digest per batch and recipient) through libcurl's SMTP client. The recipient,
// subject and body are message templates (targets/internal/template.h) filled from the record;
// the message bytes are described in smtp_format.h and docs/targets/smtp.md.
// Email cannot be fenced: at-least-once, and a redelivered change carries the same Message-ID
// (pipeline + offset) so that receivers can drop duplicates.
// Outcomes per message: 2xx delivered; a 5xx reply refuses the message's records for good (dead
// letters with the server's reply); 4xx replies, refused logins, connection errors and timeouts
// are transient (the whole delivery is retried). One libcurl handle per instance: the SMTP
// connection is reused between messages. read_state() is nullopt. Not thread-safe (one per
// worker). Messages never contain the password.
#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "targets/internal/template.h"
#include "targets/internal/uri.h"
#include "targets/target.h"

namespace syncline::targets {

enum class smtp_mode {
    record,  // One email per change.
    digest,  // One email per recipient per batch, the changes' texts one after another.
};

// For smtp:// only (smtps:// is TLS from the first byte).
enum class smtp_starttls {
    try_it,    // Upgrade when the server offers STARTTLS, else plain text.
    required,  // Fail (transient) unless the server upgrades to TLS.
    never,     // Plain text.
};

struct smtp_target_options {
    std::string url;                                    // smtp(s)://host[:port], handed to libcurl.
    std::string pipeline;                               // In Message-IDs and templates.
    std::string from;                                   // Envelope sender and From header. Required.
    internal::message_template to;                      // Recipient address. Required.
    internal::message_template subject;                 // Default: "{collection} {key} {op}".
    internal::message_template body;                    // Default: "{value}".
    smtp_mode mode = smtp_mode::record;                 // Default: one email per change.
    bool send_deletes = false;                          // Default: deletes send nothing.
    smtp_starttls starttls = smtp_starttls::try_it;     // Default: when offered.
    std::string user;                                   // AUTH user; empty = no AUTH.
    std::string password;                               // From password_env/password_file; never logged.
    std::chrono::milliseconds connect_timeout{10'000};  // Default: 10 s.
    std::chrono::milliseconds timeout{60'000};          // Per message, connect included. Default: 60 s.
    bool verify_tls = true;                             // Certificate and host name. Default: on.
    std::string ca_file;                                // PEM bundle to trust. Default: the system's.
};

// Checks the URI and reads its options (docs/targets/smtp.md): from, to, subject, body or
// body_file, mode, deletes, starttls, user, password_env or password_file, connect_timeout_ms,
// timeout_ms, verify_tls, ca_file. Reads the password and the body file but connects to nothing.
// invalid_argument on bad input, naming the option (never the password).
result<smtp_target_options> parse_smtp_target_options(const internal::parsed_uri& p, internal::uri_options& options,
                                                      const std::string& pipeline);

class smtp_target final : public target {
public:
    // invalid_argument when libcurl refuses the options; connects lazily on the first delivery.
    static result<std::unique_ptr<smtp_target>> open(const smtp_target_options& opts);
    ~smtp_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    result<std::optional<state_map>> read_state() override;

private:
    struct impl;
    explicit smtp_target(std::unique_ptr<impl> i);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::targets
