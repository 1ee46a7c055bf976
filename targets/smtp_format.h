#pragma once
// targets/smtp_format.h: the email the smtp(s): target sends, as bytes (RFC 5322 with
// MIME, CRLF line ends), and its pieces: Message-ID from pipeline + offsets (the same on every
// redelivery), Date, header text (RFC 2047 encoded words when not plain ASCII), the checks on
// rendered addresses. Pure functions, no I/O; documented for users in docs/targets/smtp.md.
// Dot-stuffing is not done here: libcurl does it while sending.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace syncline::targets::smtp {

// "<PIPELINE.OFFSET@syncline>", or "<PIPELINE.FIRST-LAST@syncline>" for a digest of several
// records. Bytes of the pipeline name that a Message-ID cannot hold become %XX.
std::string message_id(std::string_view pipeline, std::uint64_t first, std::uint64_t last);

// RFC 5322 date-time in UTC for milliseconds since the epoch: "Tue, 14 Nov 2023 22:13:20 +0000".
std::string date_header(std::int64_t ms_since_epoch);

// Unstructured header text (a Subject): as is when it is printable ASCII that fits a line;
// otherwise RFC 2047 encoded words (UTF-8, base64) folded onto continuation lines, never
// splitting a UTF-8 character.
std::string encode_header_text(std::string_view text);

// Whether `address` is a bare addr-spec this target sends to: local@domain in printable ASCII
// without spaces, angle brackets, commas or other characters that would make it a list or a
// display name. (SMTPUTF8 addresses are not supported.)
bool plain_address(std::string_view address);

struct message {
    std::string from;        // addr-spec (plain_address).
    std::string to;          // addr-spec (plain_address).
    std::string subject;     // UTF-8 text; encoded here.
    std::string date;        // date_header().
    std::string message_id;  // message_id().
    std::string offsets;     // "42" or "40-49": the X-Syncline-Offsets header.
    std::string body;        // Text; any line breaks.
};

// The whole message: headers, a blank line, the body with CRLF line ends. A UTF-8 body whose
// lines fit SMTP's 998 octets is sent as 8bit (7bit when ASCII); any other is base64.
std::string format_message(const message& m);

// The body of a digest: each record's text, separated by a line of dashes.
std::string digest_body(const std::vector<std::string>& parts);

}  // namespace syncline::targets::smtp
