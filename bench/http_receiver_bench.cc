// http_receiver_bench: the webhook receiver for the benchmarks (docs/benchmarks.md "Webhook"):
// a cpp-httplib server on 127.0.0.1 that does what a real receiver must do per request, check
// the Syncline-Signature (HMAC-SHA256 over "t.body", docs/targets/webhook.md), and answers 200
// (401 on a bad signature). It does not parse the JSON: the point is the transport's limit.
// Usage: http_receiver_bench --secret-file PATH [--port N]   (N = 0: any free port)
// Prints "listening port=N" once bound; on SIGINT/SIGTERM prints requests, bad signatures, bytes.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/program_options.hpp>
#include <httplib.h>

namespace {

httplib::Server* running = nullptr;

bool valid_signature(const std::string& secret, const std::string& header, const std::string& body) {
    const auto t_at = header.find("t="), v1_at = header.find(",v1=");
    if (t_at != 0 || v1_at == std::string::npos) return false;
    const std::string t = header.substr(2, v1_at - 2), v1 = header.substr(v1_at + 4);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const std::string payload = t + "." + body;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(payload.data()),
         payload.size(), mac, &len);
    static constexpr char hex[] = "0123456789abcdef";
    std::string expected;
    for (unsigned i = 0; i < len; ++i) expected += {hex[mac[i] >> 4], hex[mac[i] & 15]};
    return v1.size() == expected.size() && CRYPTO_memcmp(v1.data(), expected.data(), v1.size()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    namespace po = boost::program_options;
    std::string secret_file;
    int port = 0;
    po::options_description desc("http_receiver_bench");
    desc.add_options()("secret-file", po::value(&secret_file)->required())("port", po::value(&port));
    try {
        po::variables_map vm;
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_receiver_bench: %s\n", e.what());
        return 2;
    }
    std::ifstream in(secret_file);
    std::stringstream text;
    text << in.rdbuf();
    std::string secret = text.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) return std::fprintf(stderr, "http_receiver_bench: empty secret in %s\n", secret_file.c_str()), 2;

    std::atomic<std::uint64_t> requests{0}, bad{0}, bytes{0};
    httplib::Server server;
    server.set_keep_alive_max_count(1'000'000);
    server.set_tcp_nodelay(true);
    server.Post(".*", [&](const httplib::Request& req, httplib::Response& res) {
        ++requests;
        bytes += req.body.size();
        if (!valid_signature(secret, req.get_header_value("Syncline-Signature"), req.body)) {
            ++bad;
            res.status = 401;
            return;
        }
        res.status = 200;
        res.set_content("ok", "text/plain");
    });
    if (port == 0) port = server.bind_to_any_port("127.0.0.1");
    else if (!server.bind_to_port("127.0.0.1", port)) port = -1;
    if (port <= 0) return std::fprintf(stderr, "http_receiver_bench: cannot bind\n"), 1;
    std::printf("listening port=%d\n", port);
    std::fflush(stdout);
    running = &server;
    std::signal(SIGINT, [](int) { running->stop(); });
    std::signal(SIGTERM, [](int) { running->stop(); });
    server.listen_after_bind();
    std::printf("requests=%llu bad_signatures=%llu bytes=%llu\n", static_cast<unsigned long long>(requests.load()),
                static_cast<unsigned long long>(bad.load()), static_cast<unsigned long long>(bytes.load()));
    return 0;
}
