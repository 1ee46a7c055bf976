#include "tests/support/nats_server.h"

#include <nats/nats.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "tests/support/launch.h"

namespace syncline::testing {
namespace {

std::string server_binary() {
    const char* custom = std::getenv("SYNCLINE_NATS_SERVER");
    return custom && *custom ? custom : "/usr/sbin/nats-server";
}

void check(natsStatus s, const std::string& what) {
    if (s == NATS_OK) return;
    const char* detail = nats_GetLastError(nullptr);
    throw std::runtime_error("nats " + what + ": " + (detail && *detail ? detail : natsStatus_GetText(s)));
}

// A connection and its JetStream context, closed on scope exit.
struct js_session {
    natsConnection* connection = nullptr;
    jsCtx* js = nullptr;

    explicit js_session(int port, bool throw_on_failure = true) {
        const std::string url = "nats://127.0.0.1:" + std::to_string(port);
        natsOptions* options = nullptr;
        natsStatus s = natsOptions_Create(&options);
        if (s == NATS_OK) s = natsOptions_SetURL(options, url.c_str());
        if (s == NATS_OK) s = natsOptions_SetTimeout(options, 1000);
        if (s == NATS_OK) s = natsOptions_SetAllowReconnect(options, false);
        if (s == NATS_OK) s = natsConnection_Connect(&connection, options);
        natsOptions_Destroy(options);
        if (s == NATS_OK) s = natsConnection_JetStream(&js, connection, nullptr);
        if (throw_on_failure) check(s, "connect to " + url);
    }
    ~js_session() {
        if (js != nullptr) jsCtx_Destroy(js);
        if (connection != nullptr) natsConnection_Destroy(connection);
    }
    bool ok() const { return js != nullptr; }
};

stream_message to_stream_message(natsMsg* m) {
    stream_message message;
    message.subject = natsMsg_GetSubject(m);
    if (const char* data = natsMsg_GetData(m)) message.body.assign(data, static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    const char** keys = nullptr;
    int count = 0;
    if (natsMsgHeader_Keys(m, &keys, &count) == NATS_OK) {
        for (int k = 0; k < count; ++k) {
            const char* value = nullptr;
            if (natsMsgHeader_Get(m, keys[k], &value) == NATS_OK && value != nullptr) message.headers[keys[k]] = value;
        }
        std::free(static_cast<void*>(keys));
    }
    return message;
}

bool jetstream_answers(int port) {
    js_session session(port, false);
    if (!session.ok()) return false;
    jsAccountInfo* info = nullptr;
    jsErrCode code;
    const natsStatus s = js_GetAccountInfo(&info, session.js, nullptr, &code);
    if (info != nullptr) jsAccountInfo_Destroy(info);
    return s == NATS_OK;
}

}  // namespace

nats_server::nats_server() {
    start_on_free_ports([this] {
        _port = free_tcp_port();
        start();
    });
}

nats_server::~nats_server() {
    _process.reset();  // child_process kills and reaps it; temp_dir removes the data.
}

std::string nats_server::uri(const std::string& prefix, const std::string& query) const {
    return "nats://127.0.0.1:" + std::to_string(_port) + "/" + prefix + (query.empty() ? "" : "?" + query);
}

void nats_server::start() {
    _process = launch_server("nats-server on port " + std::to_string(_port),
                             {server_binary(), "-js", "-a", "127.0.0.1", "-p", std::to_string(_port), "-sd", _dir / "jetstream"},
                             _dir / "nats.log", [this] { return jetstream_answers(_port); });
}

void nats_server::stop() {
    stop_server(_process);
}

void nats_server::create_stream(const std::string& name, const std::string& subjects, int duplicate_window_s,
                                std::int32_t max_msg_size) {
    js_session session(_port);
    const char* subject_list[] = {subjects.c_str()};
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = name.c_str();
    config.Subjects = subject_list;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Duplicates = static_cast<std::int64_t>(duplicate_window_s) * 1'000'000'000;
    config.MaxMsgSize = max_msg_size;
    jsStreamInfo* info = nullptr;
    jsErrCode code;
    const natsStatus s = js_AddStream(&info, session.js, &config, nullptr, &code);
    if (info != nullptr) jsStreamInfo_Destroy(info);
    check(s, "create stream " + name);
}

std::vector<stream_message> nats_server::read_stream(const std::string& name) {
    js_session session(_port);
    jsStreamInfo* info = nullptr;
    jsErrCode code;
    check(js_GetStreamInfo(&info, session.js, name.c_str(), nullptr, &code), "stream info " + name);
    const std::uint64_t stored = info->State.Msgs;
    jsStreamInfo_Destroy(info);

    jsSubOptions sub_options;
    jsSubOptions_Init(&sub_options);
    sub_options.Stream = name.c_str();
    sub_options.Config.AckPolicy = js_AckNone;
    sub_options.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription* sub = nullptr;
    check(js_PullSubscribe(&sub, session.js, ">", "syncline-test-reader", nullptr, &sub_options, &code), "pull subscribe");
    std::unique_ptr<natsSubscription, void (*)(natsSubscription*)> owned(sub, [](natsSubscription* s) {
        natsSubscription_Unsubscribe(s);  // Deletes the consumer it created.
        natsSubscription_Destroy(s);
    });
    std::vector<stream_message> out;
    while (out.size() < stored) {
        natsMsgList list{};
        const natsStatus s = natsSubscription_Fetch(&list, sub, 1000, 5000, &code);
        check(s, "fetch from " + name + " after " + std::to_string(out.size()) + " of " + std::to_string(stored));
        for (int i = 0; i < list.Count; ++i) {
            natsMsg* m = list.Msgs[i];
            stream_message message = to_stream_message(m);
            jsMsgMetaData* meta = nullptr;
            if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
                message.sequence = meta->Sequence.Stream;
                jsMsgMetaData_Destroy(meta);
            }
            out.push_back(std::move(message));
        }
        natsMsgList_Destroy(&list);
    }
    return out;
}

struct nats_recorder::impl {
    js_session session;
    natsSubscription* sub = nullptr;
    std::mutex mutex;
    std::vector<stream_message> seen;

    explicit impl(int port) : session(port) {}

    static void on_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
        auto* self = static_cast<impl*>(closure);
        stream_message message = to_stream_message(m);
        natsMsg_Destroy(m);
        std::lock_guard lock(self->mutex);
        self->seen.push_back(std::move(message));
    }
};

nats_recorder::nats_recorder(int port, const std::string& subjects) : _impl(std::make_unique<impl>(port)) {
    check(natsConnection_Subscribe(&_impl->sub, _impl->session.connection, subjects.c_str(), &impl::on_message, _impl.get()),
          "subscribe to " + subjects);
    check(natsSubscription_SetPendingLimits(_impl->sub, -1, -1), "pending limits");
    check(natsConnection_Flush(_impl->session.connection), "flush");  // The server knows the subscription now.
}

nats_recorder::~nats_recorder() {
    // Drained: no callback runs into the destroyed recorder.
    if (natsSubscription_Drain(_impl->sub) == NATS_OK) natsSubscription_WaitForDrainCompletion(_impl->sub, 5000);
    natsSubscription_Destroy(_impl->sub);
}

std::vector<stream_message> nats_recorder::messages() {
    std::lock_guard lock(_impl->mutex);
    return _impl->seen;
}

}  // namespace syncline::testing
