#include "cli/internal/appender.h"

#include <unistd.h>

#include <random>

#include "cli/internal/command_util.h"
#include "gateway/client.h"

namespace syncline::cli::internal {
namespace {

class log_appender final : public appender {
public:
    explicit log_appender(std::unique_ptr<store::change_log> log) : _log(std::move(log)) {}
    result<store::offset_range> append(std::span<record> records) override { return _log->append(records); }
    bool can_stage() const override { return true; }
    status stage(std::span<record> records) override {
        auto r = _log->stage(records);
        return r.ok() ? status{} : r.get_status();
    }
    status discard_staged() override { return _log->discard_staged(); }

private:
    std::unique_ptr<store::change_log> _log;
};

class gateway_appender final : public appender {
public:
    explicit gateway_appender(std::unique_ptr<gateway::client> c) : _client(std::move(c)) {}
    result<store::offset_range> append(std::span<record> records) override {
        auto ack = _client->publish(records);
        if (!ack.ok()) return ack.get_status();
        return store::offset_range{ack->first, ack->last};
    }

private:
    std::unique_ptr<gateway::client> _client;
};

// A producer id no other run shares: host, pid and a random tag.
std::string fresh_producer_id() {
    char host[64] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    std::string id = "cli-";
    for (const char* p = host; *p && id.size() < 40; ++p) {
        const char c = *p;
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
        id.push_back(ok ? c : '_');
    }
    std::random_device rd;
    char tag[17];
    std::snprintf(tag, sizeof tag, "%08x%08x", rd(), rd());
    return id + "-" + std::to_string(::getpid()) + "-" + tag;
}

}  // namespace

result<std::unique_ptr<appender>> open_appender(const std::string& log_path, const std::string& via, bool sync) {
    if (via.empty()) {
        auto log = open_log_writer(log_path, sync);
        if (!log.ok()) return log.get_status();
        return std::unique_ptr<appender>(new log_appender(std::move(log.value())));
    }
    if (status s = validate_endpoint("--via", via); !s.ok()) return s;
    gateway::client_options o;
    o.endpoint = via;
    o.producer = fresh_producer_id();
    o.first_sequence = 1;  // A fresh id: nothing to resume.
    auto c = gateway::client::connect(o);
    if (!c.ok()) return c.get_status().with_context("gateway " + via);
    return std::unique_ptr<appender>(new gateway_appender(std::move(c.value())));
}

}  // namespace syncline::cli::internal
