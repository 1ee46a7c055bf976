#pragma once
// common/metrics_endpoint.h: the HTTP endpoint every syncline process can serve on its own thread
// (cpp-httplib): GET /metrics (the registry in the Prometheus text format), GET /live (200 while
// the process loop beats, 503 once it has not for `live_timeout`) and GET /ready (200 when the
// process can do its job, 503 with the reason otherwise). Enabled by --metrics-listen HOST:PORT
// (PORT 0 = any free port); the address actually bound is logged as
// `listening channel=metrics endpoint=http://HOST:PORT` and, with --metrics-file PATH, written to
// that file (how `syncline run` and `syncline status` find it).
// Thread-safety: `health` is updated by the process loop and read by the HTTP thread (atomics and
// a mutex for the reason). The endpoint stops and joins its thread on destruction; the registry
// and health it serves must outlive it. http_get is the client side, for `syncline status`.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/cli_options.h"
#include "common/metrics.h"
#include "common/status.h"

namespace syncline::metrics {

struct endpoint_options {
    std::string listen;        // HOST:PORT to serve on; empty = no endpoint. Default: none.
    std::string address_file;  // Receives "http://HOST:PORT\n" once listening. Default: none.
    std::chrono::milliseconds live_timeout{30'000};  // /live fails after this long without a beat.
    std::string_view index_html;  // Served at GET / when set (a static page; must outlive the endpoint).
};

// Adds --metrics-listen and --metrics-file to a component's options.
void add_endpoint_options(cli::po::options_description& desc, endpoint_options& options);
// Appends the flags add_endpoint_options reads back as `options` (--metrics-listen and
// --metrics-file, each when set) to `argv`: a daemon's to_argv.
void append_endpoint_argv(const endpoint_options& options, std::vector<std::string>& argv);
// invalid_argument unless `listen` is empty or HOST:PORT with PORT 0-65535 (IPv6 as [::1]:PORT).
status validate_endpoint_options(const endpoint_options& options);

// A listen address HOST:PORT ([IPv6]:PORT; PORT 0 = any free port), as every HTTP listener takes
// it. invalid_argument naming --OPTION and what is wrong.
struct host_port {
    std::string host;
    int port = 0;
};
result<host_port> split_listen(std::string_view listen, std::string_view option);

// Liveness and readiness as the process loop reports them.
class health {
public:
    health();
    // The loop is alive: call at least every few seconds.
    void beat() noexcept;
    // Ready to work, or not and why ("waiting for the sink", "target unavailable: ...").
    void set_ready(bool ready, std::string reason = {});

    // For the endpoint: ok, or the reason in the status message.
    bool live(std::chrono::milliseconds timeout) const noexcept;
    bool ready(std::string& reason) const;

private:
    std::atomic<std::int64_t> _last_beat_ns;
    std::atomic<bool> _ready{false};
    mutable std::mutex _mutex;
    std::string _reason = "starting";
};

class endpoint {
public:
    // Binds and starts serving. io_error when the address cannot be bound; invalid_argument for a
    // malformed address.
    static result<std::unique_ptr<endpoint>> start(const endpoint_options& options, const registry& metrics,
                                                   const health& health);
    // The same with /metrics answered by `render` (on the endpoint's thread, one request at a
    // time): `syncline run` serves its children's expositions merged. `render` must be
    // thread-safe with respect to the caller's other threads and outlive the endpoint.
    using render_fn = std::function<std::string()>;
    static result<std::unique_ptr<endpoint>> start(const endpoint_options& options, render_fn render,
                                                   const health& health);
    ~endpoint();
    // "http://HOST:PORT" as bound (the real port when 0 was asked for).
    const std::string& address() const noexcept;

private:
    struct impl;
    explicit endpoint(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> _impl;
};

// Starts an endpoint when options.listen is set (nullptr otherwise), logs its address through
// `log_component`'s logger and writes the address file.
result<std::unique_ptr<endpoint>> serve(const endpoint_options& options, const registry& metrics,
                                        const health& health, const std::string& log_component);
result<std::unique_ptr<endpoint>> serve(const endpoint_options& options, endpoint::render_fn render,
                                        const health& health, const std::string& log_component);

struct http_response {
    int status = 0;
    std::string body;
};

// GET `address` + `path` (address as "http://HOST:PORT"). unavailable when nothing answers in time.
result<http_response> http_get(const std::string& address, const std::string& path,
                               std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace syncline::metrics
