#include "targets/smtp_format.h"

#include <cstdio>
#include <ctime>

#include "targets/internal/json_text.h"

namespace syncline::targets::smtp {
namespace {

constexpr std::size_t max_line = 998;         // RFC 5322 2.1.1, without the CRLF.
constexpr std::size_t max_plain_subject = 900;  // Leaves room for "Subject: " on the line.
constexpr std::size_t encoded_word_bytes = 45;  // Base64s to 60 characters: words of 72.

// RFC 5322 atext: what a dot-atom (a Message-ID's left side) may hold besides '.'.
bool atext(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool printable_ascii(std::string_view s) {
    for (char c : s)
        if (c < 0x20 || c > 0x7e) return false;
    return true;
}

// 7bit data: ASCII without NUL (line breaks and tabs included).
bool seven_bit(std::string_view s) {
    for (char c : s)
        if (c == '\0' || static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

// Line breaks (CRLF, lone CR, lone LF) as CRLF.
std::string crlf_lines(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 40);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r') {
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
            out += "\r\n";
        } else if (c == '\n') {
            out += "\r\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

bool lines_fit(std::string_view crlf_text) {
    std::size_t line = 0;
    for (char c : crlf_text) {
        if (c == '\r' || c == '\n') line = 0;
        else if (++line > max_line) return false;
    }
    return true;
}

}  // namespace

std::string message_id(std::string_view pipeline, std::uint64_t first, std::uint64_t last) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string id = "<";
    for (char c : pipeline) {
        if (atext(c) && c != '%') {
            id.push_back(c);
        } else {
            const auto b = static_cast<unsigned char>(c);
            id += {'%', hex[b >> 4], hex[b & 15]};
        }
    }
    if (pipeline.empty()) id += "syncline";
    id += "." + std::to_string(first);
    if (last != first) id += "-" + std::to_string(last);
    return id + "@syncline>";
}

std::string date_header(std::int64_t ms_since_epoch) {
    const std::time_t seconds = static_cast<std::time_t>(ms_since_epoch / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    // Names spelled out: strftime's %a/%b follow the locale, RFC 5322 wants English.
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[utc.tm_wday], utc.tm_mday,
                  months[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
    return buf;
}

std::string encode_header_text(std::string_view text) {
    // "=?" in plain text could be read as the start of an encoded word: encode it too.
    if (printable_ascii(text) && text.size() <= max_plain_subject && text.find("=?") == std::string_view::npos)
        return std::string(text);
    std::string out;
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = start;
        while (end < text.size()) {
            // A whole character or nothing: invalid bytes go one by one.
            std::size_t n = internal::utf8_length(bytes + end, text.size() - end);
            if (n == 0) n = 1;
            if (end + n - start > encoded_word_bytes) break;
            end += n;
        }
        if (!out.empty()) out += "\r\n ";
        out += "=?UTF-8?B?";
        internal::append_base64(out, text.substr(start, end - start));
        out += "?=";
        start = end;
    }
    return out;
}

bool plain_address(std::string_view address) {
    if (address.size() > 254) return false;  // RFC 5321 path limit.
    const auto at = address.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return false;
    for (char c : address)
        if (c <= 0x20 || c > 0x7e || std::string_view("<>()[],;:\\\"").find(c) != std::string_view::npos) return false;
    return address.find('@') == at;  // One '@': a quoted local part is not supported.
}

std::string format_message(const message& m) {
    const std::string body = crlf_lines(m.body);
    const bool utf8 = internal::valid_utf8(body);
    const bool ascii = seven_bit(body);
    std::string out;
    out.reserve(body.size() * 4 / 3 + 512);
    out += "From: " + m.from + "\r\n";
    out += "To: " + m.to + "\r\n";
    out += "Subject: " + encode_header_text(m.subject) + "\r\n";
    out += "Date: " + m.date + "\r\n";
    out += "Message-ID: " + m.message_id + "\r\n";
    out += "X-Syncline-Offsets: " + m.offsets + "\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    if (utf8 && body.find('\0') == std::string::npos && lines_fit(body)) {
        out += ascii ? "Content-Transfer-Encoding: 7bit\r\n\r\n" : "Content-Transfer-Encoding: 8bit\r\n\r\n";
        out += body;
        if (!body.empty() && !body.ends_with("\r\n")) out += "\r\n";
        return out;
    }
    out += "Content-Transfer-Encoding: base64\r\n\r\n";
    std::string encoded;
    internal::append_base64(encoded, body);
    for (std::size_t i = 0; i < encoded.size(); i += 76) out.append(encoded, i, 76).append("\r\n");
    return out;
}

std::string digest_body(const std::vector<std::string>& parts) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) {
            if (!out.ends_with('\n')) out += '\n';
            out += "----------------------------------------\n";
        }
        out += parts[i];
    }
    return out;
}

}  // namespace syncline::targets::smtp
