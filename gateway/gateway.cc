#include "gateway/gateway.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "common/cli_options.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/zmq_util.h"
#include "gateway/json_records.h"
#include "gateway/protocol.h"
#include "store/change_log.h"

namespace syncline::gateway {
namespace {

const logger log_gw("gateway");

constexpr std::string_view producer_prefix = "producer/";
// One group commit holds at most this much (a RocksDB WriteBatch stays comfortable).
constexpr std::size_t max_group_records = 200'000;
constexpr std::uint64_t max_group_bytes = 128ull << 20;
constexpr std::uint32_t busy_retry_ms = 100;

// What the gateway exposes (docs/operations.md "Metrics").
struct gateway_metrics {
    explicit gateway_metrics(metrics::registry& r)
        : requests(r.counter_family("syncline_gateway_requests_total",
                                    "Requests answered, by listener and outcome.", {"listener", "outcome"})),
          records_appended(r.add_counter("syncline_gateway_records_appended_total", "Records appended to the log.")),
          group_commits(r.add_counter("syncline_gateway_group_commits_total",
                                      "Synced writes; each holds the requests that were waiting.")),
          bad_frames(r.add_counter("syncline_gateway_bad_frames_dropped_total",
                                   "ZeroMQ messages dropped as malformed.")),
          commit_seconds(r.add_histogram("syncline_gateway_commit_duration_seconds",
                                         "Seconds per synced group commit.", metrics::latency_buckets())),
          ack_seconds(r.add_histogram("syncline_gateway_ack_duration_seconds",
                                      "Seconds from a request's arrival to its answer.", metrics::latency_buckets())),
          in_flight_bytes(r.add_gauge("syncline_gateway_in_flight_bytes",
                                      "Bytes of requests accepted and not yet answered.")),
          last_offset(r.add_gauge("syncline_gateway_last_offset", "The log's last offset.")),
          producers(r.add_gauge("syncline_gateway_producers", "Producer ids in the producer table.")),
          producers_evicted(r.add_counter("syncline_gateway_producers_evicted_total",
                                          "Producer ids dropped from the producer table (idle or over the count).")) {
        for (int l = 0; l < 2; ++l)
            for (std::size_t o = 0; o < std::size(outcome_names); ++o)
                _request_counters[l][o] = &requests.with({l == 0 ? "zmq" : "http", std::string(outcome_names[o])});
    }

    metrics::family<metrics::counter>& requests;
    // requests.with({listener, outcome}); every series is created up front (the family lookup
    // takes a lock), so the hot path only indexes an array. listener: 0 zmq, 1 http.
    metrics::counter& request_counter(int listener, std::string_view outcome) const {
        std::size_t o = 0;
        while (o + 1 < std::size(outcome_names) && outcome_names[o] != outcome) ++o;
        return *_request_counters[listener][o];
    }
    metrics::counter &records_appended, &group_commits, &bad_frames;
    metrics::histogram &commit_seconds, &ack_seconds;
    metrics::gauge &in_flight_bytes, &last_offset, &producers;
    metrics::counter& producers_evicted;

private:
    static constexpr std::string_view outcome_names[] = {"published", "duplicate", "refused", "busy",
                                                         "failed", "producer", "unauthorized", "out_of_order"};
    metrics::counter* _request_counters[2][8] = {};
};

// How one request ended.
struct outcome {
    enum class kind { published, refused, busy, failed, out_of_order };
    kind type = kind::published;
    std::uint64_t first = 0, last = 0, count = 0;
    bool duplicate = false;
    std::uint64_t sequence = 0;
    std::optional<std::size_t> index;
    std::string reason;
    std::uint64_t producer_last = 0;  // out_of_order: the producer's last appended sequence.
};

// A request waiting for the writer.
struct submission {
    std::vector<record> records;
    std::string producer;
    std::uint64_t sequence = 0;
    std::optional<std::uint64_t> previous;
    std::uint32_t window = 1;
    std::uint64_t bytes = 0;
    std::chrono::steady_clock::time_point arrived;
    std::function<void(const outcome&)> done;  // Called once, on the writer thread.
};

// The single writer: a bounded queue of submissions, drained by one thread into group commits.
// submit() is thread-safe; done callbacks run on the writer thread.
class committer {
public:
    committer(store::change_log& log, const gateway_options& o, gateway_metrics& m)
        : _log(log), _max_in_flight(o.max_in_flight_bytes), _producer_idle(o.producer_idle),
          _max_producers(o.max_producers), _m(m) {}

    // Loads the producer table and drops what is over its bounds (idle, count) right away.
    status load_producers() {
        auto entries = _log.scan_meta(producer_prefix);
        if (!entries.ok()) return entries.get_status();
        std::vector<std::pair<std::string, producer_entry>> loaded;
        std::vector<store::meta_entry> writes;
        for (const auto& e : *entries) {
            auto entry = decode_producer_entry(e.value);
            if (!entry.ok()) return entry.get_status().with_context("producer table entry " + e.key);
            // Entries of the first form have no time: they count as used now, written so, so that
            // the idle bound reaches them too.
            if (entry->at_ms == 0) {
                entry->at_ms = now_ms();
                writes.push_back({e.key, encode_producer_entry(*entry)});
            }
            loaded.emplace_back(e.key.substr(producer_prefix.size()), std::move(*entry));
        }
        // Least recently used first, so that use ticks keep that order.
        std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) { return a.second.at_ms < b.second.at_ms; });
        for (auto& [id, entry] : loaded) _producers[id] = {std::move(entry), ++_tick};
        std::vector<store::meta_entry> evictions;
        choose_evictions({}, 0, evictions);
        if (!evictions.empty() || !writes.empty()) {
            writes.insert(writes.end(), evictions.begin(), evictions.end());
            std::vector<record> none;
            auto written = _log.append(none, writes);
            if (!written.ok()) return written.get_status().with_context("cannot update the producer table");
            apply_evictions(evictions);
        }
        _m.producers.set(static_cast<double>(_producers.size()));
        publish_log_figures();
        return {};
    }

    void start() { _thread = std::thread([this] { loop(); }); }

    // Takes the submission unless the in-flight cap is reached (then false: the caller answers
    // busy). A request alone is always taken, so one larger than the cap cannot wait forever.
    bool submit(std::unique_ptr<submission> s) {
        {
            std::lock_guard lock(_mutex);
            if (_stopping) return false;
            if (_in_flight > 0 && _in_flight + s->bytes > _max_in_flight) return false;
            _in_flight += s->bytes;
            _m.in_flight_bytes.set(static_cast<double>(_in_flight));
            _queue.push_back(std::move(s));
        }
        _wake.notify_one();
        return true;
    }

    bool over_cap() const {
        std::lock_guard lock(_mutex);
        return _in_flight >= _max_in_flight;
    }

    // The producer's last appended request (what a restarted producer resumes above).
    producer_entry producer_state(const std::string& id) const {
        std::lock_guard lock(_mutex);
        auto it = _producers.find(id);
        return it == _producers.end() ? producer_entry{} : it->second.entry;
    }

    // Answers everything queued, then stops the thread.
    void stop() {
        {
            std::lock_guard lock(_mutex);
            _stopping = true;
        }
        _wake.notify_one();
        if (_thread.joinable()) _thread.join();
    }

    struct figures {
        std::uint64_t first = 0, last = 0, producers = 0, appends = 0;
    };
    figures log_figures() const {
        std::lock_guard lock(_mutex);
        return _figures;
    }

    bool healthy() const { return _healthy.load(); }
    std::string last_error() const {
        std::lock_guard lock(_mutex);
        return _last_error;
    }

private:
    struct producer_slot {
        producer_entry entry;
        std::uint64_t tick = 0;  // Last use, in this process's order (least recently used first).
    };

    static std::uint64_t now_ms() {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    }

    // The producer table's bounds (docs/producers.md "The producer table's bounds"): entries idle
    // longer than --producer-idle-hours, then the least recently used beyond --max-producers
    // (counting `adding` new ids), are deleted in the next write. Ids in `keep` (this group's) stay.
    // Called on the writer thread (or before start()).
    void choose_evictions(const std::unordered_map<std::string, producer_entry>& keep, std::size_t adding,
                          std::vector<store::meta_entry>& out) {
        const std::uint64_t now = now_ms();
        std::vector<std::pair<std::uint64_t, const std::string*>> candidates;
        const bool idle_due = _producer_idle.count() > 0 && now >= _next_idle_check;
        std::size_t remaining = _producers.size();
        if (idle_due) {
            const auto idle_ms = static_cast<std::uint64_t>(_producer_idle.count());
            _next_idle_check = now + std::min<std::uint64_t>(idle_ms / 4 + 1, 60'000);
            for (const auto& [id, slot] : _producers)
                if (!keep.contains(id) && slot.entry.at_ms + idle_ms < now) {
                    out.push_back({std::string(producer_prefix) + id, ""});
                    --remaining;
                }
        }
        if (remaining + adding <= _max_producers) return;
        // Over the count: the least recently used go, down to 7/8 of the bound (so that a steady
        // stream of new ids does not pay for a sort on every write).
        const std::size_t target = _max_producers - _max_producers / 8;
        std::unordered_map<std::string_view, bool> gone;
        for (const auto& e : out) gone[std::string_view(e.key).substr(producer_prefix.size())] = true;
        for (const auto& [id, slot] : _producers)
            if (!keep.contains(id) && !gone.contains(id)) candidates.emplace_back(slot.tick, &id);
        std::sort(candidates.begin(), candidates.end());
        for (const auto& [tick, id] : candidates) {
            if (remaining + adding <= target || remaining == 0) break;
            out.push_back({std::string(producer_prefix) + *id, ""});
            --remaining;
        }
    }

    // After the write that held them: the evicted ids leave the in-memory table.
    void apply_evictions(const std::vector<store::meta_entry>& meta) {
        std::size_t n = 0;
        for (const auto& e : meta)
            if (e.value.empty()) n += _producers.erase(e.key.substr(producer_prefix.size()));
        if (n > 0) {
            _m.producers_evicted.inc(n);
            log_gw.info("producers evicted", {{"count", n}, {"left", _producers.size()}});
        }
    }

    void publish_log_figures() {
        // Called with _mutex held or before start().
        _figures.first = _log.first_offset();
        _figures.last = _log.last_offset();
        _figures.producers = _producers.size();
        _m.last_offset.set(static_cast<double>(_figures.last));
    }

    void loop() {
        std::vector<std::unique_ptr<submission>> group;
        for (;;) {
            {
                std::unique_lock lock(_mutex);
                _wake.wait(lock, [&] { return !_queue.empty() || _stopping; });
                if (_queue.empty() && _stopping) return;
                std::size_t records = 0;
                std::uint64_t bytes = 0;
                while (!_queue.empty() && (group.empty() || (records + _queue.front()->records.size() <= max_group_records &&
                                                             bytes + _queue.front()->bytes <= max_group_bytes))) {
                    records += _queue.front()->records.size();
                    bytes += _queue.front()->bytes;
                    group.push_back(std::move(_queue.front()));
                    _queue.pop_front();
                }
            }
            commit(group);
            std::uint64_t released = 0;
            for (const auto& s : group) released += s->bytes;
            {
                std::lock_guard lock(_mutex);
                _in_flight -= released;
                _m.in_flight_bytes.set(static_cast<double>(_in_flight));
            }
            group.clear();
        }
    }

    // Appends the group in one synced write and answers every request in it.
    void commit(std::vector<std::unique_ptr<submission>>& group) {
        // Decide each request against the producer table as it will be after the requests before
        // it in this group: `tentative` holds this group's changes until the write succeeds.
        std::unordered_map<std::string, producer_entry> tentative;
        std::vector<outcome> outcomes(group.size());
        std::vector<bool> appends(group.size(), false), from_group(group.size(), false);
        std::vector<record> batch;
        std::size_t total = 0;
        for (const auto& s : group) total += s->records.size();
        batch.reserve(total);
        const std::uint64_t base = _log.last_offset() + 1;
        std::uint64_t next = base;
        for (std::size_t i = 0; i < group.size(); ++i) {
            submission& s = *group[i];
            outcome& o = outcomes[i];
            if (!s.producer.empty()) {
                const producer_entry* known = nullptr;
                if (auto t = tentative.find(s.producer); t != tentative.end()) {
                    known = &t->second;
                    from_group[i] = true;
                } else if (auto p = _producers.find(s.producer); p != _producers.end()) known = &p->second.entry;
                if (known != nullptr && s.sequence <= known->sequence) {
                    if (const producer_request* same = known->find(s.sequence)) {
                        o = {outcome::kind::published, same->first, same->last, same->count, true, s.sequence, {}, {}};
                        continue;
                    }
                    o.type = outcome::kind::refused;
                    o.sequence = s.sequence;
                    o.reason = "sequence " + std::to_string(s.sequence) + " of producer " + s.producer +
                               " is below its last appended sequence " + std::to_string(known->sequence) +
                               " and not one of its last " + std::to_string(known->earlier.size() + 1) +
                               " (sequences increase; a retry repeats one of the producer's latest requests)";
                    continue;
                }
                const std::uint64_t last_known = known == nullptr ? 0 : known->sequence;
                if (s.previous && *s.previous != last_known) {
                    o.type = outcome::kind::out_of_order;
                    o.sequence = s.sequence;
                    o.producer_last = last_known;
                    continue;
                }
            }
            const std::uint64_t n = s.records.size();
            o = {outcome::kind::published, next, next + n - 1, n, false, s.sequence, {}, {}};
            if (!s.producer.empty()) {
                producer_entry e;
                static_cast<producer_request&>(e) = {s.sequence, next, next + n - 1, n};
                e.at_ms = now_ms();
                if (s.window > 1) {
                    const producer_entry* before = nullptr;
                    if (auto t = tentative.find(s.producer); t != tentative.end()) before = &t->second;
                    else if (auto p = _producers.find(s.producer); p != _producers.end()) before = &p->second.entry;
                    if (before != nullptr) {
                        e.earlier.reserve(s.window - 1);
                        e.earlier.push_back(*before);
                        for (const auto& r : before->earlier) {
                            if (e.earlier.size() + 1 >= s.window) break;
                            e.earlier.push_back(r);
                        }
                    }
                }
                tentative[s.producer] = std::move(e);
            }
            for (record& r : s.records) batch.push_back(std::move(r));
            next += n;
            appends[i] = true;
        }

        if (!batch.empty()) {
            std::vector<store::meta_entry> meta;
            meta.reserve(tentative.size());
            std::size_t adding = 0;
            for (const auto& [id, entry] : tentative) {
                meta.push_back({std::string(producer_prefix) + id, encode_producer_entry(entry)});
                if (!_producers.contains(id)) ++adding;
            }
            std::vector<store::meta_entry> evictions;
            choose_evictions(tentative, adding, evictions);
            meta.insert(meta.end(), evictions.begin(), evictions.end());
            const auto began = std::chrono::steady_clock::now();
            auto range = _log.append(batch, meta);
            if (range.ok() && range->first != base) {
                range = status{errc::corruption, "the log assigned offset " + std::to_string(range->first) +
                                                     ", expected " + std::to_string(base) + " (another writer?)"};
            }
            if (!range.ok()) {
                const std::string reason = "append failed: " + range.get_status().message();
                if (_error_log.allow()) log_gw.error("append failed", {{"error", range.get_status().message()}});
                {
                    std::lock_guard lock(_mutex);
                    _last_error = reason;
                }
                _healthy = false;
                // Nothing of this group is durable: every request of it fails (retries are safe),
                // including duplicates answered from this group's own (tentative) entries.
                for (std::size_t i = 0; i < group.size(); ++i) {
                    if (appends[i] || from_group[i]) {
                        outcomes[i] = outcome{};
                        outcomes[i].type = outcome::kind::failed;
                        outcomes[i].sequence = group[i]->sequence;
                        outcomes[i].reason = reason;
                    }
                }
                finish(group, outcomes);
                return;
            }
            _healthy = true;
            _m.commit_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
            _m.group_commits.inc();
            _m.records_appended.inc(batch.size());
            std::lock_guard lock(_mutex);
            apply_evictions(evictions);
            for (auto& [id, entry] : tentative) _producers[id] = {std::move(entry), ++_tick};
            _m.producers.set(static_cast<double>(_producers.size()));
            ++_figures.appends;
            publish_log_figures();
        }
        finish(group, outcomes);
    }

    void finish(std::vector<std::unique_ptr<submission>>& group, const std::vector<outcome>& outcomes) {
        const auto now = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < group.size(); ++i) {
            _m.ack_seconds.observe(std::chrono::duration<double>(now - group[i]->arrived).count());
            group[i]->done(outcomes[i]);
        }
    }

    store::change_log& _log;
    const std::uint64_t _max_in_flight;
    const std::chrono::milliseconds _producer_idle;
    const std::size_t _max_producers;
    std::uint64_t _next_idle_check = 0;  // Wall clock ms; writer thread only.
    std::uint64_t _tick = 0;             // Use order; writer thread only.
    gateway_metrics& _m;
    mutable std::mutex _mutex;  // Guards the queue, _in_flight, _stopping, _producers, _figures.
    std::condition_variable _wake;
    std::deque<std::unique_ptr<submission>> _queue;
    std::uint64_t _in_flight = 0;
    bool _stopping = false;
    std::unordered_map<std::string, producer_slot> _producers;
    figures _figures;
    std::atomic<bool> _healthy{true};
    std::string _last_error;
    rate_limiter _error_log;
    std::thread _thread;
};

// The log's record limits (common/record.h: one set for every writer and reader) and the
// gateway's own --max-value-kib.
status check_record(const record& r, const gateway_options& o) {
    if (std::string problem = syncline::check_record(r); !problem.empty())
        return status{errc::invalid_argument, std::move(problem)};
    if (r.operation == op::del && !r.value.empty())
        return status{errc::invalid_argument, "a delete must not have a value"};
    if (r.value.size() > o.max_value_bytes)
        return status{errc::invalid_argument, "value is " + std::to_string(r.value.size()) +
                                                  " bytes, more than --max-value-kib " + std::to_string(o.max_value_bytes >> 10)};
    return {};
}

std::uint64_t request_bytes(const std::vector<record>& records) {
    std::uint64_t n = 0;
    for (const record& r : records) {
        n += r.collection.size() + r.key.size() + r.value.size() + 32;
        for (const auto& [k, v] : r.headers) n += k.size() + v.size();
    }
    return n;
}

// The first bad record of a request, or nullopt.
std::optional<body_problem> check_records(const std::vector<record>& records, const gateway_options& o) {
    for (std::size_t i = 0; i < records.size(); ++i)
        if (status s = check_record(records[i], o); !s.ok()) return body_problem{i, 0, s.message()};
    return std::nullopt;
}

// The request's records from the ZeroMQ body (copied out of the frame), or the problem.
std::optional<body_problem> records_from_frame(const request& req, std::vector<record>& out, const gateway_options& o) {
    if (req.format == body_format::jsonl)
        return parse_json_body(req.body, out, json_limits{o.max_value_bytes}, o.max_request_records);
    codec::decode_limits limits;
    limits.max_records = o.max_request_records;
    auto views = codec::decode_batch_body(req.body, limits);
    if (!views.ok()) return body_problem{std::nullopt, 0, views.get_status().message()};
    if (views->empty()) return body_problem{std::nullopt, 0, "the request holds no records"};
    out.reserve(views->size());
    for (const record_view& v : *views) out.push_back(v.to_record());
    return std::nullopt;
}

// Compares a presented token with the configured one in constant time (both hashed first, so
// neither the content nor the length leaks through timing).
bool token_matches(std::string_view presented, const std::string& expected) {
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(presented.data()), presented.size(), a);
    SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

result<std::string> read_token_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return status{errc::invalid_argument, "--http-token-file: cannot read " + path};
    std::stringstream ss;
    ss << in.rdbuf();
    std::string token = ss.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty()) return status{errc::invalid_argument, "--http-token-file: " + path + " is empty"};
    if (token.size() < min_secret_bytes)
        return status{errc::invalid_argument, "--http-token-file: " + path + " holds a token of fewer than " +
                                                  std::to_string(min_secret_bytes) + " bytes: tokens must be at least " +
                                                  std::to_string(min_secret_bytes) + " bytes"};
    return token;
}

status write_endpoints_file(const std::string& log_dir, const std::vector<std::string>& zmq, const std::string& http) {
    const std::string path = log_dir + "/" + endpoints_file_name;
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << "pid=" << ::getpid() << '\n';
        for (const auto& e : zmq) out << "zmq=" << e << '\n';
        if (!http.empty()) out << "http=" << http << '\n';
        if (!out.flush()) return status{errc::io_error, "cannot write " + tmp};
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return status{errc::io_error, "cannot write " + path + ": " + ec.message()};
    return {};
}

nlohmann::json problem_json(const body_problem& p) {
    nlohmann::json j{{"error", p.message}};
    if (p.index) j["index"] = *p.index;
    if (p.line) j["line"] = p.line;
    return j;
}

// The HTTP listener: POST /v1/changes, GET /v1/log, /metrics, /live, /ready.
class http_listener {
public:
    http_listener(const gateway_options& o, committer& c, const metrics::registry& r, const metrics::health& h,
                  gateway_metrics& m, std::string token)
        : _o(o), _committer(c), _registry(r), _health(h), _m(m), _token(std::move(token)) {}

    result<std::string> start() {
        auto where = metrics::split_listen(_o.http_listen, "http-listen");
        if (!where.ok()) return where.get_status();
        if (!_o.http_tls_cert.empty()) {
            auto tls = std::make_unique<httplib::SSLServer>(_o.http_tls_cert.c_str(), _o.http_tls_key.c_str());
            if (!tls->is_valid())
                return status{errc::invalid_argument, "--http-tls-cert / --http-tls-key: cannot load the certificate " +
                                                          _o.http_tls_cert + " with the key " + _o.http_tls_key +
                                                          " (PEM files, the key unencrypted and matching the certificate)"};
            _server = std::move(tls);
        } else {
            _server = std::make_unique<httplib::Server>();
        }
        const int threads = _o.http_threads;
        _server->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
        _server->set_payload_max_length(_o.max_request_bytes);
        _server->set_read_timeout(10);
        _server->set_keep_alive_max_count(100'000);  // Producers keep their connection.
        _server->set_tcp_nodelay(true);               // An ack is one small write: send it now.
        _server->set_write_timeout(10);
        _server->Post("/v1/changes", [this](const httplib::Request& req, httplib::Response& res) { changes(req, res); });
        _server->Get("/v1/log", [this](const httplib::Request& req, httplib::Response& res) { log_figures(req, res); });
        _server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(_registry.expose(), metrics::exposition_content_type);
        });
        _server->Get("/live", [this](const httplib::Request&, httplib::Response& res) {
            const bool live = _health.live(std::chrono::seconds(30));
            res.status = live ? 200 : 503;
            res.set_content(live ? "live\n" : "not live\n", "text/plain");
        });
        _server->Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
            std::string reason;
            const bool ready = _health.ready(reason);
            res.status = ready ? 200 : 503;
            res.set_content(ready ? std::string("ready\n") : "not ready: " + reason + "\n", "text/plain");
        });
        int port = where->port;
        if (port == 0) {
            port = _server->bind_to_any_port(where->host);
            if (port < 0) return status{errc::io_error, "--http-listen: cannot bind " + _o.http_listen};
        } else if (!_server->bind_to_port(where->host, port)) {
            return status{errc::io_error, "--http-listen: cannot bind " + _o.http_listen + " (in use?)"};
        }
        const bool v6 = where->host.find(':') != std::string::npos;
        std::string address = std::string(_o.http_tls_cert.empty() ? "http://" : "https://") + (v6 ? "[" + where->host + "]" : where->host) + ":" + std::to_string(port);
        _thread = std::thread([this] { _server->listen_after_bind(); });
        while (!_server->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return address;
    }

    ~http_listener() { stop(); }

    // Stops listening; requests in progress are answered first.
    void stop() {
        if (_server) _server->stop();
        if (_thread.joinable()) _thread.join();
    }

private:
    bool authorized(const httplib::Request& req, httplib::Response& res) {
        if (_token.empty()) return true;
        const std::string header = req.get_header_value("Authorization");
        constexpr std::string_view scheme = "Bearer ";
        if (header.size() > scheme.size() && std::string_view(header).substr(0, scheme.size()) == scheme &&
            token_matches(std::string_view(header).substr(scheme.size()), _token))
            return true;
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content(nlohmann::json{{"error", "missing or wrong bearer token"}}.dump() + "\n", "application/json");
        _m.request_counter(1, "unauthorized").inc();
        return false;
    }

    void reply(httplib::Response& res, int code, const nlohmann::json& body, std::string_view outcome_name) {
        res.status = code;
        res.set_content(body.dump() + "\n", "application/json");
        _m.request_counter(1, outcome_name).inc();
    }

    void busy(httplib::Response& res) {
        res.set_header("Retry-After", "1");
        reply(res, 429, {{"error", "busy: too many bytes in flight, retry later"}}, "busy");
    }

    void changes(const httplib::Request& req, httplib::Response& res) {
        const auto arrived = std::chrono::steady_clock::now();
        if (!authorized(req, res)) return;
        auto sub = std::make_unique<submission>();
        sub->arrived = arrived;
        const std::string producer = req.get_header_value("Syncline-Producer");
        const std::string sequence = req.get_header_value("Syncline-Sequence");
        if (!producer.empty()) {
            if (status s = validate_producer_id(producer); !s.ok())
                return reply(res, 400, {{"error", "Syncline-Producer: " + s.message()}}, "refused");
            std::uint64_t seq = 0;
            bool ok = !sequence.empty() && sequence.size() <= 20;
            for (char c : sequence) ok = ok && c >= '0' && c <= '9';
            if (ok) {
                errno = 0;
                seq = std::strtoull(sequence.c_str(), nullptr, 10);
                ok = errno == 0 && seq > 0;
            }
            if (!ok)
                return reply(res, 400, {{"error", "Syncline-Sequence must be an integer >= 1 with Syncline-Producer"}},
                             "refused");
            sub->producer = producer;
            sub->sequence = seq;
        } else if (!sequence.empty()) {
            return reply(res, 400, {{"error", "Syncline-Sequence without Syncline-Producer"}}, "refused");
        }
        if (_committer.over_cap()) return busy(res);
        if (auto problem = parse_json_body(req.body, sub->records, json_limits{_o.max_value_bytes}, _o.max_request_records))
            return reply(res, 400, problem_json(*problem), "refused");
        if (auto problem = check_records(sub->records, _o)) return reply(res, 400, problem_json(*problem), "refused");
        sub->bytes = request_bytes(sub->records);

        std::mutex mutex;
        std::condition_variable cv;
        std::optional<outcome> result;
        sub->done = [&](const outcome& o) {
            std::lock_guard lock(mutex);
            result = o;
            cv.notify_one();
        };
        if (!_committer.submit(std::move(sub))) return busy(res);
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return result.has_value(); });
        const outcome& o = *result;
        switch (o.type) {
            case outcome::kind::published: {
                nlohmann::json body{{"first_offset", o.first}, {"last_offset", o.last}, {"count", o.count}};
                if (o.duplicate) body["duplicate"] = true;
                return reply(res, 200, body, o.duplicate ? "duplicate" : "published");
            }
            case outcome::kind::refused: return reply(res, 409, {{"error", o.reason}}, "refused");
            case outcome::kind::out_of_order:  // HTTP requests carry no `previous`; kept for completeness.
                return reply(res, 409, {{"error", "out of order"}}, "out_of_order");
            case outcome::kind::busy: return busy(res);
            case outcome::kind::failed:
                res.set_header("Retry-After", "1");
                return reply(res, 503, {{"error", o.reason}}, "failed");
        }
    }

    void log_figures(const httplib::Request& req, httplib::Response& res) {
        if (!authorized(req, res)) return;
        const auto f = _committer.log_figures();
        const std::uint64_t count = f.last == 0 || f.first == 0 ? 0 : f.last - f.first + 1;
        // Files under the directory (a few dozen): cheap enough per request, unlike per-collection
        // counts, which need a scan of the whole log (`syncline log stats` has them).
        std::uint64_t disk_bytes = 0;
        std::error_code ec;
        for (auto it = std::filesystem::recursive_directory_iterator(_o.log, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            std::error_code size_ec;
            if (it->is_regular_file(size_ec)) disk_bytes += it->file_size(size_ec);
        }
        res.set_content(nlohmann::json{{"log", _o.log},
                                       {"first_offset", f.first},
                                       {"last_offset", f.last},
                                       {"count", count},
                                       {"disk_bytes", disk_bytes},
                                       {"producers", f.producers},
                                       {"group_commits", f.appends}}
                                .dump() + "\n",
                        "application/json");
    }

    const gateway_options& _o;
    committer& _committer;
    const metrics::registry& _registry;
    const metrics::health& _health;
    gateway_metrics& _m;
    std::string _token;
    std::unique_ptr<httplib::Server> _server;
    std::thread _thread;
};

outcome busy_outcome(std::uint64_t sequence = 0) {
    outcome o;
    o.type = outcome::kind::busy;
    o.sequence = sequence;
    return o;
}

reply to_reply(const outcome& o) {
    reply r;
    switch (o.type) {
        case outcome::kind::published:
            r.type = reply::kind::published;
            r.first = o.first;
            r.last = o.last;
            r.count = o.count;
            r.duplicate = o.duplicate;
            r.sequence = o.sequence;
            break;
        case outcome::kind::refused:
            r.type = reply::kind::refused;
            r.reason = o.reason;
            r.index = o.index;
            r.sequence = o.sequence;
            break;
        case outcome::kind::busy:
            r.type = reply::kind::busy;
            r.retry_after_ms = busy_retry_ms;
            r.sequence = o.sequence;
            break;
        case outcome::kind::failed:
            r.type = reply::kind::failed;
            r.reason = o.reason;
            r.sequence = o.sequence;
            break;
        case outcome::kind::out_of_order:
            r.type = reply::kind::out_of_order;
            r.sequence = o.sequence;
            r.last = o.producer_last;
            break;
    }
    return r;
}

// Replies the writer thread finished for ZeroMQ peers, handed to the socket's thread.
struct zmq_completions {
    std::mutex mutex;
    std::vector<std::pair<std::string, reply>> ready;  // routing id, reply
};

std::string_view outcome_name(const reply& r) {
    switch (r.type) {
        case reply::kind::published: return r.duplicate ? "duplicate" : "published";
        case reply::kind::refused: return "refused";
        case reply::kind::busy: return "busy";
        case reply::kind::failed: return "failed";
        case reply::kind::producer_state: return "producer";
        case reply::kind::out_of_order: return "out_of_order";
    }
    return "?";
}

}  // namespace

result<cli_outcome> parse_cli(int argc, const char* const* argv) {
    cli_outcome out;
    gateway_options& o = out.options;
    std::uint64_t max_request_kib = 16 * 1024, max_in_flight_kib = 256 * 1024, max_value_kib = 1024;
    double producer_idle_hours = 24.0 * 7;
    bool no_sync = false;
    cli::po::options_description desc("syncline-gateway options");
    desc.add_options()
        ("log", cli::po::value(&o.log)->required()->value_name("DIR"), "change log directory (created if missing)")
        ("zmq-listen", cli::po::value(&o.zmq_listen)->default_value(o.zmq_listen)->value_name("ENDPOINTS"),
         "ROUTER endpoints, comma-separated (tcp://, ipc://); empty: no ZeroMQ listener")
        ("http-listen", cli::po::value(&o.http_listen)->value_name("HOST:PORT"),
         "HTTP listener for POST /v1/changes, GET /v1/log, /metrics, /live, /ready (PORT 0: any free port)")
        ("http-tls-cert", cli::po::value(&o.http_tls_cert)->value_name("FILE"),
         "serve HTTPS with this PEM certificate (chain) and --http-tls-key")
        ("http-tls-key", cli::po::value(&o.http_tls_key)->value_name("FILE"), "the certificate's PEM private key (unencrypted)")
        ("http-token-file", cli::po::value(&o.http_token_file)->value_name("FILE"),
         "require `Authorization: Bearer TOKEN` on /v1/* with the token in FILE")
        ("http-threads", cli::po::value(&o.http_threads)->default_value(o.http_threads)->value_name("N"),
         "HTTP handler threads (concurrent requests)")
        ("max-request-kib", cli::po::value(&max_request_kib)->default_value(max_request_kib)->value_name("KIB"),
         "largest request (HTTP 413 above it; ZeroMQ drops the peer's message)")
        ("max-request-records", cli::po::value(&o.max_request_records)->default_value(o.max_request_records)->value_name("N"),
         "most records in one request")
        ("max-in-flight-kib", cli::po::value(&max_in_flight_kib)->default_value(max_in_flight_kib)->value_name("KIB"),
         "requests accepted and not yet answered, in KiB; above it: HTTP 429 / ZeroMQ busy")
        ("max-value-kib", cli::po::value(&max_value_kib)->default_value(max_value_kib)->value_name("KIB"),
         "largest stored value (as `syncline append --max-value-bytes`)")
        ("producer-idle-hours", cli::po::value(&producer_idle_hours)->default_value(producer_idle_hours)->value_name("H"),
         "drop a producer id from the producer table after H hours without a request (0: never); "
         "a retry older than that is appended again")
        ("max-producers", cli::po::value(&o.max_producers)->default_value(o.max_producers)->value_name("N"),
         "most producer ids in the producer table; over it the least recently used are dropped")
        ("no-sync", cli::po::bool_switch(&no_sync), "do not fsync each group commit (acks then mean 'written', not 'on disk')");
    metrics::add_endpoint_options(desc, o.metrics);
    curve::curve_options curve_flags;
    curve::add_cli_options(desc, curve_flags, curve::role::server);
    auto parsed = cli::parse(argc, argv, desc,
                             "usage: syncline-gateway --log DIR [--zmq-listen ENDPOINTS] [--http-listen HOST:PORT] [options]\n"
                             "\nThe change log's one writer: takes changes from producers over ZeroMQ and HTTP and answers\n"
                             "each request with its offsets once they are on disk (docs/producers.md).");
    if (!parsed.ok()) return parsed.get_status();
    out.exit_now = parsed->exit_now;
    if (out.exit_now) return out;
    if (o.log.empty()) return status{errc::invalid_argument, "--log must not be empty"};
    if (o.zmq_listen.empty() && o.http_listen.empty())
        return status{errc::invalid_argument, "nothing to listen on: give --zmq-listen and/or --http-listen"};
    if (!o.zmq_listen.empty()) SYNCLINE_RETURN_IF_ERROR(cli::validate_endpoint_list("--zmq-listen", o.zmq_listen));
    if (!o.http_listen.empty()) {
        auto where = metrics::split_listen(o.http_listen, "http-listen");
        if (!where.ok()) return where.get_status();
    }
    if (o.http_tls_cert.empty() != o.http_tls_key.empty())
        return status{errc::invalid_argument, "--http-tls-cert and --http-tls-key go together"};
    if (!o.http_tls_cert.empty() && o.http_listen.empty())
        return status{errc::invalid_argument, "--http-tls-cert needs --http-listen"};
    if (!o.http_token_file.empty() && o.http_listen.empty())
        return status{errc::invalid_argument, "--http-token-file needs --http-listen"};
    if (o.http_threads < 1 || o.http_threads > 256) return status{errc::invalid_argument, "--http-threads must be 1-256"};
    if (max_request_kib < 1 || max_request_kib > 1024 * 1024)
        return status{errc::invalid_argument, "--max-request-kib must be between 1 and 1048576 (1 GiB)"};
    if (max_in_flight_kib < 1 || max_in_flight_kib > 64ull * 1024 * 1024)
        return status{errc::invalid_argument, "--max-in-flight-kib must be between 1 and 67108864 (64 GiB)"};
    if (max_value_kib < 1 || max_value_kib > (limits::max_value_bytes >> 10))
        return status{errc::invalid_argument, "--max-value-kib must be between 1 and " +
                                                  std::to_string(limits::max_value_bytes >> 10) + " (common/record.h)"};
    if (o.max_request_records < 1 || o.max_request_records > codec::decode_limits{}.max_records)
        return status{errc::invalid_argument, "--max-request-records must be between 1 and " +
                                                  std::to_string(codec::decode_limits{}.max_records)};
    if (!(producer_idle_hours >= 0 && producer_idle_hours <= 24.0 * 365 * 10))
        return status{errc::invalid_argument, "--producer-idle-hours must be between 0 and 87600 (10 years)"};
    if (o.max_producers < 1 || o.max_producers > 100'000'000)
        return status{errc::invalid_argument, "--max-producers must be between 1 and 100000000"};
    o.producer_idle = std::chrono::milliseconds(static_cast<std::int64_t>(producer_idle_hours * 3600'000.0));
    o.max_request_bytes = max_request_kib << 10;
    o.max_in_flight_bytes = max_in_flight_kib << 10;
    o.max_value_bytes = max_value_kib << 10;
    o.sync = !no_sync;
    SYNCLINE_RETURN_IF_ERROR(metrics::validate_endpoint_options(o.metrics));
    auto keys = curve::load(curve_flags, curve::role::server);
    if (!keys.ok()) return keys.get_status();
    o.curve = std::move(keys.value());
    return out;
}

std::optional<endpoints_info> read_endpoints_file(const std::string& log_dir) {
    std::ifstream in(log_dir + "/" + endpoints_file_name);
    if (!in) return std::nullopt;
    endpoints_info info;
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("pid=")) info.pid = std::strtol(line.c_str() + 4, nullptr, 10);
        else if (line.starts_with("zmq=")) info.zmq.push_back(line.substr(4));
        else if (line.starts_with("http=")) info.http = line.substr(5);
    }
    if (info.zmq.empty() && info.http.empty()) return std::nullopt;
    return info;
}

status run(const gateway_options& options, const stop_flag& stop) {
    metrics::registry registry;
    gateway_metrics m(registry);
    metrics::health health;
    health.set_ready(false, "opening the log " + options.log);
    auto endpoint = metrics::serve(options.metrics, registry, health, "gateway");
    if (!endpoint.ok()) return endpoint.get_status();

    std::string token;
    if (!options.http_token_file.empty()) {
        auto t = read_token_file(options.http_token_file);
        if (!t.ok()) return t.get_status();
        token = std::move(*t);
        remember_secret(token);  // No surface of this process shows it (common/log.h).
    }

    store::change_log_options log_options;
    log_options.path = options.log;
    log_options.sync = options.sync;
    auto opened = store::change_log::open_writer(log_options);
    if (!opened.ok()) {
        if (opened.get_status().code() == errc::busy)
            return status{errc::busy, "log " + options.log + " is locked by another writer (a `syncline append`, "
                                                             "`generate` or another gateway): only one process may append"};
        return opened.get_status().with_context("cannot open log " + options.log);
    }
    std::unique_ptr<store::change_log> log = std::move(opened.value());
    committer writer(*log, options, m);
    SYNCLINE_RETURN_IF_ERROR(writer.load_producers());

    zmq::context_t context(1);
    zmq::socket_t router(context, zmq::socket_type::router);
    zmq::socket_t wake_rx(context, zmq::socket_type::pair);
    zmq::socket_t wake_tx(context, zmq::socket_type::pair);
    zmqx::tune(router, {.send_hwm = 10'000, .recv_hwm = 1000, .immediate = false,
                        .max_message_bytes = static_cast<std::int64_t>(options.max_request_bytes) + (64 << 10)});
    wake_rx.bind("inproc://gateway-wake");
    wake_tx.connect("inproc://gateway-wake");
    wake_tx.set(zmq::sockopt::sndhwm, 1);
    std::vector<curve::channel_socket> servers;
    if (!options.zmq_listen.empty()) servers.push_back({&router, "producers", options.zmq_listen});
    auto secured = curve::secure_sockets(context, options.curve, log_gw, servers, {});
    if (!secured.ok()) return secured.get_status();
    const std::unique_ptr<curve::zap_guard> zap = std::move(secured.value());
    std::vector<std::string> zmq_at;
    if (!options.zmq_listen.empty()) {
        auto bound = zmqx::bind_all(router, options.zmq_listen);
        if (!bound.ok()) return bound.get_status();
        zmq_at = std::move(*bound);
    }

    writer.start();
    struct writer_stopper {
        committer& c;
        ~writer_stopper() { c.stop(); }
    } stop_writer{writer};

    std::unique_ptr<http_listener> http;
    std::string http_at;
    if (!options.http_listen.empty()) {
        http = std::make_unique<http_listener>(options, writer, registry, health, m, token);
        auto started = http->start();
        if (!started.ok()) return started.get_status();
        http_at = *started;
    }
    SYNCLINE_RETURN_IF_ERROR(write_endpoints_file(options.log, zmq_at, http_at));
    log_gw.info("started", {{"log", options.log},
                            {"last_offset", log->last_offset()},
                            {"producers", writer.log_figures().producers},
                            {"sync", options.sync ? "on" : "off"},
                            {"curve", options.curve ? "on" : "off"},
                            {"http_auth", token.empty() ? "off" : "on"}});
    for (const auto& e : zmq_at) log_gw.info("listening", {{"channel", "producers"}, {"endpoint", e}});
    if (!http_at.empty()) log_gw.info("listening", {{"channel", "http"}, {"endpoint", http_at}});
    health.set_ready(true);

    zmq_completions completions;
    drop_counter dropped(log_gw, &m.bad_frames);
    std::uint64_t outstanding = 0;  // ZeroMQ requests submitted and not yet replied to.
    auto send_reply = [&](const std::string& to, const reply& r) {
        m.request_counter(0, outcome_name(r)).inc();
        zmqx::send(router, encode_reply(r), std::chrono::milliseconds(0), to);
    };
    auto flush_completions = [&] {
        std::vector<std::pair<std::string, reply>> ready;
        {
            std::lock_guard lock(completions.mutex);
            ready.swap(completions.ready);
        }
        for (const auto& [to, r] : ready) {
            send_reply(to, r);
            --outstanding;
        }
    };

    while (!stop.stop_requested()) {
        health.beat();
        zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}, {wake_rx.handle(), 0, ZMQ_POLLIN, 0}};
        SYNCLINE_RETURN_IF_ERROR(zmqx::poll(items, std::chrono::milliseconds(100)));
        if (items[1].revents & ZMQ_POLLIN) {
            zmq::message_t ignored;
            while (wake_rx.recv(ignored, zmq::recv_flags::dontwait)) {
            }
        }
        flush_completions();
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        for (int i = 0; i < 1000; ++i) {
            auto got = zmqx::receive(router, std::chrono::milliseconds(0), true);
            if (!got.ok()) {
                dropped.drop(got.get_status().message());
                continue;
            }
            if (!got->has_value()) break;
            const std::string from = (*got)->routing_id;
            const auto arrived = std::chrono::steady_clock::now();
            auto req = decode_request((*got)->header_view(), (*got)->body_view());
            if (!req.ok()) {
                // Not a request at all: counted and dropped, never answered (it may not be a producer).
                dropped.drop(req.get_status().message());
                continue;
            }
            if (req->type == request::kind::producer_state) {
                const producer_entry e = writer.producer_state(std::string(req->producer));
                reply r;
                r.type = reply::kind::producer_state;
                r.producer = std::string(req->producer);
                r.sequence = e.sequence;
                r.first = e.first;
                r.last = e.last;
                send_reply(from, r);
                continue;
            }
            if (writer.over_cap()) {
                send_reply(from, to_reply(busy_outcome(req->sequence)));
                continue;
            }
            auto sub = std::make_unique<submission>();
            sub->arrived = arrived;
            sub->producer = std::string(req->producer);
            sub->sequence = req->sequence;
            sub->previous = req->previous;
            sub->window = req->window;
            const std::uint64_t seq = req->sequence;
            std::optional<body_problem> problem = records_from_frame(*req, sub->records, options);
            if (!problem) problem = check_records(sub->records, options);
            if (problem) {
                reply r;
                r.type = reply::kind::refused;
                r.sequence = req->sequence;
                r.reason = problem->message;
                if (problem->index) r.index = *problem->index;
                send_reply(from, r);
                continue;
            }
            sub->bytes = request_bytes(sub->records);
            sub->done = [&completions, &wake_tx, from](const outcome& o) {
                {
                    std::lock_guard lock(completions.mutex);
                    completions.ready.emplace_back(from, to_reply(o));
                }
                // One pending wake is enough: a full pipe means the loop is already woken.
                (void)wake_tx.send(zmq::const_buffer("", 0), zmq::send_flags::dontwait);
            };
            if (!writer.submit(std::move(sub))) {
                send_reply(from, to_reply(busy_outcome(seq)));
                continue;
            }
            ++outstanding;
        }
    }

    // Drain: stop taking requests, answer every one already accepted, then stop the writer.
    health.set_ready(false, "stopping");
    log_gw.info("stopping: answering accepted requests");
    if (http) http->stop();
    writer.stop();
    flush_completions();
    std::error_code ec;
    std::filesystem::remove(options.log + "/" + endpoints_file_name, ec);
    const auto f = writer.log_figures();
    std::vector<log_field> fields{{"last_offset", f.last},
                                  {"group_commits", f.appends},
                                  {"producers", f.producers},
                                  {"unanswered", outstanding},
                                  {"bad_frames", dropped.total()}};
    if (zap) zap->append_fields(fields);
    fields.emplace_back("peak_rss_kb", peak_rss_kb());
    log_gw.write(log_level::info, "stopped", fields);
    return {};
}

}  // namespace syncline::gateway
