#include "targets/nats_target.h"

#include <nats/nats.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "common/record.h"

namespace syncline::targets {
namespace {

using std::chrono::milliseconds;

constexpr const char* offset_header = "Syncline-Offset";

// What the server (or libnats) said about one published message.
struct ack {
    natsStatus status = NATS_OK;  // NATS_OK: stored (or dropped as a duplicate, which counts as stored).
    jsErrCode code = static_cast<jsErrCode>(0);
    std::string text;
};

// libnats keeps the detail of the last failure per thread; its status text is the fallback.
std::string describe(natsStatus s) {
    const char* detail = nats_GetLastError(nullptr);
    return detail != nullptr && *detail != '\0' ? detail : natsStatus_GetText(s);
}

}  // namespace

struct nats_target::impl {
    nats_target_options options;
    std::string shown;  // nats://host:port/prefix, for messages.
    natsOptions* connect_options = nullptr;
    natsConnection* connection = nullptr;
    jsCtx* js = nullptr;
    bool published_async = false;  // By `js`.

    // Filled by on_ack (a libnats thread) for the batch being delivered, keyed by offset.
    std::mutex mutex;
    std::condition_variable acked;
    std::unordered_map<std::uint64_t, ack> acks;

    ~impl() { disconnect(); }

    void disconnect() {
        if (js != nullptr) {
            abandon_pending();  // No ack callback may run into a destroyed target.
            jsCtx_Destroy(js);
            js = nullptr;
            published_async = false;
        }
        if (connection != nullptr) {
            natsConnection_Close(connection);
            natsConnection_Destroy(connection);
            connection = nullptr;
        }
        if (connect_options != nullptr) {
            natsOptions_Destroy(connect_options);
            connect_options = nullptr;
        }
    }

    static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pub_ack, jsPubAckErr* error, void* closure) {
        auto* self = static_cast<impl*>(closure);
        const char* offset_text = nullptr;
        if (natsMsgHeader_Get(msg, offset_header, &offset_text) == NATS_OK && offset_text != nullptr) {
            ack a;
            if (pub_ack == nullptr && error != nullptr) {
                a.status = error->Err == NATS_OK ? NATS_ERR : error->Err;
                a.code = error->ErrCode;
                a.text = error->ErrText != nullptr && *error->ErrText != '\0' ? error->ErrText : natsStatus_GetText(error->Err);
            }
            std::lock_guard lock(self->mutex);
            self->acks[std::strtoull(offset_text, nullptr, 10)] = std::move(a);
            self->acked.notify_all();
        }
        natsMsg_Destroy(msg);  // Ours once the handler has it.
    }

    status connect() {
        natsStatus s = natsOptions_Create(&connect_options);
        const bool v6 = options.host.find(':') != std::string::npos;
        const std::string url = "nats://" + (v6 ? "[" + options.host + "]" : options.host) + ":" + std::to_string(options.port);
        if (s == NATS_OK) s = natsOptions_SetURL(connect_options, url.c_str());
        if (s == NATS_OK) s = natsOptions_SetTimeout(connect_options, options.connect_timeout.count());
        if (s == NATS_OK) s = natsOptions_SetName(connect_options, ("syncline-" + options.pipeline).c_str());
        // Reconnect forever: while libnats does, deliveries are transient and the worker retries.
        if (s == NATS_OK) s = natsOptions_SetMaxReconnect(connect_options, -1);
        if (s == NATS_OK) s = natsOptions_SetReconnectWait(connect_options, 250);
        if (s == NATS_OK && !options.token.empty()) s = natsOptions_SetToken(connect_options, options.token.c_str());
        if (s == NATS_OK && !options.creds_file.empty())
            s = natsOptions_SetUserCredentialsFromFiles(connect_options, options.creds_file.c_str(), nullptr);
        if (s != NATS_OK) return {errc::invalid_argument, "nats " + shown + ": " + describe(s)};
        s = natsConnection_Connect(&connection, connect_options);
        if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED)
            return {errc::invalid_argument, "nats " + shown + ": the server refused the credentials: " + describe(s)};
        if (s != NATS_OK) return {errc::unavailable, "nats " + shown + ": cannot connect: " + describe(s)};

        jsOptions js_options;
        jsOptions_Init(&js_options);
        js_options.Wait = options.ack_timeout.count();
        js_options.PublishAsync.AckHandler = &impl::on_ack;
        js_options.PublishAsync.AckHandlerClosure = this;
        js_options.PublishAsync.StallWait = options.ack_timeout.count();
        s = natsConnection_JetStream(&js, connection, &js_options);
        if (s != NATS_OK) return {errc::unavailable, "nats " + shown + ": no JetStream context: " + describe(s)};
        if (!options.create_stream.empty()) return create_stream();
        return {};
    }

    // The stream on <prefix>.> with a duplicate window; one that exists already is used as it is.
    status create_stream() {
        const std::string subjects = options.prefix + ".>";
        const char* subject_list[] = {subjects.c_str()};
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = options.create_stream.c_str();
        config.Subjects = subject_list;
        config.SubjectsLen = 1;
        config.Storage = js_FileStorage;
        config.Duplicates = std::chrono::nanoseconds(options.duplicate_window).count();
        jsStreamInfo* info = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        const natsStatus s = js_AddStream(&info, js, &config, nullptr, &code);
        if (info != nullptr) jsStreamInfo_Destroy(info);
        if (s == NATS_OK || code == JSStreamNameExistErr) return {};
        const std::string why = "nats " + shown + ": cannot create stream " + options.create_stream + ": " + describe(s);
        // A server refusal with a code (overlapping subjects, bad config) will not pass by itself.
        return {code != 0 ? errc::invalid_argument : errc::unavailable, why};
    }

    // Takes back the messages whose acks did not come, so that late acks of this batch are
    // dropped by libnats instead of landing in the next batch's table.
    void abandon_pending() {
        // libnats 3.4 crashes asking a context that never published asynchronously (no list yet).
        if (!published_async) return;
        natsMsgList pending;
        if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) natsMsgList_Destroy(&pending);
    }

    // Whether the server will refuse this message again however often it is sent.
    bool permanent(const ack& a) const {
        return a.code == JSStreamMessageExceedsMaximumErr || a.code == JSStreamNotMatchErr ||
               a.status == NATS_MAX_PAYLOAD || (a.status == NATS_NO_RESPONDERS && options.missing_stream_is_permanent);
    }

    natsStatus publish(const record_view& r, const std::string& subject) {
        natsMsg* msg = nullptr;
        natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, r.value.data(), static_cast<int>(r.value.size()));
        const std::string offset = std::to_string(r.offset);
        if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Syncline-Op", std::string(op_name(r.operation)).c_str());
        if (s == NATS_OK) s = natsMsgHeader_Set(msg, offset_header, offset.c_str());
        if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Syncline-Collection", header_escape(r.collection).c_str());
        if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Syncline-Key", header_escape(r.key).c_str());
        const std::string id = nats_msg_id(options.pipeline, r.offset);
        jsPubOptions publish_options;
        jsPubOptions_Init(&publish_options);
        publish_options.MsgId = id.c_str();  // Sent as the Nats-Msg-Id header.
        publish_options.MaxWait = options.ack_timeout.count();
        if (s == NATS_OK) {
            s = js_PublishMsgAsync(js, &msg, &publish_options);
            if (s == NATS_OK) published_async = true;  // A failed call leaves nothing pending.
        }
        natsMsg_Destroy(msg);  // Null once libnats took it.
        return s;
    }

    delivery_outcome deliver(std::span<const record_view> records) {
        delivery_outcome out;
        const auto transient = [&](std::string why) {
            out.failures.clear();  // Nothing of a transient delivery counts, refusals included.
            out.transient = {errc::unavailable, "nats " + shown + ": " + std::move(why)};
            return out;
        };
        // libnats reconnects forever; a connection it closed all the same (the server refused
        // us on reconnecting), or one half made by a failed try, is made anew.
        if (js == nullptr || natsConnection_Status(connection) == NATS_CONN_STATUS_CLOSED) {
            disconnect();
            if (status s = connect(); !s.ok()) {
                disconnect();  // Half made (stream creation failed): all again next time.
                out.transient = {errc::unavailable, s.message()};
                return out;
            }
        }
        if (natsConnection_Status(connection) != NATS_CONN_STATUS_CONNECTED)
            return transient("not connected to the server (libnats is reconnecting)");
        {
            std::lock_guard lock(mutex);
            acks.clear();
        }
        std::vector<std::pair<std::uint64_t, std::string>> published;  // Offset, subject.
        published.reserve(records.size());
        for (const record_view& r : records) {
            std::string subject = nats_subject(options.prefix, r.collection);
            const natsStatus s = publish(r, subject);
            if (s == NATS_MAX_PAYLOAD) {
                out.failures.push_back({r.offset, "nats " + shown + ": " + subject + ": message of " +
                                                      std::to_string(r.value.size()) + " bytes exceeds the server's max_payload of " +
                                                      std::to_string(natsConnection_GetMaxPayload(connection)) + " bytes"});
                continue;
            }
            if (s != NATS_OK) {
                abandon_pending();
                return transient("publish on " + subject + " failed: " + describe(s));
            }
            published.emplace_back(r.offset, std::move(subject));
        }
        jsPubOptions wait;
        jsPubOptions_Init(&wait);
        wait.MaxWait = options.ack_timeout.count();
        if (const natsStatus s = js_PublishAsyncComplete(js, &wait); s != NATS_OK) {
            abandon_pending();
            return transient("no ack for every message of the batch within " + std::to_string(options.ack_timeout.count()) +
                             " ms: " + describe(s));
        }
        // Every ack has arrived; the last callbacks may still be recording theirs.
        std::unique_lock lock(mutex);
        acked.wait_for(lock, options.ack_timeout, [&] { return acks.size() >= published.size(); });
        for (const auto& [offset, subject] : published) {
            const auto found = acks.find(offset);
            if (found == acks.end()) return transient("no ack for offset " + std::to_string(offset));
            const ack& a = found->second;
            if (a.status == NATS_OK) continue;
            if (!permanent(a)) return transient(subject + ": " + a.text);
            std::string why = "nats " + shown + ": " + subject + ": refused: " + a.text;
            if (a.code != 0) why += " (JetStream error " + std::to_string(a.code) + ")";
            out.failures.push_back({offset, std::move(why)});
        }
        return out;
    }
};

nats_target::nats_target(std::unique_ptr<impl> i) : _impl(std::move(i)) {}
nats_target::~nats_target() = default;

result<std::unique_ptr<nats_target>> nats_target::open(const nats_target_options& opts) {
    auto i = std::make_unique<impl>();
    i->options = opts;
    i->shown = "nats://" + opts.host + ":" + std::to_string(opts.port) + "/" + opts.prefix;
    SYNCLINE_RETURN_IF_ERROR(i->connect());
    return std::unique_ptr<nats_target>(new nats_target(std::move(i)));
}

delivery_outcome nats_target::deliver(std::span<const record_view> records) {
    if (records.empty()) return {};
    return _impl->deliver(records);
}

result<std::optional<state_map>> nats_target::read_state() { return std::optional<state_map>{}; }

}  // namespace syncline::targets
