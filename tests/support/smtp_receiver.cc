#include "tests/support/smtp_receiver.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/launch.h"

namespace syncline::testing {
namespace {

namespace fs = std::filesystem;

std::string python() {
    const char* custom = std::getenv("SYNCLINE_PYTHON");
    // Debian's interpreter: python3-aiosmtpd installs there, not into other pythons on PATH.
    return custom && *custom ? custom : "/usr/bin/python3";
}

// Writes `text` to `path` through a temporary file and a rename: the server never reads half.
void write_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text;
    fs::rename(tmp, path);
}

received_mail parse_mail(const fs::path& eml) {
    received_mail m;
    m.name = eml.filename().string();
    m.raw = read_file(eml.string());
    fs::path rcpt = eml;
    rcpt.replace_extension(".rcpt");
    std::istringstream envelope(read_file(rcpt.string()));
    std::string port;
    std::getline(envelope, port);
    m.client_port = std::atoi(port.c_str());
    std::getline(envelope, m.mail_from);
    for (std::string line; std::getline(envelope, line);)
        if (!line.empty()) m.rcpt_to.push_back(line);
    const auto end = m.raw.find("\r\n\r\n");
    const std::string head = m.raw.substr(0, end);
    m.body = end == std::string::npos ? "" : m.raw.substr(end + 4);
    std::string name;
    std::size_t pos = 0;
    while (pos < head.size()) {
        auto eol = head.find("\r\n", pos);
        if (eol == std::string::npos) eol = head.size();
        const std::string line = head.substr(pos, eol - pos);
        pos = eol + 2;
        if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {  // A folded continuation.
            if (!name.empty()) m.headers[name] += line;
            continue;
        }
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        m.headers[name] = value;
    }
    return m;
}

// Runs `argv` to completion, output to `log`; its exit code (-1 when it could not run).
int run_program(const std::vector<std::string>& argv, const std::string& log) {
    spawn_options opts;
    opts.argv = argv;
    opts.stdout_path = log;
    opts.stderr_path = log;
    opts.stdin_path = "/dev/null";
    auto child = child_process::spawn(opts);
    if (!child.ok()) return -1;
    return child->wait_or_kill(std::chrono::seconds(30));
}

std::vector<fs::path> stored_files(const std::string& mail_dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(mail_dir, ec))
        if (entry.path().extension() == ".eml") out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

std::string received_mail::header(const std::string& lower_case_name) const {
    auto it = headers.find(lower_case_name);
    return it == headers.end() ? "" : it->second;
}

smtp_receiver::smtp_receiver(smtp_receiver_options options) : _options(std::move(options)) {
    if (_options.credentials) std::ofstream(_dir / "password") << _options.credentials->password << "\n";
    if (_options.tls != smtp_receiver_tls::none) {
        const int made = run_program({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                                      "-keyout", _dir / "key.pem", "-out", ca_file()},
                                     _dir / "openssl.log");
        if (made != 0) throw std::runtime_error("openssl req failed: " + read_file(_dir / "openssl.log"));
    }
    start_on_free_ports([this] {
        _port = free_tcp_port();
        start();
    });
}

smtp_receiver::~smtp_receiver() { _process.reset(); }

std::string smtp_receiver::uri(const std::string& query) const {
    const char* scheme = _options.tls == smtp_receiver_tls::implicit ? "smtps" : "smtp";
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(_port) + "?" + query;
}

void smtp_receiver::start() {
    std::error_code ec;
    fs::remove(_dir / "ready", ec);
    std::vector<std::string> argv = {python(), SYNCLINE_SMTP_RECEIVER_SCRIPT, _dir.path(), std::to_string(_port)};
    if (_options.credentials)
        argv.insert(argv.end(), {"--user", _options.credentials->user, "--password-file", _dir / "password"});
    if (_options.tls != smtp_receiver_tls::none)
        argv.insert(argv.end(), {"--tls", _options.tls == smtp_receiver_tls::starttls ? "starttls" : "implicit",
                                 "--cert", ca_file(), "--key", _dir / "key.pem"});
    _process = launch_server("smtp receiver on port " + std::to_string(_port), std::move(argv), _dir / "smtp.log",
                             [this] { return fs::exists(_dir / "ready"); });
}

void smtp_receiver::stop() {
    stop_server(_process);
}

void smtp_receiver::reject(const std::vector<std::string>& addresses) {
    std::string text;
    for (const auto& a : addresses) text += a + "\n";
    write_atomically(_dir / "reject", text);
}

void smtp_receiver::defer_for(std::chrono::milliseconds window) {
    const double until = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch() + window).count();
    std::ostringstream text;
    text.precision(17);
    text << until;
    write_atomically(_dir / "defer_until", text.str());
}

void smtp_receiver::delay_each(std::chrono::milliseconds delay) {
    write_atomically(_dir / "delay_ms", std::to_string(delay.count()));
}

std::size_t smtp_receiver::message_count() const { return stored_files(_dir / "mail").size(); }

std::vector<received_mail> smtp_receiver::messages() const {
    std::vector<received_mail> out;
    for (const auto& path : stored_files(_dir / "mail")) out.push_back(parse_mail(path));
    return out;
}

bool smtp_receiver::wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const {
    return eventually([&] { return message_count() >= n; }, timeout);
}

}  // namespace syncline::testing
