#pragma once
// targets/jsonl_target.h: `jsonl:PATH` — appends one JSON line per delivered change:
//   {"offset":N,"ts":MS,"collection":"..","key":"..","op":"upsert"|"delete","value":V}
// V is the record's value embedded as JSON when it is valid JSON (line breaks, which can only
// be whitespace there, become spaces), else the value as a JSON string; null for deletes.
// Strings that are not valid UTF-8 (keys are bytes) get U+FFFD for each bad byte.
// Delivery is at-least-once: redelivered batches append their lines again.
// Each deliver() is one write() of the whole batch under flock(LOCK_EX) on an O_APPEND file,
// then fdatasync(): several worker processes can append to the same file without interleaving,
// and a returned deliver() is on disk. A failed write is cut back off the file.
// read_state() replays the file; per (collection, key) the line with the highest offset wins
// (the fencing happens in the reader). Lines that are not JSON (torn by a crash: their batch was
// never acknowledged and is redelivered) are skipped; a JSON line of the wrong shape is
// errc::corruption. Values come back as the JSON text of V (compact).
// Errors: open -> invalid_argument (directory missing), unavailable (cannot open now);
// deliver -> transient errc::unavailable on any write or sync failure.
// Not thread-safe: one instance per thread (instances on the same file are fine).
#include <memory>
#include <string>

#include "targets/target.h"

namespace syncline::targets {

struct jsonl_target_options {
    std::string path;  // Created if missing; its directory must exist.
};

class jsonl_target final : public target {
public:
    static result<std::unique_ptr<jsonl_target>> open(const jsonl_target_options& opts);
    ~jsonl_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    result<std::optional<state_map>> read_state() override;

private:
    jsonl_target(std::string path, int fd) : _path(std::move(path)), _fd(fd) {}

    std::string _path;
    int _fd = -1;
    std::string _buffer;  // Reused across batches: no per-batch allocation once warm.
};

}  // namespace syncline::targets
