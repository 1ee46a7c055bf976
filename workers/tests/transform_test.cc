// The Lua transform in-process: outputs, bytes kept exact, the sandbox and the budgets, and
// every shipped example (examples/transforms/).
#include "workers/transform.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace syncline::workers {
namespace {

namespace fs = std::filesystem;
using kind = lua_transform::outcome::kind;

class transform_test : public ::testing::Test {
protected:
    void SetUp() override {
        dir = fs::temp_directory_path() / ("syncline-transform-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir);
    }
    void TearDown() override { fs::remove_all(dir); }

    std::unique_ptr<lua_transform> load(const std::string& script, transform_limits limits = {}) {
        const auto path = (dir / "t.lua").string();
        std::ofstream(path) << script;
        auto t = lua_transform::load(path, limits);
        EXPECT_TRUE(t.ok()) << t.get_status().message();
        return t.ok() ? std::move(t.value()) : nullptr;
    }
    status load_error(const std::string& script) {
        const auto path = (dir / "bad.lua").string();
        std::ofstream(path) << script;
        auto t = lua_transform::load(path);
        return t.ok() ? status{} : t.get_status();
    }
    static std::unique_ptr<lua_transform> example(const std::string& name) {
        auto t = lua_transform::load(std::string(SYNCLINE_EXAMPLES_DIR) + "/transforms/" + name);
        EXPECT_TRUE(t.ok()) << t.get_status().message();
        return t.ok() ? std::move(t.value()) : nullptr;
    }

    static record_view view(std::string_view collection, std::string_view key, std::string_view value,
                            op o = op::upsert, std::uint64_t offset = 7) {
        record_view r;
        r.offset = offset;
        r.ts_ms = 1700000000000;
        r.collection = collection;
        r.key = key;
        r.operation = o;
        r.value = value;
        return r;
    }

    fs::path dir;
};

TEST_F(transform_test, returning_rec_untouched_keeps_the_view_even_after_reading_the_value) {
    auto t = load("function transform(rec) local x = rec.value.a; local y = rec.key; return rec end");
    ASSERT_TRUE(t);
    const std::string odd = R"({"b": [ ],  "a":1.50, "n": null, "u": 18446744073709551615})";
    auto out = t->apply(view("c", "k", odd));
    EXPECT_EQ(out.what, kind::unchanged) << out.error;
}

TEST_F(transform_test, a_changed_value_is_re_encoded_and_the_rest_kept) {
    auto t = load("function transform(rec) rec.value.email = 'x'; return rec end");
    ASSERT_TRUE(t);
    auto out = t->apply(view("users", "u1", R"({"name":"Jo","email":"jo@example.com","tags":[],"n":null})"));
    ASSERT_EQ(out.what, kind::replaced) << out.error;
    ASSERT_EQ(out.records.size(), 1u);
    EXPECT_EQ(out.records[0].value, R"({"email":"x","n":null,"name":"Jo","tags":[]})");
    EXPECT_EQ(out.records[0].collection, "users");
    EXPECT_EQ(out.records[0].key, "u1");
    EXPECT_EQ(out.records[0].offset, 7u);
}

TEST_F(transform_test, nil_drops_and_a_list_splits_with_the_source_offset) {
    auto t = load(R"(
function transform(rec)
  if rec.key == "drop" then return nil end
  return { rec, { collection = "copy", key = rec.key .. "-2", value = "plain" }, { op = "delete" } }
end)");
    ASSERT_TRUE(t);
    auto dropped = t->apply(view("c", "drop", "{}"));
    EXPECT_EQ(dropped.what, kind::replaced);
    EXPECT_TRUE(dropped.records.empty());
    const std::string value = R"({ "a" : 1 })";
    auto split = t->apply(view("c", "k", value, op::upsert, 42));
    ASSERT_EQ(split.what, kind::replaced) << split.error;
    ASSERT_EQ(split.records.size(), 3u);
    EXPECT_EQ(split.records[0].value, value);
    EXPECT_EQ(split.records[1].collection, "copy");
    EXPECT_EQ(split.records[1].key, "k-2");
    EXPECT_EQ(split.records[1].value, "plain");
    EXPECT_EQ(split.records[2].operation, op::del);
    EXPECT_EQ(split.records[2].value, "");
    for (const auto& r : split.records) EXPECT_EQ(r.offset, 42u);
}

TEST_F(transform_test, headers_unchanged_stay_as_stored_and_changed_ones_are_rebuilt) {
    auto t = load("function transform(rec) if rec.headers.b == 'add' then rec.headers.c = '4' end return rec end");
    ASSERT_TRUE(t);
    record_view r = view("c", "k", "{}");
    r.headers = {{"a", "1"}, {"a", "2"}, {"b", "3"}};
    EXPECT_EQ(t->apply(r).what, kind::unchanged);
    r.headers = {{"b", "add"}, {"a", "1"}};
    auto out = t->apply(r);
    ASSERT_EQ(out.records.size(), 1u) << out.error;
    EXPECT_EQ(out.records[0].headers, (header_list{{"a", "1"}, {"b", "add"}, {"c", "4"}}));
}

TEST_F(transform_test, json_lua_cannot_round_trip_stays_a_string) {
    auto t = load("function transform(rec) rec.headers.t = type(rec.value) return rec end");
    ASSERT_TRUE(t);
    auto out = t->apply(view("c", "k", R"({"big": 1e400})"));
    ASSERT_EQ(out.records.size(), 1u) << out.error;
    EXPECT_EQ(out.records[0].value, R"({"big": 1e400})");
    EXPECT_EQ(out.records[0].headers, (header_list{{"t", "string"}}));
}

TEST_F(transform_test, a_value_that_is_not_json_is_a_string) {
    auto t = load("function transform(rec) rec.value = string.upper(rec.value); return rec end");
    ASSERT_TRUE(t);
    auto out = t->apply(view("c", "k", "hello"));
    ASSERT_EQ(out.records.size(), 1u);
    EXPECT_EQ(out.records[0].value, "HELLO");
}

TEST_F(transform_test, the_sandbox_has_no_os_io_require_load_or_debug) {
    for (const std::string body : {"os.execute('touch /tmp/x')", "io.open('/etc/passwd')", "require('socket')",
                                   "load('return 1')()", "debug.sethook()", "dofile('/etc/passwd')",
                                   "package.loadlib('x', 'y')", "string.dump(transform)"}) {
        auto t = load("function transform(rec)\n  " + body + "\n  return rec\nend\n");
        ASSERT_TRUE(t);
        auto out = t->apply(view("c", "k", "{}"));
        ASSERT_EQ(out.what, kind::failed) << body;
        EXPECT_NE(out.error.find("t.lua:2:"), std::string::npos) << out.error;
        EXPECT_NE(out.error.find("nil value"), std::string::npos) << out.error;
        EXPECT_EQ(t->apply(view("c", "k", "{}")).what, kind::failed);  // And stays so.
    }
}

TEST_F(transform_test, a_runaway_loop_hits_the_instruction_budget_even_under_pcall) {
    auto t = load(R"(
function transform(rec)
  if rec.key == "loop" then while true do end end
  if rec.key == "sneaky" then while true do pcall(function() while true do end end) end end
  return rec
end)", {.max_instructions = 100'000});
    ASSERT_TRUE(t);
    for (const char* key : {"loop", "sneaky"}) {
        auto out = t->apply(view("c", key, "{}"));
        ASSERT_EQ(out.what, kind::failed) << key;
        EXPECT_NE(out.error.find("instruction budget"), std::string::npos) << out.error;
        EXPECT_EQ(t->apply(view("c", "ok", "{}")).what, kind::unchanged);  // The next record goes through.
    }
}

TEST_F(transform_test, endless_allocation_hits_the_memory_cap_and_the_state_is_rebuilt) {
    auto t = load(R"(
hoard = {}
function transform(rec)
  if rec.key == "bomb" then
    local s = "x"
    while true do s = s .. s; hoard[#hoard + 1] = s end
  end
  return rec
end)", {.max_instructions = 100'000'000, .max_memory = 8u << 20});
    ASSERT_TRUE(t);
    auto out = t->apply(view("c", "bomb", "{}"));
    ASSERT_EQ(out.what, kind::failed);
    EXPECT_NE(out.error.find("not enough memory"), std::string::npos) << out.error;
    EXPECT_NE(out.error.find("memory cap"), std::string::npos) << out.error;
    EXPECT_EQ(t->apply(view("c", "ok", "{}")).what, kind::unchanged);
}

// Lua runs finalizers with hooks off, so a looping __gc would escape the budget: refused.
TEST_F(transform_test, a_finalizer_is_refused) {
    auto t = load(R"(
function transform(rec)
  setmetatable({}, { __gc = function() while true do end end })
  return rec
end)", {.max_instructions = 100'000});
    ASSERT_TRUE(t);
    auto out = t->apply(view("c", "k", "{}"));
    ASSERT_EQ(out.what, kind::failed);
    EXPECT_NE(out.error.find("t.lua:3: setmetatable: __gc is not allowed"), std::string::npos) << out.error;
    EXPECT_NE(load_error("setmetatable({}, { __gc = tostring })\nfunction transform(r) return r end").message().find("__gc"),
              std::string::npos);
    // An ordinary metatable still works.
    auto plain = load("local mt = { __index = function() return 1 end }\n"
                      "function transform(rec) local x = setmetatable({}, mt).y; return rec end");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->apply(view("c", "k", "{}")).what, kind::unchanged);
}

TEST_F(transform_test, bad_returns_fail_the_record_with_a_reason) {
    auto t = load(R"(
function transform(rec)
  if rec.key == "n" then return 5 end
  if rec.key == "op" then rec.op = "merge" return rec end
  if rec.key == "fn" then rec.value = { f = print or tostring } return rec end
  if rec.key == "cycle" then local a = {} a.a = a rec.value = a return rec end
  if rec.key == "empty" then rec.key = "" return rec end
  error("boom")
end)");
    ASSERT_TRUE(t);
    const std::pair<const char*, const char*> cases[] = {{"n", "returned a number"},   {"op", "not upsert or delete"},
                                                         {"fn", "function where JSON"}, {"cycle", "nested deeper"},
                                                         {"empty", "'key' is empty"},  {"x", "t.lua:8: boom"}};
    for (const auto& [key, why] : cases) {
        auto out = t->apply(view("c", key, "{}"));
        ASSERT_EQ(out.what, kind::failed) << key;
        EXPECT_NE(out.error.find(why), std::string::npos) << key << ": " << out.error;
    }
}

TEST_F(transform_test, scripts_that_do_not_load_are_config_errors) {
    EXPECT_NE(load_error("function transform(rec)\n  return rec\nedn\n").message().find("bad.lua:3:"), std::string::npos);
    EXPECT_NE(load_error("x = 1\n").message().find("defines no function transform"), std::string::npos);
    EXPECT_NE(load_error("while true do end\n").message().find("instruction budget"), std::string::npos);
    EXPECT_NE(load_error("error('no config')\n").message().find("bad.lua:1: no config"), std::string::npos);
    EXPECT_EQ(load_error("\x1bLua").code(), errc::invalid_argument);  // Bytecode is refused.
    auto missing = lua_transform::load((dir / "none.lua").string());
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.get_status().message().find("cannot read"), std::string::npos);
}

// ---- The shipped examples ----

TEST_F(transform_test, example_mask_email) {
    auto t = example("mask_email.lua");
    ASSERT_TRUE(t);
    auto out = t->apply(view("users", "u1", R"({"email":"jane.doe@example.com","id":1})"));
    ASSERT_EQ(out.records.size(), 1u) << out.error;
    EXPECT_EQ(out.records[0].value, R"({"email":"j***@example.com","id":1})");
    EXPECT_EQ(t->apply(view("users", "u2", R"({"id": 2})")).what, kind::unchanged);
}

TEST_F(transform_test, example_drop_collection) {
    auto t = example("drop_collection.lua");
    ASSERT_TRUE(t);
    auto out = t->apply(view("audit", "a1", "{}"));
    EXPECT_EQ(out.what, kind::replaced);
    EXPECT_TRUE(out.records.empty());
    EXPECT_EQ(t->apply(view("users", "u1", "{}")).what, kind::unchanged);
}

TEST_F(transform_test, example_rename_fields) {
    auto t = example("rename_fields.lua");
    ASSERT_TRUE(t);
    auto out = t->apply(view("people", "p1", R"({"fname":"Ada","lname":"Lovelace","age":36})"));
    ASSERT_EQ(out.records.size(), 1u) << out.error;
    EXPECT_EQ(out.records[0].value, R"({"age":36,"first_name":"Ada","last_name":"Lovelace"})");
}

TEST_F(transform_test, example_route_by_field) {
    auto t = example("route_by_field.lua");
    ASSERT_TRUE(t);
    const std::string value = R"({"region": "eu", "total": 12})";
    auto out = t->apply(view("orders", "o1", value));
    ASSERT_EQ(out.records.size(), 2u) << out.error;
    EXPECT_EQ(out.records[0].collection, "orders");
    EXPECT_EQ(out.records[1].collection, "orders_eu");
    EXPECT_EQ(out.records[1].key, "o1");
    EXPECT_EQ(out.records[0].value, value);
    EXPECT_EQ(out.records[1].value, value);
    EXPECT_EQ(t->apply(view("orders", "o2", "", op::del)).what, kind::unchanged);
}

TEST_F(transform_test, example_push_message) {
    auto t = example("push_message.lua");
    ASSERT_TRUE(t);
    auto out = t->apply(view("orders", "o9", R"({"status":"shipped"})", op::upsert, 12));
    ASSERT_EQ(out.records.size(), 1u) << out.error;
    EXPECT_EQ(out.records[0].value,
              R"({"body":"Your order is shipped","data":{"offset":"12","order_id":"o9","status":"shipped"},"title":"Order o9"})");
    EXPECT_TRUE(t->apply(view("orders", "o9", "", op::del)).records.empty());
}

}  // namespace
}  // namespace syncline::workers
