// syncline_fault_inject: the fault-injection suite (issue 4, docs/fault-injection.md).
//
// Runs a real pipeline (syncline-sink, syncline-ventilator, W x syncline-worker on ipc sockets in
// a temp dir) over N records while an in-process producer (the log's only writer) keeps
// appending, and for K rounds kills a random process (SIGKILL or SIGTERM, at a random moment),
// restarts it after a short random delay the way a supervisor would, and measures the time until
// the committed offset moves again. Optionally the SQLite target is locked by another connection
// for a while (target outage) and junk is sent to every bound socket (hostile input).
// At the end it stops the producer, waits until everything appended is committed, stops every
// process gracefully and checks:
//   - committed == the log's last offset (state store, and the sink's `stopped committed=` line);
//   - `syncline verify` exits 0;
//   - an independent check: the target read directly (SQLite C API / the jsonl file) against the
//     log's final state computed here from the store API (no code shared with verify);
//   - duplicates delivered (jsonl: lines per offset > 1, bounded by the window per event).
// Seeded (--seed), bounded (--max-seconds), and every process it started is killed by PID and
// reaped on any exit path (failure, timeout, Ctrl-C). Exit 0 only if nothing was lost.
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "common/bin_dir.h"
#include "common/cli_options.h"
#include "common/codec.h"
#include "common/record.h"
#include "common/subprocess.h"
#include "store/change_log.h"
#include "store/state_store.h"
#include "tests/support/harness.h"
#include "tests/support/pipeline.h"

namespace syncline::fault {
namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Options

struct options {
    std::string bin_dir;
    std::string dir;               // Work dir; default: a new temp dir.
    bool keep = false;             // Keep the work dir after a passing run.
    std::uint64_t seed = 0;
    bool seed_given = false;
    std::uint64_t records = 20'000;        // Appended before the pipeline starts.
    std::uint64_t keys = 5'000;            // Distinct keys per collection.
    std::uint64_t produce_rate = 5'000;    // Records/s the producer appends while faults run.
    std::uint64_t produce_batch = 500;     // Records per producer append.
    int kills = 6;
    int workers = 3;
    std::string target = "sqlite";         // sqlite | jsonl
    int kill_min_ms = 300, kill_max_ms = 1500;  // Random moment of each kill after the previous recovery.
    int restart_max_ms = 500;              // Random supervisor delay before a restart.
    double sigterm_ratio = 0.35;           // Share of kills that are SIGTERM (the rest SIGKILL).
    int ack_timeout_ms = 1500;
    int window = 32;
    int batch_records = 1000;
    int outage_ms = 0;                     // SQLite target locked this long mid-run (0 = none).
    bool garbage = false;                  // Junk frames / bytes to every bound socket during the run.
    int max_seconds = 300;
    int recovery_limit_s = 60;             // No commit progress this long after a restart = hang.
};

// ---------------------------------------------------------------------------------------------
// Abort plumbing: Ctrl-C / SIGTERM and the time bound end the run through an exception, so
// destructors kill and reap every child (child_process's destructor sends SIGKILL).

std::atomic<int> g_signal{0};
extern "C" void on_signal(int sig) { g_signal.store(sig); }

struct run_aborted : std::runtime_error {
    using std::runtime_error::runtime_error;
};

clock::time_point g_start;
clock::time_point g_deadline;

double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

void check_abort(const std::string& phase) {
    if (int sig = g_signal.load())
        throw run_aborted("interrupted by signal " + std::to_string(sig) + " during " + phase);
    if (clock::now() >= g_deadline)
        throw run_aborted("time bound (--max-seconds) reached during " + phase);
}

void sleep_checked(milliseconds d, const std::string& phase) {
    const auto end = clock::now() + d;
    while (clock::now() < end) {
        check_abort(phase);
        std::this_thread::sleep_for(std::min<clock::duration>(milliseconds(20), end - clock::now()));
    }
}

std::string fmt_ms(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
    return buf;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string tail_lines(const std::string& path, int n) {
    const std::string text = read_text(path);
    std::size_t at = text.size();
    for (int i = 0; i <= n && at > 0; ++i) {
        at = text.rfind('\n', at - 1);
        if (at == std::string::npos) { at = 0; break; }
    }
    return text.substr(at == 0 ? 0 : at + 1);
}

// Last value of `key=` (a number) on the last line of `path` containing `needle`.
std::optional<std::uint64_t> last_field(const std::string& path, const std::string& needle, const std::string& key) {
    std::ifstream in(path);
    std::optional<std::uint64_t> out;
    for (std::string line; std::getline(in, line);) {
        if (line.find(needle) == std::string::npos) continue;
        auto at = line.find(" " + key + "=");
        if (at == std::string::npos) continue;
        out = std::strtoull(line.c_str() + at + key.size() + 2, nullptr, 10);
    }
    return out;
}

// Sum of `key=` over every line of `path` containing `needle`.
std::uint64_t sum_field(const std::string& path, const std::string& needle, const std::string& key) {
    std::ifstream in(path);
    std::uint64_t sum = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.find(needle) == std::string::npos) continue;
        auto at = line.find(" " + key + "=");
        if (at != std::string::npos) sum += std::strtoull(line.c_str() + at + key.size() + 2, nullptr, 10);
    }
    return sum;
}

using testing::count_lines_with;  // tests/support/harness.h
using testing::scaled;

// ---------------------------------------------------------------------------------------------
// The processes, as a supervisor sees them.

struct managed {
    std::string name;  // sink, ventilator, worker-1, ...
    std::string kind;  // sink | ventilator | worker
    std::vector<std::string> argv;
    std::string log_path;
    std::optional<child_process> child;
    int starts = 0;
};

void start(managed& m) {
    spawn_options o;
    o.argv = m.argv;
    o.stdout_path = m.log_path;
    o.stderr_path = m.log_path;
    o.stdin_path = "/dev/null";
    o.own_process_group = true;  // A terminal's Ctrl-C reaches only us; we stop them by PID.
    auto c = child_process::spawn(o);
    if (!c.ok()) throw std::runtime_error("cannot start " + m.name + ": " + c.get_status().message());
    m.child.emplace(std::move(c.value()));
    ++m.starts;
}

// ---------------------------------------------------------------------------------------------
// Committed offset, read in-process while the sink runs (cheap enough to poll every 20 ms).

class committed_reader {
public:
    committed_reader(std::string root, std::string pipeline) : _root(std::move(root)), _pipeline(std::move(pipeline)) {}

    std::uint64_t get() {
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (!_reader) {
                auto r = store::state_store::open_reader(_root, _pipeline);
                if (!r.ok()) return _last;  // Not created yet (no commit so far) or mid-restart.
                _reader = std::move(r.value());
            } else if (!_reader->catch_up().ok()) {
                _reader.reset();
                continue;
            }
            auto c = _reader->committed();
            if (!c.ok()) { _reader.reset(); continue; }
            _last = std::max(_last, c->value_or(0));
            return _last;
        }
        return _last;
    }

    // A fresh reader (no cached value): the final, authoritative read.
    std::optional<std::uint64_t> fresh() const {
        auto r = store::state_store::open_reader(_root, _pipeline);
        if (!r.ok()) return std::nullopt;
        auto c = (*r)->committed();
        if (!c.ok()) return std::nullopt;
        return c->value_or(0);
    }

private:
    std::string _root, _pipeline;
    std::unique_ptr<store::state_store> _reader;
    std::uint64_t _last = 0;
};

// ---------------------------------------------------------------------------------------------
// Producer: the log's only writer. Upserts (with a counter in the value) and ~10% deletes over
// `keys` keys per collection, so keys are rewritten and deleted many times during the run.

const char* const k_collections[] = {"users", "orders", "events"};

class record_maker {
public:
    record_maker(std::uint64_t seed, std::uint64_t keys) : _rng(seed), _keys(keys) {}
    void fill(std::vector<record>& batch, std::size_t n) {
        batch.clear();
        for (std::size_t i = 0; i < n; ++i) {
            record r;
            r.collection = k_collections[_rng() % 3];
            r.key = "k" + std::to_string(_rng() % _keys);
            if (_rng() % 10 == 0) {
                r.operation = op::del;
            } else {
                r.value = "{\"n\":" + std::to_string(++_counter) + ",\"pad\":\"" + std::string(16 + _rng() % 48, 'a' + _rng() % 26) + "\"}";
            }
            batch.push_back(std::move(r));
        }
    }

private:
    std::mt19937_64 _rng;
    std::uint64_t _keys;
    std::uint64_t _counter = 0;
};

class producer {
public:
    producer(store::change_log& log, record_maker& maker, std::uint64_t rate, std::uint64_t batch)
        : _log(log), _maker(maker), _rate(rate), _batch(batch) {}
    ~producer() { stop(); }

    void start() {
        _thread = std::thread([this] { run(); });
    }
    void stop() {
        _stop = true;
        if (_thread.joinable()) _thread.join();
    }
    std::uint64_t appended() const { return _appended.load(); }
    const std::string& error() const { return _error; }  // After stop().

private:
    void run() {
        std::vector<record> batch;
        const auto begin = clock::now();
        while (!_stop) {
            // Keep the average rate: append when behind schedule, else sleep a little.
            const double due = seconds_since(begin) * static_cast<double>(_rate);
            if (static_cast<double>(_appended.load()) >= due) {
                std::this_thread::sleep_for(milliseconds(5));
                continue;
            }
            _maker.fill(batch, _batch);
            auto r = _log.append(batch);
            if (!r.ok()) {
                _error = r.get_status().message();
                return;
            }
            _appended += _batch;
        }
    }

    store::change_log& _log;
    record_maker& _maker;
    std::uint64_t _rate, _batch;
    std::atomic<bool> _stop{false};
    std::atomic<std::uint64_t> _appended{0};
    std::string _error;
    std::thread _thread;
};

// ---------------------------------------------------------------------------------------------
// Target outage: another process-like SQLite connection holds the write lock (BEGIN EXCLUSIVE)
// on the target file for a while; workers wait, retry with backoff, and must resume by themselves.

class sqlite_locker {
public:
    ~sqlite_locker() { release(); }
    // Takes the write lock (waiting up to scaled(10 s) for the workers' transactions to end).
    void lock(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &_db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
            throw std::runtime_error("outage: cannot open " + path + ": " + sqlite3_errmsg(_db));
        // The workers retry a busy lock every 0.1-2 ms (targets/sqlite_target.cc); with
        // SQLite's default handler (up to 100 ms between tries) this connection rarely found
        // the lock free between their back-to-back transactions and gave up (seen under ASan,
        // where the transactions take longer). So it retries as eagerly as they do.
        _busy_until = clock::now() + scaled(milliseconds(10'000));
        sqlite3_busy_handler(_db, retry_until_deadline, this);
        char* err = nullptr;
        if (sqlite3_exec(_db, "BEGIN EXCLUSIVE", nullptr, nullptr, &err) != SQLITE_OK) {
            std::string e = err ? err : "?";
            sqlite3_free(err);
            throw std::runtime_error("outage: BEGIN EXCLUSIVE failed: " + e);
        }
    }
    void release() {
        if (_db == nullptr) return;
        sqlite3_exec(_db, "COMMIT", nullptr, nullptr, nullptr);
        sqlite3_close(_db);
        _db = nullptr;
    }

private:
    static int retry_until_deadline(void* self, int) {
        if (clock::now() >= static_cast<sqlite_locker*>(self)->_busy_until) return 0;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        return 1;
    }

    sqlite3* _db = nullptr;
    clock::time_point _busy_until;
};

// ---------------------------------------------------------------------------------------------
// Hostile input: random and malformed multipart messages to the sink's acks (PUSH) and control
// (DEALER) sockets, and raw non-ZMTP bytes straight into every bound ipc socket.

class garbage_sender {
public:
    garbage_sender(std::vector<std::string> endpoints_push, std::vector<std::string> endpoints_dealer,
                   std::vector<std::string> ipc_paths, std::uint64_t seed)
        : _push(std::move(endpoints_push)), _dealer(std::move(endpoints_dealer)), _ipc(std::move(ipc_paths)), _rng(seed) {}
    ~garbage_sender() { stop(); }
    void start() { _thread = std::thread([this] { run(); }); }
    void stop() {
        _stop = true;
        if (_thread.joinable()) _thread.join();
    }
    std::uint64_t messages() const { return _messages.load(); }
    std::uint64_t raw_writes() const { return _raw.load(); }

private:
    std::string junk() {
        static const std::string samples[] = {"", "\xff\xff\xff", "\x81\xa1v\x01", "\x81\xa1v\x63",
                                              "\xdd\xff\xff\xff\xff", "\x85\xa1v\x01\xa4type\xa5""batch"};
        if (_rng() % 3 == 0) return samples[_rng() % std::size(samples)];
        std::string s(_rng() % 300, '\0');
        for (auto& c : s) c = static_cast<char>(_rng());
        return s;
    }
    void send_random(zmq::socket_t& s) {
        const int frames = 1 + static_cast<int>(_rng() % 3);
        for (int f = 0; f < frames; ++f) {
            const auto j = junk();
            (void)s.send(zmq::buffer(j), f + 1 < frames ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                                        : zmq::send_flags::dontwait);
        }
        ++_messages;
    }
    void raw_write(const std::string& path) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return;
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            const auto j = junk() + junk();
            if (::send(fd, j.data(), j.size(), MSG_NOSIGNAL | MSG_DONTWAIT) > 0) ++_raw;
        }
        ::close(fd);
    }
    void run() {
        zmq::context_t ctx(1);
        std::vector<zmq::socket_t> sockets;
        for (std::size_t k = 0; k < _push.size(); ++k) sockets.emplace_back(ctx, zmq::socket_type::push);
        for (std::size_t k = 0; k < _dealer.size(); ++k) sockets.emplace_back(ctx, zmq::socket_type::dealer);
        std::size_t i = 0;
        for (const auto& e : _push) { sockets[i].set(zmq::sockopt::linger, 0); sockets[i++].connect(e); }
        for (const auto& e : _dealer) { sockets[i].set(zmq::sockopt::linger, 0); sockets[i++].connect(e); }
        while (!_stop) {
            for (auto& s : sockets) send_random(s);
            if (_rng() % 4 == 0) raw_write(_ipc[_rng() % _ipc.size()]);
            std::this_thread::sleep_for(milliseconds(20 + _rng() % 60));
        }
    }

    std::vector<std::string> _push, _dealer, _ipc;
    std::mt19937_64 _rng;
    std::atomic<bool> _stop{false};
    std::atomic<std::uint64_t> _messages{0}, _raw{0};
    std::thread _thread;
};

// ---------------------------------------------------------------------------------------------
// Independent check: the log's final state per (collection, key) from the store API, compared
// with the target read directly. Shares no code with targets/verify.

struct final_entry {
    std::uint64_t offset = 0;
    bool deleted = false;
    std::string value;
};

struct log_image {
    std::uint64_t last = 0;
    std::unordered_map<std::string, final_entry> state;  // collection + '\0' + key.
    std::vector<std::uint64_t> fingerprint;              // Per offset: hash of (collection, key, op); [0] unused.
};

std::string state_key(std::string_view collection, std::string_view key) {
    std::string k(collection);
    k.push_back('\0');
    k.append(key);
    return k;
}

std::uint64_t fingerprint_of(std::string_view collection, std::string_view key, bool deleted) {
    return std::hash<std::string>{}(state_key(collection, key)) * 31 + (deleted ? 1 : 0);
}

log_image read_log(const std::string& dir, std::uint64_t up_to) {
    auto opened = store::change_log::open_reader(dir);
    if (!opened.ok()) throw std::runtime_error("open log: " + opened.get_status().message());
    auto& log = **opened;
    (void)log.catch_up();
    log_image img;
    img.fingerprint.assign(up_to + 1, 0);
    std::uint64_t next = 1;
    std::string failure;
    while (next <= up_to) {
        auto n = log.scan(next, 10'000, 8u << 20, [&](std::uint64_t offset, std::string_view bytes) {
            if (offset > up_to) return false;
            if (offset != next) { failure = "log gap: expected offset " + std::to_string(next) + ", found " + std::to_string(offset); return false; }
            auto r = codec::decode_record(bytes);
            if (!r.ok()) { failure = "undecodable record at " + std::to_string(offset); return false; }
            const bool del = r->operation == op::del;
            auto& e = img.state[state_key(r->collection, r->key)];
            e.offset = offset;
            e.deleted = del;
            e.value.assign(del ? std::string_view() : r->value);
            img.fingerprint[offset] = fingerprint_of(r->collection, r->key, del);
            ++next;
            return true;
        });
        if (!n.ok()) throw std::runtime_error("scan log: " + n.get_status().message());
        if (!failure.empty()) throw std::runtime_error(failure);
        if (*n == 0) break;
    }
    if (next != up_to + 1) throw std::runtime_error("log ends at " + std::to_string(next - 1) + ", expected " + std::to_string(up_to));
    img.last = up_to;
    return img;
}

struct check_result {
    bool ok = true;
    std::uint64_t keys_checked = 0;
    std::uint64_t problems = 0;
    std::vector<std::string> samples;  // First few problems.
    std::string summary;
    // jsonl only:
    std::uint64_t lines = 0, distinct_offsets = 0, duplicate_lines = 0, max_copies = 0, torn_lines = 0;

    void problem(const std::string& what) {
        ok = false;
        ++problems;
        if (samples.size() < 10) samples.push_back(what);
    }
};

check_result check_sqlite(const std::string& path, const log_image& img) {
    check_result out;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        out.problem(std::string("cannot open target: ") + sqlite3_errmsg(db));
        sqlite3_close(db);
        return out;
    }
    std::vector<std::string> tables;
    {
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &st, nullptr);
        while (sqlite3_step(st) == SQLITE_ROW) tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
        sqlite3_finalize(st);
    }
    std::unordered_map<std::string, bool> seen;
    seen.reserve(img.state.size());
    for (const auto& t : tables) {
        std::string quoted = "\"";
        for (char c : t) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        quoted += "\"";
        sqlite3_stmt* st = nullptr;
        const std::string sql = "SELECT \"key\", \"value\", \"offset\", \"deleted\" FROM " + quoted;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
            out.problem("table " + t + ": " + sqlite3_errmsg(db));
            continue;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
            const std::string key(reinterpret_cast<const char*>(sqlite3_column_blob(st, 0)), sqlite3_column_bytes(st, 0));
            const bool has_value = sqlite3_column_type(st, 1) != SQLITE_NULL;
            const std::string value(has_value ? reinterpret_cast<const char*>(sqlite3_column_blob(st, 1)) : "",
                                    has_value ? sqlite3_column_bytes(st, 1) : 0);
            const auto offset = static_cast<std::uint64_t>(sqlite3_column_int64(st, 2));
            const bool deleted = sqlite3_column_int(st, 3) != 0;
            const auto k = state_key(t, key);
            auto it = img.state.find(k);
            if (it == img.state.end()) {
                out.problem(t + "/" + key + ": row not in the log (offset " + std::to_string(offset) + ")");
                continue;
            }
            seen[k] = true;
            const auto& want = it->second;
            if (offset != want.offset || deleted != want.deleted || (!deleted && value != want.value) || (deleted && has_value))
                out.problem(t + "/" + key + ": target has offset " + std::to_string(offset) + (deleted ? " (deleted)" : "") +
                            ", log's last change is offset " + std::to_string(want.offset) + (want.deleted ? " (delete)" : ""));
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    for (const auto& [k, want] : img.state) {
        ++out.keys_checked;
        if (!seen.count(k)) {
            const auto sep = k.find('\0');
            out.problem(k.substr(0, sep) + "/" + k.substr(sep + 1) + ": missing from the target (log offset " +
                        std::to_string(want.offset) + (want.deleted ? ", a delete: a tombstone is expected" : "") + ")");
        }
    }
    out.summary = std::to_string(out.keys_checked) + " keys in " + std::to_string(tables.size()) + " tables";
    return out;
}

check_result check_jsonl(const std::string& path, const log_image& img) {
    check_result out;
    std::vector<std::uint32_t> copies(img.last + 1, 0);
    std::unordered_map<std::string, std::pair<std::uint64_t, json>> latest;  // key -> (offset, value)
    std::ifstream in(path);
    if (!in) out.problem("cannot open " + path);
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        ++out.lines;
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("offset")) {
            ++out.torn_lines;  // Torn by a kill mid-write: its batch was never acknowledged.
            continue;
        }
        const auto offset = j["offset"].get<std::uint64_t>();
        if (offset == 0 || offset > img.last) {
            out.problem("line with offset " + std::to_string(offset) + " outside 1.." + std::to_string(img.last));
            continue;
        }
        const auto collection = j["collection"].get<std::string>();
        const auto key = j["key"].get<std::string>();
        const bool del = j["op"].get<std::string>() == "delete";
        if (fingerprint_of(collection, key, del) != img.fingerprint[offset]) {
            out.problem("offset " + std::to_string(offset) + ": line does not match the log's record");
            continue;
        }
        ++copies[offset];
        auto& l = latest[state_key(collection, key)];
        if (offset > l.first) l = {offset, j["value"]};
    }
    std::uint64_t missing = 0;
    for (std::uint64_t o = 1; o <= img.last; ++o) {
        if (copies[o] == 0) {
            if (++missing <= 5) out.problem("offset " + std::to_string(o) + " never delivered");
        } else {
            ++out.distinct_offsets;
            out.duplicate_lines += copies[o] - 1;
            out.max_copies = std::max<std::uint64_t>(out.max_copies, copies[o]);
        }
    }
    if (missing > 5) out.problem(std::to_string(missing) + " offsets never delivered in all");
    for (const auto& [k, want] : img.state) {
        ++out.keys_checked;
        auto it = latest.find(k);
        const auto sep = k.find('\0');
        const std::string name = k.substr(0, sep) + "/" + k.substr(sep + 1);
        if (it == latest.end()) { out.problem(name + ": no line"); continue; }
        if (it->second.first != want.offset) {
            out.problem(name + ": latest line offset " + std::to_string(it->second.first) + ", log " + std::to_string(want.offset));
            continue;
        }
        if (!want.deleted) {
            json v = json::parse(want.value, nullptr, false);
            const json& got = it->second.second;
            if (v.is_discarded() ? (got != json(want.value)) : (got != v)) out.problem(name + ": value differs from the log");
        }
    }
    out.summary = std::to_string(out.lines) + " lines, " + std::to_string(out.distinct_offsets) + " distinct offsets, " +
                  std::to_string(out.keys_checked) + " keys";
    return out;
}

// ---------------------------------------------------------------------------------------------
// The run.

struct event {
    int round = 0;
    std::string kind;    // SIGKILL | SIGTERM | outage
    std::string target;  // process name or the target file
    double at_s = 0;     // Since the start.
    std::uint64_t committed_at = 0;
    double stop_ms = 0;      // Signal to exit (SIGTERM: the graceful drain).
    std::optional<int> exit_code;
    double down_ms = 0;      // Exit to restart (supervisor delay) / outage length.
    double recovery_ms = -1; // Restart (or lock release) to the next commit; -1 = did not recover.
    std::uint64_t committed_moved_during = 0;  // Outage: commits while the target was locked.
};

class fault_run {
public:
    explicit fault_run(options o) : _o(std::move(o)), _rng(_o.seed) {}

    int run();

private:
    std::string path(const std::string& name) const { return _dir + "/" + name; }
    std::string bin(const std::string& name) const { return _o.bin_dir + "/" + name; }
    std::string target_uri() const { return (_o.target == "jsonl" ? "jsonl:" : "sqlite:") + _target_path; }

    void setup_processes();
    void supervise(const std::string& phase);   // Restarts and records any unexpected exit.
    std::uint64_t committed() { return _committed.get(); }
    // Waits until committed > `above`; returns the ms it took, or -1 past `limit`.
    double wait_progress(std::uint64_t above, milliseconds limit, const std::string& phase);
    void kill_round(int round);
    void outage_round(int round);
    int graceful_stop(managed& m, milliseconds grace);
    void print_report(bool passed, const std::string& abort_reason);
    void fail(const std::string& why) { _failures.push_back(why); }

    options _o;
    std::mt19937_64 _rng;
    std::string _dir, _log_dir, _state_dir, _target_path;
    std::string _work, _acks, _control;
    std::vector<managed> _procs;  // [0] sink, [1] ventilator, [2..] workers
    committed_reader _committed{"", ""};
    std::vector<event> _events;
    std::vector<std::string> _failures;
    std::vector<std::string> _notes;
    std::uint64_t _initial_records = 0, _produced = 0, _last_offset = 0, _final_committed = 0;
    double _drain_s = 0, _total_s = 0;
    std::optional<int> _verify_exit;
    std::optional<check_result> _check;
    std::uint64_t _garbage_msgs = 0, _garbage_raw = 0;
    std::string _phase = "setup";
};

void fault_run::setup_processes() {
    _work = "ipc://" + path("work.sock");
    _acks = "ipc://" + path("acks.sock");
    _control = "ipc://" + path("control.sock");
    const std::string P = "fault";
    // Command lines are the daemons' to_argv (tests/support/pipeline.h), as `syncline run` spells them.
    const testing::pipeline_spec spec{.pipeline = P, .log = _log_dir, .state = _state_dir, .work = _work, .acks = _acks,
                                      .control = _control, .target = target_uri()};
    auto command = [&](const char* program, std::vector<std::string> args) {
        args.insert(args.begin(), bin(program));
        return args;
    };
    auto s = spec.sink();
    s.log = _log_dir;
    _procs.push_back({"sink", "sink", command("syncline-sink", to_argv(s)), path("sink.log"), std::nullopt, 0});
    auto v = spec.ventilator();
    v.window.ack_timeout = std::chrono::milliseconds(_o.ack_timeout_ms);
    v.tail_interval = std::chrono::milliseconds(10);
    v.drain_timeout = std::chrono::milliseconds(5000);
    v.window.max_batches = static_cast<std::size_t>(_o.window);
    v.batch_records = static_cast<std::size_t>(_o.batch_records);
    _procs.push_back({"ventilator", "ventilator", command("syncline-ventilator", to_argv(v)), path("ventilator.log"),
                      std::nullopt, 0});
    for (int i = 1; i <= _o.workers; ++i) {
        const std::string name = "worker-" + std::to_string(i);
        _procs.push_back({name, "worker", command("syncline-worker", to_argv(spec.worker(i))), path(name + ".log"),
                          std::nullopt, 0});
    }
    _committed = committed_reader(_state_dir, P);
}

void fault_run::supervise(const std::string& phase) {
    for (auto& m : _procs) {
        if (!m.child || m.child->running()) continue;
        const int code = m.child->exit_code().value_or(-1);
        fail(m.name + " exited on its own (code " + std::to_string(code) + ") during " + phase + "; last lines:\n" +
             tail_lines(m.log_path, 5));
        std::fprintf(stderr, "fault_inject: %s exited unexpectedly (code %d); restarting it\n", m.name.c_str(), code);
        start(m);
    }
}

double fault_run::wait_progress(std::uint64_t above, milliseconds limit, const std::string& phase) {
    const auto t0 = clock::now();
    while (clock::now() - t0 < limit) {
        check_abort(phase);
        supervise(phase);
        if (committed() > above) return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
        std::this_thread::sleep_for(milliseconds(20));
    }
    return -1;
}

void fault_run::kill_round(int round) {
    // Victim: ventilator, sink or a worker with equal chance per kind; SIGTERM or SIGKILL.
    const int kind = static_cast<int>(_rng() % 3);
    managed& victim = kind == 0 ? _procs[0] : kind == 1 ? _procs[1] : _procs[2 + _rng() % _o.workers];
    const bool term = std::uniform_real_distribution<double>(0, 1)(_rng) < _o.sigterm_ratio;
    const int restart_delay = static_cast<int>(_rng() % (_o.restart_max_ms + 1));

    event e;
    e.round = round;
    e.kind = term ? "SIGTERM" : "SIGKILL";
    e.target = victim.name;
    e.at_s = seconds_since(g_start);
    e.committed_at = committed();
    const auto t_signal = clock::now();
    victim.child->signal(term ? SIGTERM : SIGKILL);
    // A supervisor waits for the exit; a SIGTERM drain is bounded by the ventilator's drain
    // timeout (5 s) and one batch in a worker's hands.
    const auto exit_limit = scaled(milliseconds(term ? 20'000 : 5'000));
    auto code = victim.child->wait_for(exit_limit);
    if (!code) {
        fail(victim.name + " did not exit within " + std::to_string(exit_limit.count() / 1000) + " s of " + (term ? "SIGTERM" : "SIGKILL") +
             " (round " + std::to_string(round) + "); killed");
        victim.child->signal(SIGKILL);
        code = victim.child->wait_for(scaled(milliseconds(5'000)));
    }
    e.stop_ms = std::chrono::duration<double, std::milli>(clock::now() - t_signal).count();
    e.exit_code = code;
    if (term && code && *code != 0)
        fail(victim.name + " exited with code " + std::to_string(*code) + " after SIGTERM (round " + std::to_string(round) +
             "); expected 0. Last lines:\n" + tail_lines(victim.log_path, 5));
    sleep_checked(milliseconds(restart_delay), "restart delay");
    e.down_ms = std::chrono::duration<double, std::milli>(clock::now() - t_signal).count() - e.stop_ms;
    start(victim);
    const auto before = committed();
    e.recovery_ms = wait_progress(before, std::chrono::seconds(_o.recovery_limit_s), "recovery");
    _events.push_back(e);
    std::fprintf(stderr, "fault_inject: round %d: %s %s at %.1fs committed=%llu -> stop %.0f ms, restart after %.0f ms, recovery %s\n",
                 round, e.kind.c_str(), e.target.c_str(), e.at_s, static_cast<unsigned long long>(e.committed_at), e.stop_ms,
                 e.down_ms, e.recovery_ms < 0 ? "NONE" : fmt_ms(e.recovery_ms).c_str());
    if (e.recovery_ms < 0)
        throw run_aborted("no commit progress within " + std::to_string(_o.recovery_limit_s) + " s after restarting " +
                          victim.name + " (round " + std::to_string(round) + "): the pipeline hangs");
}

void fault_run::outage_round(int round) {
    event e;
    e.round = round;
    e.kind = "outage";
    e.target = "sqlite file locked (BEGIN EXCLUSIVE)";
    e.at_s = seconds_since(g_start);
    sqlite_locker lock;
    lock.lock(_target_path);
    const auto t_locked = clock::now();
    e.committed_at = committed();
    while (clock::now() - t_locked < milliseconds(_o.outage_ms)) {
        check_abort("target outage");
        supervise("target outage");
        std::this_thread::sleep_for(milliseconds(20));
    }
    const auto during = committed();
    lock.release();
    e.down_ms = std::chrono::duration<double, std::milli>(clock::now() - t_locked).count();
    e.committed_moved_during = during - e.committed_at;
    e.recovery_ms = wait_progress(during, std::chrono::seconds(_o.recovery_limit_s), "recovery after outage");
    _events.push_back(e);
    std::fprintf(stderr, "fault_inject: round %d: target locked %.0f ms (commits during: +%llu) -> recovery %s\n", round,
                 e.down_ms, static_cast<unsigned long long>(e.committed_moved_during),
                 e.recovery_ms < 0 ? "NONE" : fmt_ms(e.recovery_ms).c_str());
    if (e.recovery_ms < 0)
        throw run_aborted("no commit progress within " + std::to_string(_o.recovery_limit_s) +
                          " s after the target lock was released: the pipeline does not resume by itself");
}

int fault_run::graceful_stop(managed& m, milliseconds grace) {
    if (!m.child) return 0;
    if (!m.child->running()) {
        const int code = m.child->exit_code().value_or(-1);
        fail(m.name + " was not running at the final stop (code " + std::to_string(code) + ")");
        return code;
    }
    m.child->signal(SIGTERM);
    auto code = m.child->wait_for(scaled(grace));
    if (!code) {
        fail(m.name + " did not stop within " + std::to_string(scaled(grace).count() / 1000) + " s of SIGTERM at the end; killed");
        m.child->signal(SIGKILL);
        code = m.child->wait_for(scaled(milliseconds(5000)));
    } else if (*code != 0) {
        fail(m.name + " exited with code " + std::to_string(*code) + " on the final SIGTERM; last lines:\n" + tail_lines(m.log_path, 5));
    }
    return code.value_or(-1);
}

int fault_run::run() {
    g_start = clock::now();
    g_deadline = g_start + std::chrono::seconds(_o.max_seconds);
    bool own_dir = false;
    if (_o.dir.empty()) {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/syncline-fault-XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        _o.dir = pattern;
        own_dir = true;
    } else {
        fs::create_directories(_o.dir);
    }
    _dir = fs::absolute(_o.dir).string();
    _log_dir = path("log");
    _state_dir = path("state");
    _target_path = path(_o.target == "jsonl" ? "target.jsonl" : "target.db");

    std::fprintf(stderr, "fault_inject: seed=%llu dir=%s (rerun: --seed %llu)\n", static_cast<unsigned long long>(_o.seed),
                 _dir.c_str(), static_cast<unsigned long long>(_o.seed));

    std::string abort_reason;
    std::unique_ptr<garbage_sender> garbage;
    try {
        auto opened = store::change_log::open_writer({.path = _log_dir});
        if (!opened.ok()) throw std::runtime_error("open log: " + opened.get_status().message());
        std::unique_ptr<store::change_log> writer = std::move(opened.value());
        record_maker maker(_o.seed * 0x9e3779b97f4a7c15ULL + 1, _o.keys);

        _phase = "initial append";
        std::vector<record> batch;
        for (std::uint64_t done = 0; done < _o.records;) {
            check_abort(_phase);
            const auto n = std::min<std::uint64_t>(1000, _o.records - done);
            maker.fill(batch, n);
            auto r = writer->append(batch);
            if (!r.ok()) throw std::runtime_error("append: " + r.get_status().message());
            done += n;
        }
        _initial_records = _o.records;

        _phase = "start";
        setup_processes();
        for (auto& m : _procs) start(m);

        producer prod(*writer, maker, _o.produce_rate, _o.produce_batch);
        prod.start();
        if (_o.garbage) {
            garbage = std::make_unique<garbage_sender>(std::vector<std::string>{_acks}, std::vector<std::string>{_control},
                                                       std::vector<std::string>{path("work.sock"), path("acks.sock"), path("control.sock")},
                                                       _o.seed ^ 0x5bd1e995);
            garbage->start();
        }

        // Let the pipeline make its first commit, so the first kill hits a running pipeline.
        _phase = "first commit";
        if (wait_progress(0, std::chrono::seconds(_o.recovery_limit_s), _phase) < 0)
            throw run_aborted("nothing committed within " + std::to_string(_o.recovery_limit_s) + " s of the start");

        const int outage_round_no = _o.outage_ms > 0 && _o.target == "sqlite" ? _o.kills / 2 + 1 : -1;
        const int rounds = _o.kills + (outage_round_no > 0 ? 1 : 0);
        for (int round = 1; round <= rounds; ++round) {
            _phase = "round " + std::to_string(round);
            const int delay = _o.kill_min_ms + static_cast<int>(_rng() % (_o.kill_max_ms - _o.kill_min_ms + 1));
            const auto until = clock::now() + milliseconds(delay);
            while (clock::now() < until) {
                check_abort(_phase);
                supervise(_phase);
                std::this_thread::sleep_for(milliseconds(20));
            }
            if (round == outage_round_no) outage_round(round);
            else kill_round(round);
        }

        _phase = "final drain";
        prod.stop();
        if (!prod.error().empty()) throw std::runtime_error("producer append failed: " + prod.error());
        if (garbage) {
            garbage->stop();
            _garbage_msgs = garbage->messages();
            _garbage_raw = garbage->raw_writes();
        }
        _produced = prod.appended();
        _last_offset = writer->last_offset();
        writer.reset();  // The producer is done: the log is final.
        std::fprintf(stderr, "fault_inject: producer stopped at offset %llu; waiting for the pipeline to commit it\n",
                     static_cast<unsigned long long>(_last_offset));
        const auto t_drain = clock::now();
        while (committed() < _last_offset) {
            check_abort(_phase + " (committed " + std::to_string(committed()) + " of " + std::to_string(_last_offset) + ")");
            supervise(_phase);
            std::this_thread::sleep_for(milliseconds(20));
        }
        _drain_s = seconds_since(t_drain);

        _phase = "graceful stop";
        graceful_stop(_procs[1], milliseconds(20'000));
        for (std::size_t i = 2; i < _procs.size(); ++i) graceful_stop(_procs[i], milliseconds(20'000));
        graceful_stop(_procs[0], milliseconds(20'000));

        _phase = "checks";
        const auto fresh = _committed.fresh();
        _final_committed = fresh.value_or(0);
        if (_final_committed != _last_offset)
            fail("committed offset " + std::to_string(_final_committed) + " != last offset " + std::to_string(_last_offset));
        const auto sink_said = last_field(_procs[0].log_path, " stopped ", "committed");
        if (sink_said != _last_offset)
            fail("the sink's last `stopped committed=` line says " + (sink_said ? std::to_string(*sink_said) : std::string("nothing")) +
                 ", expected " + std::to_string(_last_offset));

        {
            spawn_options v;
            v.argv = {bin("syncline"), "verify", "--log", _log_dir, "--state", _state_dir, "--pipeline", "fault", "--target",
                      target_uri()};
            v.stdout_path = v.stderr_path = path("verify.log");
            v.stdin_path = "/dev/null";
            auto child = child_process::spawn(v);
            if (!child.ok()) throw std::runtime_error("cannot run syncline verify: " + child.get_status().message());
            const auto left = std::chrono::duration_cast<milliseconds>(g_deadline - clock::now());
            _verify_exit = child->wait_for(std::max(left, milliseconds(1)));
            if (!_verify_exit) throw run_aborted("time bound reached while `syncline verify` ran");
            if (*_verify_exit != 0) fail("`syncline verify` exited " + std::to_string(*_verify_exit) + ":\n" + tail_lines(path("verify.log"), 10));
        }

        check_abort("independent check");
        const auto img = read_log(_log_dir, _last_offset);
        _check = _o.target == "jsonl" ? check_jsonl(_target_path, img) : check_sqlite(_target_path, img);
        if (!_check->ok) {
            std::string s = "independent check found " + std::to_string(_check->problems) + " problem(s):";
            for (const auto& p : _check->samples) s += "\n    " + p;
            fail(s);
        }
        if (_o.target == "jsonl") {
            // Each kill or outage can cost at most the window's worth of redelivered records
            // (plus the batch in the initial run that timed out under load): a generous bound.
            const auto bound = static_cast<std::uint64_t>(_events.size() + 1) * _o.window * _o.batch_records;
            if (_check->duplicate_lines > bound)
                fail("duplicates " + std::to_string(_check->duplicate_lines) + " exceed the bound " + std::to_string(bound) +
                     " ((events + 1) x window x batch records)");
        }
    } catch (const run_aborted& e) {
        abort_reason = e.what();
    } catch (const std::exception& e) {
        abort_reason = std::string("error: ") + e.what();
    }
    if (garbage) garbage->stop();
    // Every process we started is stopped by PID and reaped, whatever happened above.
    for (auto& m : _procs)
        if (m.child && m.child->running()) {
            m.child->signal(SIGKILL);
            (void)m.child->wait_for(scaled(milliseconds(5000)));
        }
    // A child's sanitizer report fails the run even if the child was killed before anyone
    // looked at its exit code (sanitizer builds only; elsewhere there are none).
    if (const auto reports = testing::sanitizer_reports(_dir); !reports.empty()) fail("sanitizer report(s) in the process logs:\n" + reports);
    _total_s = seconds_since(g_start);
    const bool passed = abort_reason.empty() && _failures.empty();
    print_report(passed, abort_reason);
    if (passed && own_dir && !_o.keep) {
        std::error_code ec;
        fs::remove_all(_dir, ec);
    } else {
        std::fprintf(stdout, "work dir kept: %s (process logs: sink.log, ventilator.log, worker-N.log, verify.log)\n", _dir.c_str());
    }
    return passed ? 0 : 1;
}

void fault_run::print_report(bool passed, const std::string& abort_reason) {
    std::ostringstream r;
    char buf[512];
    r << "\n=== syncline fault injection report ===\n";
    std::snprintf(buf, sizeof buf,
                  "seed %llu | initial records %llu, produced during the run %llu, last offset %llu | kills %d, workers %d, "
                  "target %s%s%s\n",
                  static_cast<unsigned long long>(_o.seed), static_cast<unsigned long long>(_initial_records),
                  static_cast<unsigned long long>(_produced), static_cast<unsigned long long>(_last_offset), _o.kills, _o.workers,
                  _o.target.c_str(), _o.outage_ms > 0 ? (", outage " + std::to_string(_o.outage_ms) + " ms").c_str() : "",
                  _o.garbage ? ", hostile input on" : "");
    r << buf;
    std::snprintf(buf, sizeof buf, "ack timeout %d ms, window %d x %d records, restart delay 0..%d ms, SIGTERM share %.2f\n",
                  _o.ack_timeout_ms, _o.window, _o.batch_records, _o.restart_max_ms, _o.sigterm_ratio);
    r << buf;
    r << "\nround  at(s)   event    process      committed@  stop(ms)  exit  down(ms)  recovery(ms)\n";
    std::vector<double> recoveries;
    for (const auto& e : _events) {
        const std::string proc = e.kind == "outage" ? "sqlite-lock" : e.target;
        std::snprintf(buf, sizeof buf, "%5d %6.1f   %-7s  %-11s %11llu  %8.0f  %4s  %8.0f  %12s%s\n", e.round, e.at_s, e.kind.c_str(),
                      proc.c_str(), static_cast<unsigned long long>(e.committed_at), e.stop_ms,
                      e.exit_code ? std::to_string(*e.exit_code).c_str() : "-", e.down_ms,
                      e.recovery_ms < 0 ? "NONE" : std::to_string(static_cast<long>(e.recovery_ms)).c_str(),
                      e.kind == "outage" ? ("  (commits while locked: +" + std::to_string(e.committed_moved_during) + ")").c_str() : "");
        r << buf;
        if (e.recovery_ms >= 0) recoveries.push_back(e.recovery_ms);
    }
    if (!recoveries.empty()) {
        std::sort(recoveries.begin(), recoveries.end());
        double sum = 0;
        for (double x : recoveries) sum += x;
        std::snprintf(buf, sizeof buf, "recovery after restart: median %.0f ms, mean %.0f ms, max %.0f ms (%zu events)\n",
                      recoveries[recoveries.size() / 2], sum / static_cast<double>(recoveries.size()), recoveries.back(),
                      recoveries.size());
        r << buf;
    }
    std::map<std::string, int> per_kind;
    for (const auto& e : _events) per_kind[e.kind + " " + (e.kind == "outage" ? "target" : _procs.empty() ? e.target : e.target.substr(0, e.target.find('-')))]++;
    r << "events:";
    for (const auto& [k, n] : per_kind) r << " " << k << " x" << n << ";";
    r << "\n";

    // Evidence from the process logs.
    std::uint64_t redeliveries = 0, bad_frames = 0, retries = 0, nacks = 0;
    if (!_procs.empty()) {
        redeliveries = sum_field(_procs[1].log_path, " stopped ", "redeliveries");
        for (const auto& m : _procs) bad_frames += sum_field(m.log_path, " stopped", "bad_frames");
        for (std::size_t i = 2; i < _procs.size(); ++i) retries += count_lines_with(_procs[i].log_path, "target unavailable, retrying");
        nacks = count_lines_with(_procs[0].log_path, "nack range=");
    }
    std::snprintf(buf, sizeof buf,
                  "\ndrain after the producer stopped: %.1f s | total %.1f s\n"
                  "committed at the end: %llu (log last offset %llu)\n",
                  _drain_s, _total_s, static_cast<unsigned long long>(_final_committed), static_cast<unsigned long long>(_last_offset));
    r << buf;
    r << "syncline verify: " << (_verify_exit ? (*_verify_exit == 0 ? std::string("exit 0 (clean)") : "exit " + std::to_string(*_verify_exit)) : std::string("not run")) << "\n";
    if (_check) {
        r << "independent check (" << _o.target << " read directly vs the log's final state): " << (_check->ok ? "clean" : "FAILED") << ", "
          << _check->summary << "\n";
        if (_o.target == "jsonl") {
            std::snprintf(buf, sizeof buf,
                          "duplicates delivered: %llu lines (%.2f%% of %llu offsets), at most %llu copies of one offset, %llu torn lines; "
                          "bound (events+1) x window x batch = %llu\n",
                          static_cast<unsigned long long>(_check->duplicate_lines),
                          _last_offset ? 100.0 * static_cast<double>(_check->duplicate_lines) / static_cast<double>(_last_offset) : 0.0,
                          static_cast<unsigned long long>(_last_offset), static_cast<unsigned long long>(_check->max_copies),
                          static_cast<unsigned long long>(_check->torn_lines),
                          static_cast<unsigned long long>((_events.size() + 1) * _o.window * _o.batch_records));
            r << buf;
        } else {
            r << "duplicates delivered: not directly observable on a fenced sqlite target (run with --target jsonl to count them)\n";
        }
    } else {
        r << "independent check: not run\n";
    }
    std::snprintf(buf, sizeof buf,
                  "from the logs: ventilator redeliveries (clean stops only) %llu, sink nack lines %llu, worker retry lines %llu, "
                  "bad frames counted %llu",
                  static_cast<unsigned long long>(redeliveries), static_cast<unsigned long long>(nacks),
                  static_cast<unsigned long long>(retries), static_cast<unsigned long long>(bad_frames));
    r << buf;
    if (_o.garbage)
        r << " (sent: " << _garbage_msgs << " junk messages, " << _garbage_raw << " raw writes)";
    r << "\n";
    for (const auto& n : _notes) r << "note: " << n << "\n";
    if (!abort_reason.empty()) r << "\nABORTED: " << abort_reason << "\n";
    for (const auto& f : _failures) r << "FAILURE: " << f << "\n";
    r << "\nverdict: " << (passed ? "PASS: every offset committed, target equals the log, nothing lost" : "FAIL") << "\n";
    if (!passed) r << "reproduce: rerun with the same options and --seed " << _o.seed << "\n";
    const std::string text = r.str();
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    if (!_dir.empty()) {
        std::ofstream out(path("report.txt"));
        out << text;
    }
}

// The build's bin directory; without it, common's default (SYNCLINE_BIN_DIR, else this program's).
std::string fault_bin_dir() {
#ifdef SYNCLINE_FAULT_BIN_DIR
    return SYNCLINE_FAULT_BIN_DIR;
#else
    return default_bin_dir().string();
#endif
}

}  // namespace
}  // namespace syncline::fault

int main(int argc, char** argv) {
    using namespace syncline;
    using namespace syncline::fault;
    namespace po = cli::po;
    options o;
    o.bin_dir = fault_bin_dir();
    po::options_description desc("fault injection options");
    desc.add_options()
        ("seed", po::value<std::uint64_t>(), "random seed (default: $SYNCLINE_FAULT_SEED, else from the clock; always printed)")
        ("records", po::value(&o.records)->default_value(o.records), "records in the log before the pipeline starts")
        ("keys", po::value(&o.keys)->default_value(o.keys), "distinct keys per collection (users, orders, events)")
        ("produce-rate", po::value(&o.produce_rate)->default_value(o.produce_rate), "records/s the producer appends while faults run (0 = none)")
        ("produce-batch", po::value(&o.produce_batch)->default_value(o.produce_batch), "records per producer append")
        ("kills", po::value(&o.kills)->default_value(o.kills), "kill rounds")
        ("workers", po::value(&o.workers)->default_value(o.workers), "worker processes")
        ("target", po::value(&o.target)->default_value(o.target), "sqlite | jsonl (jsonl counts duplicates exactly)")
        ("kill-min-ms", po::value(&o.kill_min_ms)->default_value(o.kill_min_ms), "earliest kill after the previous recovery")
        ("kill-max-ms", po::value(&o.kill_max_ms)->default_value(o.kill_max_ms), "latest kill after the previous recovery")
        ("restart-max-ms", po::value(&o.restart_max_ms)->default_value(o.restart_max_ms), "supervisor restart delay, random 0..this")
        ("sigterm-ratio", po::value(&o.sigterm_ratio)->default_value(o.sigterm_ratio), "share of kills sent as SIGTERM (others SIGKILL)")
        ("ack-timeout-ms", po::value(&o.ack_timeout_ms)->default_value(o.ack_timeout_ms), "the ventilator's ack timeout")
        ("window", po::value(&o.window)->default_value(o.window), "the ventilator's window (batches)")
        ("batch-records", po::value(&o.batch_records)->default_value(o.batch_records), "records per batch")
        ("outage-ms", po::value(&o.outage_ms)->default_value(o.outage_ms), "sqlite: lock the target file this long mid-run (0 = no outage)")
        ("garbage", po::bool_switch(&o.garbage), "send random and malformed frames to every bound socket during the run")
        ("max-seconds", po::value(&o.max_seconds)->default_value(o.max_seconds), "fail with a report past this many seconds")
        ("recovery-limit-s", po::value(&o.recovery_limit_s)->default_value(o.recovery_limit_s), "no commit this long after a restart = a hang")
        ("dir", po::value(&o.dir), "work directory (default: a new temp dir, removed after a passing run)")
        ("keep", po::bool_switch(&o.keep), "keep the work directory after a passing run")
        ("bin-dir", po::value(&o.bin_dir)->default_value(o.bin_dir), "where syncline, syncline-sink, -ventilator, -worker are");
    auto parsed = cli::parse(argc, argv, desc,
                             "usage: syncline_fault_inject [--seed S] [--records N] [--kills K] [--workers W] [--target sqlite|jsonl] "
                             "[--outage-ms MS] [--garbage] [--max-seconds T]\n\n"
                             "Runs a pipeline while killing random processes, then proves nothing was lost.\n"
                             "Exit 0: everything committed and the target equals the log; 1: something failed (report says what); 2: usage.");
    if (!parsed.ok()) {
        std::fprintf(stderr, "syncline_fault_inject: error: %s\n", parsed.get_status().message().c_str());
        return 2;
    }
    if (parsed->exit_now) return 0;
    if (parsed->values.count("seed")) {
        o.seed = parsed->values["seed"].as<std::uint64_t>();
    } else if (const char* env = std::getenv("SYNCLINE_FAULT_SEED"); env != nullptr && *env != '\0') {
        o.seed = std::strtoull(env, nullptr, 10);  // Pins the seed of the ctest configurations.
    } else {
        o.seed = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) % 1'000'000'007ULL;
    }
    if (o.target != "sqlite" && o.target != "jsonl") {
        std::fprintf(stderr, "syncline_fault_inject: error: --target must be sqlite or jsonl\n");
        return 2;
    }
    if (o.workers < 1 || o.kills < 0 || o.kill_min_ms < 0 || o.kill_max_ms < o.kill_min_ms || o.restart_max_ms < 0 ||
        o.max_seconds < 1 || o.produce_batch < 1 || o.window < 1 || o.batch_records < 1) {
        std::fprintf(stderr, "syncline_fault_inject: error: bad numeric option (see --help)\n");
        return 2;
    }
    // Bounds, not speeds: a sanitizer build gets time_factor() times longer (tests/support/harness.h).
    o.max_seconds = static_cast<int>(o.max_seconds * syncline::testing::time_factor());
    o.recovery_limit_s = static_cast<int>(o.recovery_limit_s * syncline::testing::time_factor());
    for (const char* b : {"syncline", "syncline-sink", "syncline-ventilator", "syncline-worker"})
        if (access((o.bin_dir + "/" + b).c_str(), X_OK) != 0) {
            std::fprintf(stderr, "syncline_fault_inject: error: %s/%s not found (--bin-dir)\n", o.bin_dir.c_str(), b);
            return 2;
        }

    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    try {
        fault_run run(o);
        return run.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "syncline_fault_inject: error: %s\n", e.what());
        return 1;
    }
}
