// `syncline append`: JSON Lines in, records appended to the change log.
//
// Atomicity: an input of at most --atomic-limit bytes is read and validated completely before the
// first append, so one bad line appends nothing. A larger input (a big file, or a pipe that grows
// past the limit) would need unbounded memory for that, so it is validated and appended batch by
// batch: a failing batch appends nothing of itself and the error says what was appended before.
//
// Speed (docs/benchmarks.md): an atomic input written straight to the log is staged
// (change_log::stage: unsynced, invisible) batch by batch on a second thread while this one parses
// the next batch, and made visible by one synced append at the end. Nothing is visible before that
// append returns, a bad line or a failure discards what was staged, and a crash leaves nothing
// (the next writer drops unfinished staged records): the same whole-or-nothing promise, with one
// fsync instead of one per batch, and the parse and the writes on two cores.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <iostream>
#include <optional>
#include <span>
#include <vector>

#include "cli/internal/appender.h"
#include "cli/internal/command_util.h"
#include "cli/jsonl.h"
#include "cli/progress.h"
#include "cli/syncline_cli.h"
#include "common/process.h"

namespace syncline::cli {
namespace {

using internal::failure;
using internal::usage_error;

constexpr std::string_view cmd = "append";
// One WriteBatch stays well below RocksDB's comfort zone even with large values.
constexpr std::uint64_t max_batch_bytes = 64ull << 20;

// Streams lines out of a file descriptor through one large buffer; a line is a view into the
// buffer, valid until the next call.
class line_reader {
public:
    line_reader(int fd, std::size_t max_line) : _fd(fd), _max_line(max_line), _buf(4u << 20) {}

    // true with `line` set; false at the end of the input; an error status on a read error or a
    // line longer than max_line.
    result<bool> next(std::string_view& line) {
        for (;;) {
            if (const void* nl = std::memchr(_buf.data() + _begin, '\n', _end - _begin)) {
                const std::size_t pos = static_cast<const char*>(nl) - _buf.data();
                line = std::string_view(_buf.data() + _begin, pos - _begin);
                _begin = pos + 1;
                return trim_cr(line);
            }
            if (_eof) {
                if (_begin == _end) return false;
                line = std::string_view(_buf.data() + _begin, _end - _begin);
                _begin = _end;
                return trim_cr(line);
            }
            if (_end - _begin > _max_line)
                return status{errc::invalid_argument, "line longer than " + std::to_string(_max_line) + " bytes"};
            // Keep the partial line, make room, read more.
            if (_begin > 0) {
                std::memmove(_buf.data(), _buf.data() + _begin, _end - _begin);
                _end -= _begin;
                _begin = 0;
            }
            if (_end == _buf.size()) _buf.resize(_buf.size() * 2);
            const ssize_t n = ::read(_fd, _buf.data() + _end, _buf.size() - _end);
            if (n < 0) {
                if (errno == EINTR) continue;
                return status{errc::io_error, std::string("read failed: ") + std::strerror(errno)};
            }
            if (n == 0) _eof = true;
            _end += static_cast<std::size_t>(n);
        }
    }

private:
    static bool trim_cr(std::string_view& line) {
        if (line.ends_with('\r')) line.remove_suffix(1);  // CRLF files from Windows tools.
        return true;
    }

    int _fd;
    std::size_t _max_line;
    std::vector<char> _buf;
    std::size_t _begin = 0;
    std::size_t _end = 0;
    bool _eof = false;
};

// Stages batches on its own thread while the caller parses the next ones. At most two batches
// wait; their vectors come back for reuse (records keep their string capacity). After an error
// it stages nothing more; finish() reports the first one. Used by one caller thread.
class stage_writer {
public:
    explicit stage_writer(internal::appender& a) : _appender(a), _thread([this] { loop(); }) {}
    ~stage_writer() { (void)finish(); }
    stage_writer(const stage_writer&) = delete;
    stage_writer& operator=(const stage_writer&) = delete;

    // Hands over batch[0, n) and returns a vector to fill next (a used one, or empty).
    std::vector<record> submit(std::vector<record> batch, std::size_t n) {
        std::unique_lock lk(_mu);
        _cv.wait(lk, [&] { return _todo.size() < 2; });
        _todo.emplace_back(std::move(batch), n);
        _cv.notify_all();
        if (_free.empty()) return {};
        std::vector<record> next = std::move(_free.back());
        _free.pop_back();
        return next;
    }
    bool failed() const { return _failed.load(std::memory_order_relaxed); }
    // Waits until everything handed over is staged (or refused); the first error.
    status finish() {
        {
            std::lock_guard lk(_mu);
            _closing = true;
        }
        _cv.notify_all();
        if (_thread.joinable()) _thread.join();
        return _error;
    }
    // Records staged so far (call after finish()).
    std::uint64_t staged() const { return _staged; }

private:
    void loop() {
        std::unique_lock lk(_mu);
        for (;;) {
            _cv.wait(lk, [&] { return !_todo.empty() || _closing; });
            if (_todo.empty()) return;
            auto [batch, n] = std::move(_todo.front());
            _todo.pop_front();
            _cv.notify_all();  // Room for the next batch while this one is written.
            const bool skip = !_error.ok();
            lk.unlock();
            status s = skip ? status{} : _appender.stage(std::span<record>(batch.data(), n));
            lk.lock();
            if (!s.ok()) {
                _error = s;
                _failed = true;
            } else if (!skip) {
                _staged += n;
            }
            _free.push_back(std::move(batch));
        }
    }

    internal::appender& _appender;
    std::mutex _mu;
    std::condition_variable _cv;
    std::deque<std::pair<std::vector<record>, std::size_t>> _todo;
    std::vector<std::vector<record>> _free;
    status _error;
    std::atomic<bool> _failed{false};
    std::uint64_t _staged = 0;
    bool _closing = false;
    std::thread _thread;  // Last: starts once everything above exists.
};

struct append_options {
    std::string log;
    std::string via;  // A gateway's ZeroMQ endpoint: append through it instead of opening the log.
    std::string input = "-";
    std::size_t batch_size = 1000;
    std::uint64_t atomic_limit = 256ull << 20;
    std::uint64_t max_value_bytes = 1ull << 20;
    bool skip_invalid = false;
    bool sync = true;
};

constexpr std::string_view usage =
    "usage: syncline append --log DIR [options] [FILE|-]\n"
    "       syncline append --via ENDPOINT [options] [FILE|-]   (through a running gateway)\n"
    "\n"
    "Appends JSON Lines (FILE, or standard input when FILE is - or absent) to the change log,\n"
    "one change per line:\n"
    "  {\"collection\": \"users\", \"key\": \"42\", \"op\": \"upsert\", \"value\": {\"name\": \"Ada\"}, \"headers\": {\"k\": \"v\"}}\n"
    "  key: string or integer. op: upsert (the default when absent) or delete. value: required for an\n"
    "  upsert; a JSON string is stored as its text, other JSON as its compact form; a delete has none\n"
    "  (or null). headers: optional, string values. offset and ts are ignored. Blank lines are skipped.\n"
    "  Ambiguous JSON is refused: a key twice in one object, an integer beyond 64 bits (quote it).\n"
    "\n"
    "Atomicity: an input of at most --atomic-limit bytes is validated completely first; if any line\n"
    "is invalid nothing is appended (with --log it is written while it is checked, invisible, and made\n"
    "visible by one synced write at the end). A larger input is validated and appended batch by batch: a\n"
    "failing batch appends nothing of itself, and the error reports what was already appended.\n"
    "With --skip-invalid the valid lines are appended and each invalid one is reported on stderr.\n"
    "With --via, each batch is one request to the gateway (atomic, retried until acknowledged).\n"
    "\n"
    "Prints `appended N records: offsets A..B`. On a terminal, stderr shows one updating progress bar\n"
    "(records, rate, ETA estimated from the bytes read of a file); otherwise nothing until the end.\n"
    "Exit codes: 0 ok, 1 invalid input or store failure, 2 bad options.";

struct progress {
    std::uint64_t count = 0;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::string summary() const { return internal::appended_summary(count, first, last); }
};

int run_append(const append_options& o) {
    const bool from_stdin = o.input == "-";
    const std::string name = from_stdin ? "<stdin>" : o.input;

    int fd = STDIN_FILENO;
    if (!from_stdin) {
        fd = ::open(o.input.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return failure(cmd, "cannot open input " + o.input + ": " + std::strerror(errno));
    }
    struct fd_closer {
        int fd;
        ~fd_closer() {
            if (fd != STDIN_FILENO) ::close(fd);
        }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) return failure(cmd, "input " + name + " is a directory");
    // A regular file's size is known up front: above the limit it streams from the first line
    // instead of buffering 256 MiB first. A pipe switches when it actually crosses the limit.
    bool streaming = S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > o.atomic_limit;

    // Open the log (or connect to the gateway) before reading: a locked log fails at once instead
    // of after reading the input.
    auto log = internal::open_appender(o.log, o.via, o.sync);
    if (!log.ok()) return failure(cmd, log.get_status().message());

    // An atomic input to the log itself is staged on a second thread (see the top of this file).
    std::optional<stage_writer> writer;
    if (!streaming && (*log)->can_stage()) writer.emplace(**log);
    std::uint64_t staged_uncommitted = 0;  // Staged by a finished writer, made visible by the next append.
    std::uint64_t handed = 0;              // Records handed to the writer (for the progress bar).
    // Stops the writer; unless `keep`, forgets what it staged (it never becomes visible).
    std::function<status(bool)> stop_staging = [&](bool keep) -> status {
        status s;
        if (writer) {
            s = writer->finish();
            staged_uncommitted = writer->staged();
            writer.reset();
            handed = 0;
        }
        if ((!keep || !s.ok()) && staged_uncommitted > 0) {
            staged_uncommitted = 0;
            (void)(*log)->discard_staged();  // Best effort: the next writer to open the log drops them too.
        }
        return s;
    };
    struct staging_guard {  // Early returns: nothing staged may stay behind.
        std::function<status(bool)>& stop;
        ~staging_guard() { (void)stop(false); }
    } guard{stop_staging};

    const jsonl_limits limits{o.max_value_bytes};
    // A JSON string can take up to 6 bytes per stored byte (\u0000); anything longer than that
    // cannot hold a valid value and would only cost memory.
    line_reader reader(fd, static_cast<std::size_t>(o.max_value_bytes * 6 + (1u << 20)));

    std::vector<record> pending;  // Reused: records keep their string capacity across batches.
    std::size_t used = 0;
    std::uint64_t pending_bytes = 0;
    record scratch;  // Where lines go once the atomic input is known to be invalid.

    progress done;
    std::uint64_t consumed = 0, line_no = 0, skipped = 0, invalid = 0;
    std::string first_error;

    // On a terminal: one bar. Records of a regular file are estimated from the bytes read so far
    // (the total is unknown until the end); an atomic input is validated first ("checking"), then
    // appended; a streamed one is both at once.
    std::optional<progress_line> bar;
    bar.emplace("append");
    const std::uint64_t file_bytes = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
    auto estimated_total = [&](std::uint64_t records_read) -> std::uint64_t {
        if (file_bytes == 0 || consumed == 0) return 0;
        const double est = static_cast<double>(records_read) * static_cast<double>(file_bytes) / static_cast<double>(consumed);
        return std::max<std::uint64_t>(static_cast<std::uint64_t>(est), records_read);
    };
    auto fail = [&](const std::string& msg) {
        bar.reset();  // The error on a line of its own.
        return failure(cmd, msg);
    };
    auto show = [&](bool final = false) {
        if (!bar->active()) return;
        const std::uint64_t read = used + handed + done.count + skipped;
        if (streaming) bar->update(done.count, estimated_total(read), {}, final);
        else bar->update(read, estimated_total(read), "checking", final);
    };

    // Appends pending[from, to) in chunks of batch_size / max_batch_bytes.
    auto append_range = [&](std::size_t from, std::size_t to) -> status {
        while (from < to) {
            std::size_t end = from;
            std::uint64_t bytes = 0;
            while (end < to && end - from < o.batch_size && bytes < max_batch_bytes) {
                bytes += pending[end].value.size() + pending[end].key.size();
                ++end;
            }
            auto range = (*log)->append(std::span<record>(pending.data() + from, end - from));
            if (!range.ok()) return range.get_status();
            if (done.count == 0) done.first = range->first;
            done.last = range->last;
            done.count += end - from + staged_uncommitted;  // Staged records became visible with these.
            staged_uncommitted = 0;
            from = end;
            if (!streaming && bar->active()) bar->update(done.count, to, {}, from >= to);
        }
        return {};
    };
    auto append_failed = [&](const status& s) {
        return fail("append to " + (o.via.empty() ? o.log : "gateway " + o.via) + " failed: " + s.message() + "; " +
                                (done.count == 0 ? std::string("nothing was appended")
                                                 : "already " + done.summary() + " (from " + name + ")"));
    };

    for (;;) {
        std::string_view line;
        auto more = reader.next(line);
        if (!more.ok()) {
            const std::string where = name + ":" + std::to_string(line_no + 1) + ": ";
            return fail(where + more.get_status().message() +
                                    (done.count == 0 ? "; nothing appended" : "; already " + done.summary()));
        }
        if (!*more) break;
        ++line_no;
        consumed += line.size() + 1;
        if (is_blank_line(line)) continue;

        if (!streaming && consumed > o.atomic_limit) {
            if (invalid > 0) break;  // Already failed: stop reading, report below.
            // What was staged becomes visible with the first streamed batch.
            if (status s = stop_staging(true); !s.ok()) return append_failed(s);
            streaming = true;
            internal::warn(cmd, "input is larger than --atomic-limit (" + std::to_string(o.atomic_limit) +
                                    " bytes): appending batch by batch from line " + std::to_string(line_no));
        }

        if (invalid == 0 && used == pending.size()) {
            // A whole atomic file is held in memory: size the vector once from the average line
            // seen so far instead of doubling (and copying every record) ~20 times.
            if (!streaming && !writer && S_ISREG(st.st_mode) && used == 1024)
                pending.reserve(static_cast<std::size_t>(static_cast<std::uint64_t>(st.st_size) / (consumed / line_no) + 1024));
            pending.emplace_back();
        }
        record& slot = invalid > 0 ? scratch : pending[used];
        if (status s = parse_jsonl_line(line, slot, limits); !s.ok()) {
            const std::string msg = name + ":" + std::to_string(line_no) + ": " + s.message();
            if (o.skip_invalid) {
                internal::warn(cmd, "skipped " + msg);
                ++skipped;
                continue;
            }
            if (streaming) {
                return fail(msg + "; this batch was not appended, " +
                                        (done.count == 0 ? std::string("nothing was appended")
                                                         : "already " + done.summary()));
            }
            if (invalid++ == 0) first_error = msg;
            continue;
        }
        if (invalid > 0) continue;
        pending_bytes += slot.value.size() + slot.key.size();
        ++used;
        if ((used & 1023) == 0) show();
        if (writer && (used >= o.batch_size || pending_bytes >= max_batch_bytes)) {
            pending = writer->submit(std::move(pending), used);
            handed += used;
            used = 0;
            pending_bytes = 0;
            if (writer->failed()) break;  // Reported below.
            continue;
        }
        if (streaming && (used >= o.batch_size || pending_bytes >= max_batch_bytes)) {
            if (status s = append_range(0, used); !s.ok()) return append_failed(s);
            used = 0;
            pending_bytes = 0;
            show();
        }
    }

    if (invalid > 0) {
        std::string msg = first_error;
        if (invalid > 1) msg += " (and " + std::to_string(invalid - 1) + " more invalid lines)";
        msg += "; nothing appended (use --skip-invalid to append the valid lines)";
        return fail(msg);
    }
    if (status s = stop_staging(true); !s.ok()) return append_failed(s);
    if (staged_uncommitted > 0 && used == 0) {
        // Everything is staged: one synced append with no records of its own makes it visible.
        auto range = (*log)->append(std::span<record>());
        if (!range.ok()) {
            (void)stop_staging(false);
            return append_failed(range.get_status());
        }
        done = {staged_uncommitted, range->first, range->last};
        staged_uncommitted = 0;
        if (bar->active()) bar->update(done.count, done.count, {}, true);  // Checked and written: complete.
    }
    if (used > 0) {
        if (!streaming && bar->active()) bar.emplace("append");  // Checked: now the appends, from 0.
        if (status s = append_range(0, used); !s.ok()) return append_failed(s);  // The guard discards what is staged.
    }
    if (streaming) show(true);
    bar.reset();  // Ends the bar's line before the summary.
    std::string summary = done.summary();
    if (o.skip_invalid) summary += "; skipped " + std::to_string(skipped) + " invalid lines";
    std::cout << summary << '\n' << std::flush;
    return exit_ok;
}

}  // namespace

int append_command(int argc, const char* const* argv) {
    append_options o;
    std::string atomic_limit = "256MiB", max_value = "1MiB";
    bool no_sync = false;
    po::options_description desc("append options");
    desc.add_options()
        ("log", po::value(&o.log)->value_name("DIR"), "change log directory (created if missing)")
        ("via", po::value(&o.via)->value_name("ENDPOINT"), "append through the gateway listening there (tcp:// or ipc://) instead of --log")
        ("input", po::value(&o.input)->value_name("FILE"), "JSON Lines file, or - for standard input. Default: -")
        ("batch-size", po::value(&o.batch_size)->default_value(o.batch_size)->value_name("N"),
         "records per write (an input above --atomic-limit: one atomic, synced append each)")
        ("atomic-limit", po::value(&atomic_limit)->default_value(atomic_limit)->value_name("BYTES"),
         "inputs up to this size are validated whole before anything is appended")
        ("max-value-bytes", po::value(&max_value)->default_value(max_value)->value_name("BYTES"),
         "largest stored value, at most 64MiB (the record limit every reader accepts); a larger one is an invalid line")
        ("skip-invalid", po::bool_switch(&o.skip_invalid), "append the valid lines, report the invalid ones")
        ("no-sync", po::bool_switch(&no_sync), "do not fsync each append (faster; a crash may lose the last appends)");
    po::positional_options_description positional;
    positional.add("input", 1);
    auto parsed = parse(argc, argv, desc, usage, &positional);
    if (!parsed.ok()) return usage_error(cmd, parsed.get_status().message());
    if (parsed->exit_now) return exit_ok;

    if (o.log.empty() && o.via.empty()) return usage_error(cmd, "give --log DIR, or --via ENDPOINT to append through a gateway");
    if (!o.log.empty() && !o.via.empty()) return usage_error(cmd, "give --log or --via, not both");
    if (!o.via.empty() && no_sync) return usage_error(cmd, "--no-sync has no effect with --via (the gateway's own --no-sync decides)");
    if (o.batch_size < 1 || o.batch_size > 1'000'000) return usage_error(cmd, "--batch-size must be between 1 and 1000000");
    auto limit = internal::parse_size("--atomic-limit", atomic_limit);
    if (!limit.ok()) return usage_error(cmd, limit.get_status().message());
    o.atomic_limit = *limit;
    auto max = internal::parse_size("--max-value-bytes", max_value);
    if (!max.ok()) return usage_error(cmd, max.get_status().message());
    // Never above the record limit every reader accepts (common/record.h): a value the log took
    // must never make a worker refuse its batch.
    if (*max < 1 || *max > limits::max_value_bytes)
        return usage_error(cmd, "--max-value-bytes must be between 1 and " +
                                    std::to_string(limits::max_value_bytes >> 20) + "MiB (the record limit)");
    o.max_value_bytes = *max;
    o.sync = !no_sync;
    if (o.input.empty()) return usage_error(cmd, "input file name is empty (use - for standard input)");
    return run_append(o);
}

}  // namespace syncline::cli
