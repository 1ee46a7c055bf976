#include "workers/transform.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <lua.hpp>
#include <nlohmann/json.hpp>

namespace syncline::workers {

using json = nlohmann::json;

namespace {

constexpr int hook_interval = 1000;   // Instructions between budget checks.
constexpr int max_value_depth = 64;   // Nesting of a JSON value decoded into, or encoded from, Lua.

// Deepest nesting of brackets in `text` outside strings (a cheap bound before parsing).
int nesting_depth(std::string_view text) {
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            deepest = std::max(deepest, ++depth);
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return deepest;
}

bool looks_like_json_container(std::string_view v) {
    const auto first = v.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && (v[first] == '{' || v[first] == '[');
}

}  // namespace

bool to_json(lua_State* L, int idx, int depth, json& out, std::string& why);

// One Lua state and what the calls in it share. The allocator and the hook find it through the
// allocator's user data.
struct lua_transform::state {
    lua_State* L = nullptr;
    std::size_t used = 0;
    std::size_t cap = 0;
    std::uint64_t budget = 0;
    std::uint64_t executed = 0;
    bool budget_hit = false;
    bool memory_hit = false;
    int array_mt = LUA_NOREF;  // Metatable marking decoded JSON arrays (so [] stays an array).
    int rec_mt = LUA_NOREF;    // Metatable of rec: decodes `value` when first read.

    // The record of the call in progress (read by rec's metamethods).
    const record_view* in = nullptr;
    bool value_decoded = false;    // rec.value was read and decoded into a table.
    bool value_assigned = false;   // rec.value was assigned before being read.
    json parsed;                   // The decoded value, held here (not on a C frame Lua may unwind).
    std::string original_encoding; // Re-encoding of the decoded value before the script ran.

    ~state() {
        if (L == nullptr) return;
        // Finalizers (__gc) of the script's objects run in lua_close: with the budget spent, each
        // one's first instruction raises (a warning, ignored), so a finalizer cannot hang us.
        budget_hit = true;
        lua_sethook(L, &state::hook, LUA_MASKCOUNT, 1);
        lua_close(L);
    }

    static void* alloc(void* ud, void* ptr, std::size_t osize, std::size_t nsize) {
        auto* s = static_cast<state*>(ud);
        const std::size_t old = ptr != nullptr ? osize : 0;
        if (nsize == 0) {
            std::free(ptr);
            s->used -= old;
            return nullptr;
        }
        if (nsize > old && s->used + (nsize - old) > s->cap) {
            s->memory_hit = true;
            return nullptr;
        }
        void* p = std::realloc(ptr, nsize);
        if (p == nullptr) return nullptr;
        s->used = s->used - old + nsize;
        return p;
    }

    static state& of(lua_State* L) {
        void* ud = nullptr;
        lua_getallocf(L, &ud);
        return *static_cast<state*>(ud);
    }

    static void hook(lua_State* L, lua_Debug*) {
        state& s = of(L);
        s.executed += hook_interval;
        if (s.executed > s.budget || s.budget_hit) {
            s.budget_hit = true;
            // From now on every instruction raises again, so a pcall in the script cannot swallow it.
            lua_sethook(L, &state::hook, LUA_MASKCOUNT, 1);
            luaL_error(L, "instruction budget of %I exceeded", static_cast<lua_Integer>(s.budget));
        }
    }

    void arm_budget() {
        executed = 0;
        budget_hit = false;
        memory_hit = false;
        lua_sethook(L, &state::hook, LUA_MASKCOUNT, hook_interval);
    }

    // Pushes a parsed JSON value (called inside a protected call: no C++ temporaries that need
    // destroying are alive across Lua API calls).
    static void push_json(lua_State* L, state& s, const json& j) {
        luaL_checkstack(L, 4, "value nested too deeply");
        switch (j.type()) {
        case json::value_t::object:
            lua_createtable(L, 0, static_cast<int>(std::min<std::size_t>(j.size(), 1u << 20)));
            for (auto it = j.begin(); it != j.end(); ++it) {
                const std::string& k = it.key();
                lua_pushlstring(L, k.data(), k.size());
                push_json(L, s, it.value());
                lua_rawset(L, -3);
            }
            break;
        case json::value_t::array: {
            lua_createtable(L, static_cast<int>(std::min<std::size_t>(j.size(), 1u << 20)), 0);
            lua_Integer i = 0;
            for (const auto& e : j) {
                push_json(L, s, e);
                lua_rawseti(L, -2, ++i);
            }
            lua_rawgeti(L, LUA_REGISTRYINDEX, s.array_mt);
            lua_setmetatable(L, -2);
            break;
        }
        case json::value_t::string: {
            const auto& str = j.get_ref<const std::string&>();
            lua_pushlstring(L, str.data(), str.size());
            break;
        }
        case json::value_t::boolean: lua_pushboolean(L, j.get<bool>()); break;
        case json::value_t::number_integer: lua_pushinteger(L, j.get<std::int64_t>()); break;
        case json::value_t::number_unsigned: {
            const auto u = j.get<std::uint64_t>();
            if (u <= static_cast<std::uint64_t>(LUA_MAXINTEGER)) lua_pushinteger(L, static_cast<lua_Integer>(u));
            else lua_pushnumber(L, static_cast<lua_Number>(u));
            break;
        }
        case json::value_t::number_float: lua_pushnumber(L, j.get<double>()); break;
        default: lua_pushlightuserdata(L, nullptr); break;  // null: kept, so a key with null survives.
        }
    }

    // rec.__index: only `value` is lazy; decodes it on first read.
    static int rec_index(lua_State* L) {
        state& s = of(L);
        std::size_t n = 0;
        const char* k = lua_tolstring(L, 2, &n);
        if (k == nullptr || std::string_view(k, n) != "value" || s.value_assigned || s.in == nullptr) {
            lua_pushnil(L);
            return 1;
        }
        const std::string_view v = s.in->value;
        // Parsed only when the script reads it; no Lua call happens before the json is stored.
        if (looks_like_json_container(v) && nesting_depth(v) <= max_value_depth) {
            s.parsed = json::parse(v.begin(), v.end(), nullptr, false);
            if (s.parsed.is_discarded()) s.parsed = nullptr;
        }
        if (!s.parsed.is_null()) {
            push_json(L, s, s.parsed);
        } else {
            lua_pushlstring(L, v.data(), v.size());
        }
        if (!s.parsed.is_null()) {
            // The decoded table's own encoding before the script touches it: an output value that
            // encodes the same is forwarded as the stored bytes. to_json raises no Lua error. A
            // value Lua cannot give back as JSON (a number beyond a double) stays a string.
            json before;
            std::string why;
            if (to_json(L, -1, 0, before, why)) {
                s.original_encoding = before.dump();
            } else {
                lua_pop(L, 1);
                s.parsed = nullptr;
                lua_pushlstring(L, v.data(), v.size());
            }
        }
        lua_pushstring(L, "value");
        lua_pushvalue(L, -2);
        lua_rawset(L, 1);  // Later reads see the same table.
        s.value_decoded = !s.parsed.is_null();
        return 1;
    }

    // setmetatable without __gc: Lua runs finalizers with hooks off, so a looping __gc would
    // escape the instruction budget (and could hang lua_close).
    static int safe_setmetatable(lua_State* L) {
        if (lua_type(L, 2) == LUA_TTABLE) {
            lua_pushstring(L, "__gc");
            if (lua_rawget(L, 2) != LUA_TNIL) return luaL_error(L, "setmetatable: __gc is not allowed in a transform");
            lua_pop(L, 1);
        }
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
        return lua_gettop(L);
    }

    // rec.__newindex: an assignment to a field rec does not hold (`value` before it was read).
    static int rec_newindex(lua_State* L) {
        state& s = of(L);
        std::size_t n = 0;
        const char* k = lua_tolstring(L, 2, &n);
        if (k != nullptr && std::string_view(k, n) == "value") s.value_assigned = true;
        lua_rawset(L, 1);
        return 0;
    }

    // The protected part of a call: builds rec, calls transform(rec); leaves rec and the result.
    static int protected_call(lua_State* L) {
        state& s = of(L);
        const record_view& in = *s.in;
        lua_getglobal(L, "transform");
        lua_createtable(L, 0, 8);
        auto set_string = [&](const char* name, std::string_view v) {
            lua_pushlstring(L, v.data(), v.size());
            lua_setfield(L, -2, name);
        };
        set_string("collection", in.collection);
        set_string("key", in.key);
        set_string("op", op_name(in.operation));
        lua_pushinteger(L, static_cast<lua_Integer>(in.offset));
        lua_setfield(L, -2, "offset");
        lua_pushinteger(L, static_cast<lua_Integer>(in.ts_ms));
        lua_setfield(L, -2, "ts");
        lua_createtable(L, 0, static_cast<int>(in.headers.size()));
        for (const auto& [name, value] : in.headers) {
            lua_pushlstring(L, name.data(), name.size());
            lua_pushlstring(L, value.data(), value.size());
            lua_rawset(L, -3);
        }
        lua_setfield(L, -2, "headers");
        if (in.operation == op::del && in.value.empty()) s.value_assigned = true;  // rec.value is nil.
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.rec_mt);
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_insert(L, 1);  // rec at 1, then transform, rec.
        lua_call(L, 1, 1);
        return 2;
    }
};

// Reads a Lua value into JSON without raising Lua errors (raw access only). False with `why`
// on a value JSON cannot hold (functions, userdata, cycles, keys of other types, NaN).
namespace {

bool table_to_json(lua_State* L, int idx, int depth, json& out, std::string& why) {
    if (depth > max_value_depth) {
        why = "value nested deeper than " + std::to_string(max_value_depth) + " (a cycle?)";
        return false;
    }
    if (!lua_checkstack(L, 4)) {
        why = "out of Lua stack";
        return false;
    }
    idx = lua_absindex(L, idx);
    const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, idx));
    bool marked_array = false;
    if (lua_getmetatable(L, idx)) {  // Metatables are tables: raw access raises nothing.
        lua_pushstring(L, "__syncline_array");
        marked_array = lua_rawget(L, -2) != LUA_TNIL;
        lua_pop(L, 2);
    }
    // Array: a sequence 1..n and nothing else (or an empty table decoded from []).
    std::size_t keys = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        ++keys;
        lua_pop(L, 1);
    }
    if ((n > 0 && static_cast<std::size_t>(n) == keys) || (keys == 0 && marked_array)) {
        out = json::array();
        for (lua_Integer i = 1; i <= n; ++i) {
            lua_rawgeti(L, idx, i);
            json e;
            const bool ok = to_json(L, -1, depth + 1, e, why);
            lua_pop(L, 1);
            if (!ok) return false;
            out.push_back(std::move(e));
        }
        return true;
    }
    out = json::object();
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) {
            std::size_t len = 0;
            const char* k = lua_tolstring(L, -2, &len);
            key.assign(k, len);
        } else if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)) {
            key = std::to_string(lua_tointeger(L, -2));
        } else {
            lua_pop(L, 2);
            why = std::string("a table key of type ") + lua_typename(L, lua_type(L, -2));
            return false;
        }
        json e;
        if (!to_json(L, -1, depth + 1, e, why)) {
            lua_pop(L, 2);
            return false;
        }
        out[key] = std::move(e);
        lua_pop(L, 1);
    }
    return true;
}

}  // namespace

bool to_json(lua_State* L, int idx, int depth, json& out, std::string& why) {
    switch (lua_type(L, idx)) {
    case LUA_TNIL: out = nullptr; return true;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == nullptr) {  // JSON null as decoded (see push_json).
            out = nullptr;
            return true;
        }
        why = "a light userdata where JSON was expected";
        return false;
    case LUA_TBOOLEAN: out = lua_toboolean(L, idx) != 0; return true;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            out = static_cast<std::int64_t>(lua_tointeger(L, idx));
        } else {
            const double d = lua_tonumber(L, idx);
            if (d != d || d - d != 0) {
                why = "a number JSON cannot hold (NaN or infinity)";
                return false;
            }
            out = d;
        }
        return true;
    case LUA_TSTRING: {
        std::size_t len = 0;
        const char* s = lua_tolstring(L, idx, &len);
        out = std::string(s, len);
        return true;
    }
    case LUA_TTABLE: return table_to_json(L, idx, depth, out, why);
    default:
        why = std::string("a ") + lua_typename(L, lua_type(L, idx)) + " where JSON was expected";
        return false;
    }
}

namespace {

// A string field of a returned record: the value, or `fallback` when the field is nil.
bool string_field(lua_State* L, int table, const char* name, std::string_view fallback, std::string& out,
                  std::string& why) {
    lua_pushstring(L, name);
    const int t = lua_rawget(L, table);
    if (t == LUA_TNIL) {
        out.assign(fallback);
    } else if (t == LUA_TSTRING) {
        std::size_t len = 0;
        const char* s = lua_tolstring(L, -1, &len);
        out.assign(s, len);
    } else {
        why = std::string("field '") + name + "' is a " + lua_typename(L, t) + ", not a string";
        lua_pop(L, 1);
        return false;
    }
    lua_pop(L, 1);
    return true;
}

}  // namespace

lua_transform::lua_transform(std::string path, std::string source, transform_limits limits)
    : _path(std::move(path)), _source(std::move(source)), _limits(limits) {}

lua_transform::~lua_transform() = default;

result<std::unique_ptr<lua_transform>> lua_transform::load(const std::string& path, transform_limits limits) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return status{errc::invalid_argument, "--transform: cannot read " + path};
    std::ostringstream text;
    text << in.rdbuf();
    if (limits.max_instructions < hook_interval)
        return status{errc::invalid_argument, "--transform-max-instructions must be at least " + std::to_string(hook_interval)};
    if (limits.max_memory < (1u << 20)) return status{errc::invalid_argument, "--transform-max-memory-mb must be at least 1"};
    std::unique_ptr<lua_transform> t(new lua_transform(path, text.str(), limits));
    SYNCLINE_RETURN_IF_ERROR(t->open_state());
    return t;
}

status lua_transform::open_state() {
    _state.reset();
    auto s = std::make_unique<state>();
    s->cap = _limits.max_memory;
    s->budget = _limits.max_instructions;
    s->L = lua_newstate(&state::alloc, s.get());
    if (s->L == nullptr) return status{errc::invalid_argument, "--transform: cannot create a Lua state"};
    lua_State* L = s->L;
    // The sandbox: safe libraries only, and the unsafe parts of base and string removed.
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},        {LUA_TABLIBNAME, luaopen_table},
                                    {LUA_STRLIBNAME, luaopen_string}, {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_UTF8LIBNAME, luaopen_utf8}};
    for (const auto& lib : libs) {
        luaL_requiref(L, lib.name, lib.func, 1);
        lua_pop(L, 1);
    }
    for (const char* name : {"dofile", "loadfile", "load", "collectgarbage", "print", "require", "loadstring"}) {
        lua_pushnil(L);
        lua_setglobal(L, name);
    }
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, &state::safe_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    // package.loaded would still reach the loaded libraries; nothing else is there to reach.
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);

    lua_createtable(L, 0, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "__syncline_array");
    s->array_mt = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, &state::rec_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, &state::rec_newindex);
    lua_setfield(L, -2, "__newindex");
    s->rec_mt = luaL_ref(L, LUA_REGISTRYINDEX);

    auto fail = [&](const std::string& why) {
        return status{errc::invalid_argument, "--transform " + _path + ": " + why};
    };
    const std::string chunk = "@" + _path;
    if (luaL_loadbufferx(L, _source.data(), _source.size(), chunk.c_str(), "t") != LUA_OK)
        return fail(lua_tostring(L, -1) ? lua_tostring(L, -1) : "cannot load");
    s->arm_budget();
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        std::string why = lua_tostring(L, -1) ? lua_tostring(L, -1) : "error";
        if (s->memory_hit) why += " (memory cap " + std::to_string(_limits.max_memory >> 20) + " MiB)";
        return fail(why);
    }
    lua_getglobal(L, "transform");
    const bool is_function = lua_type(L, -1) == LUA_TFUNCTION;
    lua_pop(L, 1);
    if (!is_function) return fail("defines no function transform(rec)");
    _state = std::move(s);
    return {};
}

lua_transform::outcome lua_transform::apply(const record_view& in) {
    ++_calls;
    outcome out;
    auto failed = [&](std::string why) {
        out.what = outcome::kind::failed;
        out.records.clear();
        out.error = "transform: " + std::move(why);
        return out;
    };
    if (!_state) {
        if (status s = open_state(); !s.ok()) return failed("the script cannot be reloaded: " + s.message());
    }
    state& s = *_state;
    lua_State* L = s.L;
    lua_settop(L, 0);
    s.in = &in;
    s.value_decoded = false;
    s.value_assigned = false;
    s.parsed = nullptr;
    s.original_encoding.clear();
    s.arm_budget();
    lua_pushcfunction(L, &state::protected_call);
    const int rc = lua_pcall(L, 0, 2, 0);
    // The hook stays armed: finalizers that the collector runs between calls stay bounded too.
    if (rc != LUA_OK) {
        std::string why = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error object is not a string";
        if (s.memory_hit) why += " (memory cap of " + std::to_string(_limits.max_memory >> 20) + " MiB per state)";
        const bool rebuild = s.budget_hit || s.memory_hit;
        s.in = nullptr;
        lua_settop(L, 0);
        if (rebuild) _state.reset();  // Reloaded on the next call: nothing of the runaway call survives.
        return failed(std::move(why));
    }
    // Stack: 1 = rec, 2 = result.
    const int rec = 1;
    const int result = 2;
    std::string why;
    auto read_record = [&](int table, record& r, bool& same_as_source) -> bool {
        same_as_source = true;
        if (!string_field(L, table, "collection", in.collection, r.collection, why)) return false;
        if (!string_field(L, table, "key", in.key, r.key, why)) return false;
        std::string op_text;
        if (!string_field(L, table, "op", op_name(in.operation), op_text, why)) return false;
        if (op_text == "upsert") r.operation = op::upsert;
        else if (op_text == "delete") r.operation = op::del;
        else return why = "field 'op' is '" + op_text + "', not upsert or delete", false;
        if (r.collection.empty()) return why = "field 'collection' is empty", false;
        if (r.key.empty()) return why = "field 'key' is empty", false;
        same_as_source = r.collection == in.collection && r.key == in.key && r.operation == in.operation;
        r.offset = in.offset;
        r.ts_ms = in.ts_ms;
        // value
        const bool is_rec = lua_rawequal(L, table, rec) != 0;
        lua_pushstring(L, "value");
        const int vt = lua_rawget(L, table);
        if (vt == LUA_TNIL) {
            if (is_rec && s.value_assigned && !(in.operation == op::del && in.value.empty())) {
                same_as_source = false;  // rec.value = nil
            } else {
                r.value.assign(in.value);
            }
        } else if (vt == LUA_TSTRING) {
            std::size_t len = 0;
            const char* v = lua_tolstring(L, -1, &len);
            r.value.assign(v, len);
            if (r.value != in.value) same_as_source = false;
        } else {
            json j;
            if (!to_json(L, -1, 0, j, why)) {
                lua_pop(L, 1);
                why = "field 'value': " + why;
                return false;
            }
            std::string text = j.dump();
            if (s.value_decoded && text == s.original_encoding) {
                r.value.assign(in.value);  // Untouched: the stored bytes, not a re-encoding.
            } else {
                r.value = std::move(text);
                same_as_source = false;
            }
        }
        lua_pop(L, 1);
        if (r.operation == op::del && !r.value.empty() && r.operation != in.operation) r.value.clear();
        // headers: name -> value
        lua_pushstring(L, "headers");
        const int ht = lua_rawget(L, table);
        std::map<std::string, std::string> source_headers;
        for (const auto& [k, v] : in.headers) source_headers[std::string(k)] = std::string(v);
        if (ht == LUA_TNIL) {
            for (const auto& [k, v] : in.headers) r.headers.emplace_back(k, v);
        } else if (ht == LUA_TTABLE) {
            std::map<std::string, std::string> got;
            lua_pushnil(L);
            while (lua_next(L, -2) != 0) {
                if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
                    lua_pop(L, 3);
                    return why = "field 'headers' must map strings to strings", false;
                }
                std::size_t kl = 0, vl = 0;
                const char* k = lua_tolstring(L, -2, &kl);
                const char* v = lua_tolstring(L, -1, &vl);
                got[std::string(k, kl)] = std::string(v, vl);
                lua_pop(L, 1);
            }
            if (got == source_headers) {  // Unchanged (repeated names included): as stored.
                for (const auto& [k, v] : in.headers) r.headers.emplace_back(k, v);
            } else {
                for (auto& [k, v] : got) r.headers.emplace_back(k, v);
                same_as_source = false;
            }
        } else {
            lua_pop(L, 1);
            return why = "field 'headers' is a " + std::string(lua_typename(L, ht)) + ", not a table", false;
        }
        lua_pop(L, 1);
        return true;
    };

    const int rt = lua_type(L, result);
    if (rt == LUA_TNIL) {
        out.what = outcome::kind::replaced;  // Dropped.
    } else if (rt != LUA_TTABLE) {
        s.in = nullptr;
        return failed(std::string("transform returned a ") + lua_typename(L, rt) + " (a record, a list of records or nil)");
    } else if (lua_rawlen(L, result) > 0) {
        const auto n = static_cast<lua_Integer>(lua_rawlen(L, result));
        if (n > 1000) {
            s.in = nullptr;
            return failed("transform returned " + std::to_string(n) + " records (at most 1000 per record)");
        }
        out.what = outcome::kind::replaced;
        for (lua_Integer i = 1; i <= n; ++i) {
            if (lua_rawgeti(L, result, i) != LUA_TTABLE) {
                s.in = nullptr;
                return failed("transform returned a list whose item " + std::to_string(i) + " is not a record");
            }
            record r;
            bool same = false;
            if (!read_record(lua_gettop(L), r, same)) {
                s.in = nullptr;
                return failed("record " + std::to_string(i) + " returned: " + why);
            }
            lua_pop(L, 1);
            out.records.push_back(std::move(r));
        }
    } else {
        record r;
        bool same = false;
        if (!read_record(result, r, same)) {
            s.in = nullptr;
            return failed("returned record: " + why);
        }
        if (same) {
            out.what = outcome::kind::unchanged;
        } else {
            out.what = outcome::kind::replaced;
            out.records.push_back(std::move(r));
        }
    }
    s.in = nullptr;
    lua_settop(L, 0);
    return out;
}

}  // namespace syncline::workers
