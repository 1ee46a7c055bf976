#pragma once
// workers/transform.h: a Lua 5.4 transform (docs/processing.md "Transforms"). The script defines
// `transform(rec)`; rec = {collection, key, op ("upsert"/"delete"), value, headers (name -> value),
// offset, ts}. `value` is a table when the stored value is a JSON object or array, else a string
// (decoded only when the script reads it). The function returns the record (changed or not), nil
// to drop it, or a list of records to split it; a returned record's missing fields are the
// source's. Every output keeps the source offset (fencing stays per output key and offset).
// Bytes stay exact: a value the script did not change is forwarded as stored; a changed table is
// re-encoded as compact JSON with sorted keys.
//
// Sandbox: only the base (without dofile, loadfile, load, collectgarbage, print; setmetatable
// refuses __gc, whose finalizers Lua runs outside any hook), string (without dump), table, math
// and utf8 libraries; no io, os, package, debug, require; text chunks only.
// Budgets per call: `max_instructions` VM instructions (lua_sethook) and `max_memory` bytes for
// the whole state (a custom lua_Alloc). A call that exceeds one, or raises an error, fails that
// record with the Lua message (file:line) and the state is rebuilt when a budget was hit.
// Not thread-safe: one per worker thread.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace syncline::workers {

struct transform_limits {
    std::uint64_t max_instructions = 1'000'000;  // VM instructions per call. Default: 1 M.
    std::size_t max_memory = 64u << 20;           // Bytes per Lua state. Default: 64 MiB.
};

class lua_transform {
public:
    // Loads `path` and runs its top level once. invalid_argument naming the file and line when it
    // cannot be read, does not compile, fails at load, or defines no function `transform`.
    static result<std::unique_ptr<lua_transform>> load(const std::string& path, transform_limits limits = {});
    ~lua_transform();
    lua_transform(const lua_transform&) = delete;
    lua_transform& operator=(const lua_transform&) = delete;

    // What one call made of a record.
    struct outcome {
        enum class kind { unchanged, replaced, failed } what = kind::unchanged;
        std::vector<record> records;  // kind::replaced: the outputs (empty = dropped).
        std::string error;            // kind::failed: the reason, with the script's file:line.
    };
    outcome apply(const record_view& in);

    std::uint64_t calls() const noexcept { return _calls; }

private:
    struct state;
    lua_transform(std::string path, std::string source, transform_limits limits);
    status open_state();

    std::string _path;
    std::string _source;
    transform_limits _limits;
    std::unique_ptr<state> _state;
    std::uint64_t _calls = 0;
};

}  // namespace syncline::workers
