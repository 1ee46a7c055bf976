#include "common/metrics_endpoint.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <httplib.h>

#include "common/log.h"

namespace syncline::metrics {
namespace {

std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Replaced atomically, so a reader never sees a half-written address.
status write_address_file(const std::string& path, const std::string& address) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << address << '\n';
        if (!out.flush()) return status{errc::io_error, "cannot write " + tmp};
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return status{errc::io_error, "cannot write " + path + ": " + ec.message()};
    return {};
}

}  // namespace

result<host_port> split_listen(std::string_view listen, std::string_view option) {
    auto bad = [&](std::string_view why) {
        return status{errc::invalid_argument,
                      "--" + std::string(option) + ": invalid address '" + std::string(listen) + "': " + std::string(why)};
    };
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return bad("expected HOST:PORT (PORT 0 = any free port)");
    std::string_view host = listen.substr(0, colon);
    const std::string_view port = listen.substr(colon + 1);
    if (host.front() == '[') {
        if (host.back() != ']') return bad("unbalanced [ in IPv6 host");
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) return bad("missing host (use 127.0.0.1, or 0.0.0.0 for every interface)");
    if (port.empty() || port.size() > 5) return bad("port must be 0-65535");
    int value = 0;
    for (char c : port) {
        if (c < '0' || c > '9') return bad("port must be 0-65535");
        value = value * 10 + (c - '0');
    }
    if (value > 65535) return bad("port must be 0-65535");
    return host_port{std::string(host), value};
}


void add_endpoint_options(cli::po::options_description& desc, endpoint_options& options) {
    namespace po = cli::po;
    desc.add_options()
        ("metrics-listen", po::value(&options.listen)->value_name("HOST:PORT"),
         "serve Prometheus /metrics, /live and /ready over HTTP here (PORT 0 = any free port; the address is "
         "logged). Default: off")
        ("metrics-file", po::value(&options.address_file)->value_name("PATH"),
         "write the metrics address (http://HOST:PORT) to this file once listening");
}

void append_endpoint_argv(const endpoint_options& options, std::vector<std::string>& argv) {
    if (!options.listen.empty()) argv.insert(argv.end(), {"--metrics-listen", options.listen});
    if (!options.address_file.empty()) argv.insert(argv.end(), {"--metrics-file", options.address_file});
}

status validate_endpoint_options(const endpoint_options& options) {
    if (options.listen.empty()) {
        if (!options.address_file.empty())
            return status{errc::invalid_argument, "--metrics-file needs --metrics-listen"};
        return {};
    }
    auto split = split_listen(options.listen, "metrics-listen");
    return split.ok() ? status{} : split.get_status();
}

health::health() : _last_beat_ns(steady_ns()) {}

void health::beat() noexcept { _last_beat_ns.store(steady_ns(), std::memory_order_relaxed); }

void health::set_ready(bool ready, std::string reason) {
    if (ready == _ready.load(std::memory_order_relaxed) && ready) return;  // The hot path: no lock.
    std::lock_guard lock(_mutex);
    _ready.store(ready, std::memory_order_relaxed);
    _reason = ready ? std::string() : scrub_secrets(std::move(reason));
}

bool health::live(std::chrono::milliseconds timeout) const noexcept {
    const auto quiet = std::chrono::nanoseconds(steady_ns() - _last_beat_ns.load(std::memory_order_relaxed));
    return quiet < timeout;
}

bool health::ready(std::string& reason) const {
    std::lock_guard lock(_mutex);
    reason = _reason;
    return _ready.load(std::memory_order_relaxed);
}

struct endpoint::impl {
    httplib::Server server;
    std::thread thread;
    std::string address;
};

endpoint::endpoint(std::unique_ptr<impl> impl) : _impl(std::move(impl)) {}

endpoint::~endpoint() {
    _impl->server.stop();
    if (_impl->thread.joinable()) _impl->thread.join();
}

const std::string& endpoint::address() const noexcept { return _impl->address; }

result<std::unique_ptr<endpoint>> endpoint::start(const endpoint_options& options, const registry& metrics,
                                                  const health& health) {
    return start(options, [&metrics] { return metrics.expose(); }, health);
}

result<std::unique_ptr<endpoint>> endpoint::start(const endpoint_options& options, render_fn render,
                                                  const health& health) {
    auto where = split_listen(options.listen, "metrics-listen");
    if (!where.ok()) return where.get_status();
    auto state = std::make_unique<impl>();
    auto& server = state->server;
    // Scrapes are rare and cheap: one handler thread, not httplib's default pool of 8+, and one
    // request per connection so a keep-alive client cannot hold that thread.
    server.new_task_queue = [] { return new httplib::ThreadPool(1); };
    server.set_keep_alive_max_count(1);
    server.set_read_timeout(5);
    server.set_write_timeout(5);
    server.Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& res) {
        // Label values (worker ids, pipeline names) could carry a secret someone put there.
        res.set_content(scrub_secrets(render()), exposition_content_type);
    });
    if (!options.index_html.empty()) {
        const std::string_view html = options.index_html;
        server.Get("/", [html](const httplib::Request&, httplib::Response& res) {
            res.set_content(html.data(), html.size(), "text/html; charset=utf-8");
        });
    }
    const auto live_timeout = options.live_timeout;
    server.Get("/live", [&health, live_timeout](const httplib::Request&, httplib::Response& res) {
        const bool live = health.live(live_timeout);
        res.status = live ? 200 : 503;
        res.set_content(live ? "live\n"
                             : "not live: the process loop has not run for " +
                                   std::to_string(live_timeout.count() / 1000) + " s\n",
                        "text/plain");
    });
    server.Get("/ready", [&health](const httplib::Request&, httplib::Response& res) {
        std::string reason;
        const bool ready = health.ready(reason);
        res.status = ready ? 200 : 503;
        res.set_content(ready ? std::string("ready\n") : "not ready: " + reason + "\n", "text/plain");
    });

    int port = where->port;
    if (port == 0) {
        port = server.bind_to_any_port(where->host);
        if (port < 0) return status{errc::io_error, "--metrics-listen: cannot bind " + options.listen};
    } else if (!server.bind_to_port(where->host, port)) {
        return status{errc::io_error, "--metrics-listen: cannot bind " + options.listen + " (in use?)"};
    }
    const bool v6 = where->host.find(':') != std::string::npos;
    state->address = "http://" + (v6 ? "[" + where->host + "]" : where->host) + ":" + std::to_string(port);
    state->thread = std::thread([&server] { server.listen_after_bind(); });
    // stop() is a no-op until the server loop runs: wait for it, so the destructor can end it.
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return std::unique_ptr<endpoint>(new endpoint(std::move(state)));
}

result<std::unique_ptr<endpoint>> serve(const endpoint_options& options, const registry& metrics,
                                        const health& health, const std::string& log_component) {
    return serve(options, [&metrics] { return metrics.expose(); }, health, log_component);
}

result<std::unique_ptr<endpoint>> serve(const endpoint_options& options, endpoint::render_fn render,
                                        const health& health, const std::string& log_component) {
    if (options.listen.empty()) return std::unique_ptr<endpoint>();
    auto started = endpoint::start(options, std::move(render), health);
    if (!started.ok()) return started.get_status();
    logger(log_component).info("listening", {{"channel", "metrics"}, {"endpoint", (*started)->address()}});
    if (!options.address_file.empty())
        SYNCLINE_RETURN_IF_ERROR(write_address_file(options.address_file, (*started)->address()));
    return started;
}

result<http_response> http_get(const std::string& address, const std::string& path,
                               std::chrono::milliseconds timeout) {
    try {
        httplib::Client client(address);
        const auto secs = timeout.count() / 1000;
        const auto usecs = (timeout.count() % 1000) * 1000;
        client.set_connection_timeout(secs, usecs);
        client.set_read_timeout(secs, usecs);
        client.set_write_timeout(secs, usecs);
        auto res = client.Get(path);
        if (!res) return status{errc::unavailable, address + path + ": " + httplib::to_string(res.error())};
        return http_response{res->status, res->body};
    } catch (const std::exception& e) {  // httplib throws on malformed URLs (std::regex, std::invalid_argument).
        return status{errc::invalid_argument, address + ": " + e.what()};
    }
}

}  // namespace syncline::metrics
