#include "store/internal/rocks_util.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace syncline::store::internal {

bool is_lock_error(const rocksdb::Status& s) {
    // RocksDB reports both a lock held by another process ("While lock file: ...: Resource
    // temporarily unavailable") and one held in this process ("lock hold by current process")
    // as IOError; the word "lock" is the only stable marker across versions.
    if (!s.IsIOError()) return false;
    std::string msg = s.ToString();
    for (char& c : msg) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return msg.find("lock") != std::string::npos;
}

namespace {

// What to do about a system error RocksDB passed on (strerror text), for people.
std::string_view fix_for(std::string_view reason) {
    if (reason == "Not a directory") return "a part of the path is a file, not a directory: choose another path";
    if (reason == "No such file or directory") return "create its parent directory first, or choose another path";
    if (reason == "Permission denied" || reason == "Operation not permitted")
        return "this user may not write there: fix the directory's permissions or choose another path";
    if (reason == "No space left on device" || reason == "Disk quota exceeded") return "the disk is full: free space";
    if (reason == "Read-only file system") return "the file system is read-only: choose a writable location";
    if (reason == "Too many open files") return "raise the open files limit (ulimit -n)";
    return {};
}

// RocksDB's file errors read "IO error: While <what>: <path>: <reason>" (its posix Env). Said in
// our words: "cannot create the directory <path>: <reason> (<fix>)". Other errors keep RocksDB's
// text, which names the problem (Corruption: ..., Invalid argument: ...).
std::string describe(const rocksdb::Status& s) {
    const char* state = s.getState();
    if (!s.IsIOError() || state == nullptr) return s.ToString();
    const std::string_view text(state);
    constexpr std::string_view prefix = "While ";
    const auto colon = text.find(": ");
    if (!text.starts_with(prefix) || colon == std::string_view::npos) return "I/O error: " + std::string(text);
    const std::string_view what = text.substr(prefix.size(), colon - prefix.size());
    const std::string_view rest = text.substr(colon + 2);  // <path>: <reason>
    std::string out;
    if (what.starts_with("mkdir")) out = "cannot create the directory ";
    else if (what.starts_with("open") || what.starts_with("fopen")) out = "cannot open ";
    else if (what.starts_with("lock")) out = "cannot lock ";
    else out = "cannot " + std::string(what) + " ";
    out += rest;
    const auto last = rest.rfind(": ");
    if (const auto fix = fix_for(last == std::string_view::npos ? rest : rest.substr(last + 2)); !fix.empty()) {
        out += " (";
        out += fix;
        out += ")";
    }
    return out;
}

}  // namespace

status from_rocks(const rocksdb::Status& s, std::string_view context, std::string_view busy_message) {
    if (s.ok()) return {};
    if (!busy_message.empty() && is_lock_error(s)) return status{errc::busy, std::string(busy_message)};
    errc code = errc::io_error;
    if (s.IsNotFound()) {
        code = errc::not_found;
    } else if (s.IsCorruption()) {
        code = errc::corruption;
    } else if (s.IsInvalidArgument() || s.IsNotSupported()) {
        code = errc::invalid_argument;
    } else if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) {
        code = errc::unavailable;
    } else if (s.IsShutdownInProgress() || s.IsAborted()) {
        code = errc::cancelled;
    }
    std::string msg(context);
    msg += ": ";
    msg += describe(s);
    return status{code, std::move(msg)};
}

scratch_dir::~scratch_dir() {
    if (_path.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(_path, ec);  // Best effort: a leftover temp dir is harmless.
}

status scratch_dir::create(std::string_view prefix) {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string templ = (base / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr)
        return status{errc::io_error, "cannot create a temporary directory " + templ + ": " + std::strerror(errno)};
    _path = std::move(templ);
    return {};
}

std::uint64_t directory_bytes(const std::string& dir) {
    std::uint64_t total = 0;
    std::error_code ec;
    // Files can vanish under us (compaction, WAL recycling): skip what disappears.
    for (auto it = std::filesystem::recursive_directory_iterator(
             dir, std::filesystem::directory_options::skip_permission_denied, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code fec;
        if (it->is_regular_file(fec)) {
            auto size = it->file_size(fec);
            if (!fec) total += size;
        }
    }
    return total;
}

rocksdb::DBOptions base_db_options(bool writer) {
    rocksdb::DBOptions o;
    o.create_if_missing = writer;
    o.create_missing_column_families = writer;
    if (!writer) o.max_open_files = -1;
    // A secondary's catch-up tails the MANIFEST and (RocksDB 7.8) loads table handlers for every
    // column family on every call, starting max_file_opening_threads - 1 threads each time: with
    // the default 16, a tailing ventilator created ~3,600 threads/s and spent ~2 ms of CPU per
    // catch-up (docs/benchmarks.md "Commit latency"). The caller alone does the same work.
    if (!writer) o.max_file_opening_threads = 1;
    return o;
}

status open_db(const db_open& how, scratch_dir& secondary_dir, rocksdb::DB*& db,
               std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    rocksdb::Status s;
    if (how.writer) {
        s = rocksdb::DB::Open(how.options, how.path, how.column_families, &handles, &db);
    } else {
        SYNCLINE_RETURN_IF_ERROR(secondary_dir.create(how.scratch_prefix));
        s = rocksdb::DB::OpenAsSecondary(how.options, how.path, secondary_dir.path(), how.column_families, &handles,
                                         &db);
    }
    if (s.ok()) return {};
    db = nullptr;
    handles.clear();
    return from_rocks(s, std::string(how.context) + ": open", how.busy_message);
}

}  // namespace syncline::store::internal
