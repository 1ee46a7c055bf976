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
    msg += s.ToString();
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

}  // namespace syncline::store::internal
