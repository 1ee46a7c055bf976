#pragma once
// tests/support/smtp_receiver.h: a real SMTP server for tests (tests/support/smtp_receiver.py,
// aiosmtpd from Debian, run by /usr/bin/python3 or $SYNCLINE_PYTHON) on 127.0.0.1 and a free
// port, storing every accepted message as a file in its own temp dir. Tests steer its answers
// through control files: reject() makes RCPT TO answer 550 for some addresses, defer_for()
// makes DATA answer 451 for a while. stop() and start() again (same port, same mail dir) make
// an outage. The destructor kills (SIGKILL) and reaps the server and removes the dir; if the
// test process dies without unwinding, the kernel kills the server (parent-death signal).
// Throws std::runtime_error when the server does not come up (its log in the message).
// Not thread-safe.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "tests/support/harness.h"

namespace syncline::testing {

struct received_mail {
    std::string name;                         // The stored file's name ("00000042.eml").
    int client_port = 0;                      // The sender's port: one per connection.
    std::string mail_from;                    // Envelope sender.
    std::vector<std::string> rcpt_to;         // Envelope recipients.
    std::map<std::string, std::string> headers;  // Lower-case names; folded lines unfolded.
    std::string body;                         // After the blank line, as sent (CRLF).
    std::string raw;                          // The whole message.

    // The header's value, "" when absent.
    std::string header(const std::string& lower_case_name) const;
};

struct smtp_credentials {
    std::string user;
    std::string password;
};

enum class smtp_receiver_tls {
    none,
    starttls,  // STARTTLS offered and required before MAIL FROM.
    implicit,  // TLS from the first byte (smtps://).
};

struct smtp_receiver_options {
    std::optional<smtp_credentials> credentials;  // AUTH required with these.
    smtp_receiver_tls tls = smtp_receiver_tls::none;  // With a self-signed certificate for 127.0.0.1 (ca_file()).
};

class smtp_receiver {
public:
    // Starts the server; waits up to 20 s.
    explicit smtp_receiver(smtp_receiver_options options = {});
    ~smtp_receiver();
    smtp_receiver(const smtp_receiver&) = delete;
    smtp_receiver& operator=(const smtp_receiver&) = delete;

    int port() const { return _port; }
    // smtp://127.0.0.1:PORT?query (smtps:// with implicit TLS).
    std::string uri(const std::string& query) const;
    // The PEM certificate the server presents (made with openssl for IP 127.0.0.1), to trust.
    std::string ca_file() const { return _dir / "cert.pem"; }
    const std::string& dir() const { return _dir.path(); }

    void stop();   // SIGTERM, wait; connections are refused until start().
    void start();  // Again on the same port and mail dir.

    // RCPT TO for these addresses answers 550 (replaces the earlier list).
    void reject(const std::vector<std::string>& addresses);
    // DATA answers 451 for the next `window` (zero: from now on accept again).
    void defer_for(std::chrono::milliseconds window);
    // Every DATA waits `delay` before answering (a slow server; connections still run in parallel).
    void delay_each(std::chrono::milliseconds delay);

    std::size_t message_count() const;
    // Every stored message, in arrival order.
    std::vector<received_mail> messages() const;
    // Waits until at least `n` messages are stored; false on timeout.
    bool wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const;

private:
    temp_dir _dir;
    int _port = 0;
    smtp_receiver_options _options;
    std::optional<child_process> _process;
};

}  // namespace syncline::testing
