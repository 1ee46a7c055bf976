#include "targets/jsonl_target.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "targets/internal/json_text.h"

namespace syncline::targets {
namespace {

using json = nlohmann::json;
using internal::append_json_string;
using internal::append_number;
using internal::embeddable_json;

std::string errno_text(int e) { return std::strerror(e); }

void append_line(std::string& out, const record_view& r) {
    out += "{\"offset\":";
    append_number(out, r.offset);
    out += ",\"ts\":";
    append_number(out, r.ts_ms);
    out += ",\"collection\":";
    append_json_string(out, r.collection);
    out += ",\"key\":";
    append_json_string(out, r.key);
    if (r.operation == op::del) {
        out += ",\"op\":\"delete\",\"value\":null}\n";
        return;
    }
    out += ",\"op\":\"upsert\",\"value\":";
    if (embeddable_json(r.value)) {
        // Valid JSON holds raw line breaks only as whitespace between tokens.
        std::size_t from = out.size();
        out.append(r.value);
        for (std::size_t i = from; i < out.size(); ++i)
            if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
    } else {
        append_json_string(out, r.value);
    }
    out += "}\n";
}

status write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return {errc::unavailable, "write: " + errno_text(errno)};
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return {};
}

// Holds flock(LOCK_EX) for its lifetime: appends of several processes never interleave, and
// the size seen under the lock is where this batch starts.
class file_lock {
public:
    explicit file_lock(int fd) : _fd(fd) {
        while ((_rc = ::flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
        }
    }
    ~file_lock() {
        if (_rc == 0) ::flock(_fd, LOCK_UN);
    }
    bool ok() const { return _rc == 0; }

private:
    int _fd;
    int _rc;
};

}  // namespace

result<std::unique_ptr<jsonl_target>> jsonl_target::open(const jsonl_target_options& opts) {
    namespace fs = std::filesystem;
    const std::string& path = opts.path;
    if (path.empty()) return status{errc::invalid_argument, "jsonl target: empty path"};
    std::error_code ec;
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec))
        return status{errc::invalid_argument, "jsonl target " + path + ": directory " + parent.string() + " does not exist"};
    if (fs::is_directory(path, ec)) return status{errc::invalid_argument, "jsonl target " + path + ": is a directory"};
    // O_APPEND: every write lands at the current end, whoever else appended meanwhile. Read
    // access is for peeking at the last byte (torn-line repair in deliver()).
    int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return status{errc::unavailable, "jsonl target " + path + ": cannot open: " + errno_text(errno)};
    return std::unique_ptr<jsonl_target>(new jsonl_target(path, fd));
}

jsonl_target::~jsonl_target() {
    if (_fd >= 0) ::close(_fd);
}

delivery_outcome jsonl_target::deliver(std::span<const record_view> records) {
    delivery_outcome out;
    if (records.empty()) return out;
    _buffer.clear();
    for (const record_view& r : records) append_line(_buffer, r);

    auto fail = [&](std::string what) {
        out.transient = status{errc::unavailable, "jsonl target " + _path + ": " + std::move(what)};
        return out;
    };
    {
        file_lock lock(_fd);
        if (!lock.ok()) return fail("flock: " + errno_text(errno));
        struct stat st {};
        if (::fstat(_fd, &st) != 0) return fail("fstat: " + errno_text(errno));
        // A crash mid-write (ours or another process's) can leave a line without its newline:
        // start on a fresh line so that our first line stays parseable.
        if (st.st_size > 0) {
            char last = '\n';
            if (::pread(_fd, &last, 1, st.st_size - 1) != 1) return fail("read last byte: " + errno_text(errno));
            if (last != '\n') _buffer.insert(_buffer.begin(), '\n');
        }
        status s = write_all(_fd, _buffer.data(), _buffer.size());
        if (!s.ok()) {
            // Cut the partial batch off again so that nobody's next line is glued to it.
            if (::ftruncate(_fd, st.st_size) != 0) {
                // Nothing more to do: the reader skips the torn line, and the batch is redelivered.
            }
            return fail(s.message());
        }
    }
    // Outside the lock: other writers append while we wait for the disk; fdatasync covers their
    // bytes and ours alike.
    if (::fdatasync(_fd) != 0) return fail("fdatasync: " + errno_text(errno));
    return out;
}

result<std::optional<state_map>> jsonl_target::read_state() {
    std::ifstream in(_path, std::ios::binary);
    if (!in) return status{errc::unavailable, "jsonl target " + _path + ": cannot read: " + errno_text(errno)};
    state_map state;
    std::string line;
    std::uint64_t line_no = 0;
    try {
        while (std::getline(in, line)) {
            ++line_no;
            if (line.empty()) continue;
            json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
            if (j.is_discarded()) continue;  // A line torn by a crash (see the header).
            auto bad = [&](const char* why) {
                return status{errc::corruption,
                              "jsonl target " + _path + " line " + std::to_string(line_no) + ": " + why};
            };
            if (!j.is_object()) return bad("not an object");
            auto off = j.find("offset");
            auto coll = j.find("collection");
            auto key = j.find("key");
            auto opv = j.find("op");
            auto val = j.find("value");
            if (off == j.end() || !off->is_number_unsigned()) return bad("offset missing or not an unsigned number");
            if (coll == j.end() || !coll->is_string()) return bad("collection missing or not a string");
            if (key == j.end() || !key->is_string()) return bad("key missing or not a string");
            if (opv == j.end() || !opv->is_string()) return bad("op missing or not a string");
            if (val == j.end()) return bad("value missing");
            const auto& op_text = opv->get_ref<const std::string&>();
            if (op_text != "upsert" && op_text != "delete") return bad("op is neither upsert nor delete");

            row_state row;
            row.offset = off->get<std::uint64_t>();
            row.deleted = op_text == "delete";
            if (!row.deleted) row.value = val->dump(-1, ' ', false, json::error_handler_t::replace);
            // Fencing in the reader: lines arrive in delivery order, not offset order.
            auto [it, inserted] = state.try_emplace({coll->get<std::string>(), key->get<std::string>()}, row);
            if (!inserted && row.offset > it->second.offset) it->second = std::move(row);
        }
    } catch (const std::exception& e) {
        return status{errc::corruption, "jsonl target " + _path + " line " + std::to_string(line_no) + ": " + e.what()};
    }
    if (in.bad()) return status{errc::io_error, "jsonl target " + _path + ": read failed"};
    return std::optional<state_map>(std::move(state));
}

}  // namespace syncline::targets
