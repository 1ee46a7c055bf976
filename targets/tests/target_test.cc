// open_target: URI dispatch and its errors; the null target.
#include <filesystem>

#include <gtest/gtest.h>

#include "targets/target.h"
#include "targets/internal/uri.h"
#include "targets/tests/test_util.h"

namespace syncline::targets {
namespace {

using testing::temp_dir;

void expect_invalid(const std::string& uri) {
    auto t = open_target(uri);
    ASSERT_FALSE(t.ok()) << uri;
    EXPECT_EQ(t.get_status().code(), errc::invalid_argument) << uri;
    // The message names the URI and lists what is supported.
    EXPECT_NE(t.get_status().message().find(uri), std::string::npos) << t.get_status().message();
    EXPECT_NE(t.get_status().message().find("sqlite:PATH"), std::string::npos) << t.get_status().message();
    EXPECT_NE(t.get_status().message().find("jsonl:PATH"), std::string::npos) << t.get_status().message();
    EXPECT_NE(t.get_status().message().find("null:"), std::string::npos) << t.get_status().message();
}

TEST(open_target, rejects_unknown_and_malformed_uris) {
    expect_invalid("");
    expect_invalid("no-scheme-here");
    expect_invalid("mongodb://localhost/db");
    expect_invalid("postgresql:db");  // A known scheme in a form it does not take.
    expect_invalid("sqlite:");
    expect_invalid("jsonl:");
    expect_invalid("null:something");
    expect_invalid("sqlite:/tmp/x.db?synchronous=sometimes");
    expect_invalid("sqlite:/tmp/x.db?busy_timeout_ms=abc");
    expect_invalid("sqlite:/tmp/x.db?wal_autocheckpoint=5");
    expect_invalid("sqlite:/tmp/x.db?journal=delete");
    expect_invalid("sqlite:/tmp/x.db?synchronous");
    expect_invalid("jsonl:/tmp/x.jsonl?fsync=0");
}

TEST(open_target, missing_directory_is_invalid_argument_naming_the_path) {
    temp_dir dir;
    for (std::string scheme : {"sqlite:", "jsonl:"}) {
        std::string path = dir.file("no/such/dir/file");
        auto t = open_target(scheme + path);
        ASSERT_FALSE(t.ok());
        EXPECT_EQ(t.get_status().code(), errc::invalid_argument);
        EXPECT_NE(t.get_status().message().find(path), std::string::npos) << t.get_status().message();
    }
}

TEST(open_target, opens_each_scheme) {
    temp_dir dir;
    EXPECT_TRUE(open_target("sqlite:" + dir.file("a.db")).ok());
    EXPECT_TRUE(open_target("sqlite://" + dir.file("b.db") + "?synchronous=normal&busy_timeout_ms=100").ok());
    EXPECT_TRUE(open_target("jsonl:" + dir.file("a.jsonl")).ok());
    EXPECT_TRUE(open_target("null:").ok());
}

TEST(check_target_uri, validates_without_creating_anything) {
    temp_dir dir;
    const std::string db = (dir.path() / "t.db").string();
    EXPECT_TRUE(check_target_uri("sqlite:" + db).ok());
    EXPECT_FALSE(std::filesystem::exists(db));
    EXPECT_EQ(check_target_uri("sqlite:" + db + "?synchronous=off").code(), errc::invalid_argument);
    EXPECT_EQ(check_target_uri("jsonl:" + (dir.path() / "x").string() + "?a=b").code(), errc::invalid_argument);
    EXPECT_EQ(check_target_uri("nosuch:x").code(), errc::invalid_argument);
    // The first problem is reported, not the options a failed parser never got to.
    auto bad_sync = check_target_uri("sqlite:" + db + "?synchronous=off&busy_timeout_ms=5");
    EXPECT_NE(bad_sync.message().find("synchronous must be"), std::string::npos) << bad_sync.message();
}

TEST(null_target, discards_and_cannot_be_read_back) {
    auto t = open_target("null:");
    ASSERT_TRUE(t.ok());
    std::vector<record> rs{testing::upsert(1, "c", "k", "{}")};
    auto v = testing::views(rs);
    auto out = (*t)->deliver(v);
    EXPECT_TRUE(out.transient.ok());
    EXPECT_TRUE(out.failures.empty());
    auto st = (*t)->read_state();
    ASSERT_TRUE(st.ok());
    EXPECT_FALSE(st->has_value());
}


// The registry is the one source of dispatch and help: every scheme it lists is dispatched to its
// own kind, and every kind appears in the generated help (the old hand-written copies lacked mysql).
TEST(target_registry, every_scheme_dispatches_and_every_kind_is_in_the_help) {
    const std::string help = target_uri_help();
    const std::string state_help = target_uri_help(/*verifiable_only=*/true);
    // The core kinds, and those of the build switches this build has (cmake/syncline.cmake).
    const unsigned built_kinds = 4 + SYNCLINE_WITH_POSTGRES + SYNCLINE_WITH_MYSQL + SYNCLINE_WITH_REDIS +
                                 SYNCLINE_WITH_NATS + SYNCLINE_WITH_AMQP + 4 * SYNCLINE_WITH_HTTP;
    ASSERT_GE(target_kinds().size(), built_kinds);
    for (const target_kind& kind : target_kinds()) {
        EXPECT_NE(help.find(kind.synopsis), std::string::npos) << kind.name;
        EXPECT_EQ(state_help.find(kind.synopsis) != std::string::npos, kind.capabilities.verifiable) << kind.name;
        ASSERT_FALSE(kind.schemes.empty()) << kind.name;
        for (std::string_view scheme : kind.schemes) {
            const target_kind* found = find_target_kind(std::string(scheme) + "://x/y");
            ASSERT_NE(found, nullptr) << scheme;
            EXPECT_EQ(found->name, kind.name) << scheme;
            // An unknown-option error lists every kind's synopsis (generated from the same rows).
            auto checked = check_target_uri(std::string(scheme) + "://h/p?surely_not_an_option=1");
            EXPECT_FALSE(checked.ok()) << scheme;
        }
        if (kind.capabilities.fenced_state) {
            EXPECT_TRUE(kind.capabilities.verifiable) << kind.name;
        }
    }
    if (SYNCLINE_WITH_MYSQL) {
        EXPECT_NE(help.find("mysql|mariadb://"), std::string::npos);
    }
    EXPECT_EQ(find_target_kind("mongodb://h/db"), nullptr);
    EXPECT_EQ(find_target_kind("no-scheme"), nullptr);
    if (SYNCLINE_WITH_HTTP) {
        EXPECT_FALSE(find_target_kind("https://h/hook")->capabilities.joins_batches);
    }
    EXPECT_TRUE(find_target_kind("sqlite:/tmp/x.db")->capabilities.joins_batches);
    EXPECT_EQ(find_target_kind("rocksdb:/tmp/m")->capabilities.max_writers, 1u);
    EXPECT_EQ(find_target_kind("sqlite:/tmp/x.db")->capabilities.max_writers, 1u);
    const auto unknown = check_target_uri("mongodb://h/db");
    for (const target_kind& kind : target_kinds())
        EXPECT_NE(unknown.message().find(kind.synopsis), std::string::npos) << kind.name;
}

// A kind whose build switch was OFF is not in the registry, and its URI is refused naming the
// switch; a kind built in has no switch to name. Holds in the full and in the minimal build.
TEST(target_registry, a_kind_left_out_of_the_build_is_refused_naming_its_switch) {
    struct switched {
        const char* uri;
        std::string_view build_switch;
        bool built;
    };
    const switched kinds[] = {
        {"postgresql://u@h/db", "SYNCLINE_WITH_POSTGRES", SYNCLINE_WITH_POSTGRES != 0},
        {"mariadb://u@h/db", "SYNCLINE_WITH_MYSQL", SYNCLINE_WITH_MYSQL != 0},
        {"redis://h", "SYNCLINE_WITH_REDIS", SYNCLINE_WITH_REDIS != 0},
        {"nats://h/p", "SYNCLINE_WITH_NATS", SYNCLINE_WITH_NATS != 0},
        {"amqp://h/x", "SYNCLINE_WITH_AMQP", SYNCLINE_WITH_AMQP != 0},
        {"https://h/hook", "SYNCLINE_WITH_HTTP", SYNCLINE_WITH_HTTP != 0},
        {"smtps://h?from=a@b.c&to=d@e.f", "SYNCLINE_WITH_HTTP", SYNCLINE_WITH_HTTP != 0},
        {"apns://topic", "SYNCLINE_WITH_HTTP", SYNCLINE_WITH_HTTP != 0},
    };
    for (const switched& kind : kinds) {
        if (kind.built) {
            EXPECT_TRUE(target_build_switch(kind.uri).empty()) << kind.uri;
            EXPECT_NE(find_target_kind(kind.uri), nullptr) << kind.uri;
            continue;
        }
        EXPECT_EQ(target_build_switch(kind.uri), kind.build_switch) << kind.uri;
        EXPECT_EQ(find_target_kind(kind.uri), nullptr) << kind.uri;
        const status refused = check_target_uri(kind.uri);
        EXPECT_EQ(refused.code(), errc::invalid_argument) << kind.uri;
        EXPECT_NE(refused.message().find("-D" + std::string(kind.build_switch) + "=ON"), std::string::npos)
            << refused.message();
        EXPECT_EQ(open_target(kind.uri).get_status().message(), refused.message());
    }
    EXPECT_TRUE(target_build_switch("sqlite:/tmp/x.db").empty());
    EXPECT_TRUE(target_build_switch("mongodb://h/db").empty());
    EXPECT_TRUE(target_build_switch("").empty());
}

}  // namespace
}  // namespace syncline::targets

namespace syncline::targets::internal {
namespace {

TEST(uri_options, takes_known_options_and_names_the_first_unknown_one) {
    uri_options o("x://h/db?a=1&flag=yes&name=%41b&extra=z", "help text");
    ASSERT_TRUE(o.parse("a=1&flag=yes&name=%41b&extra=z").ok());
    EXPECT_EQ(o.take_uint("a", 7, 0, 10).value(), 1u);
    EXPECT_EQ(o.take_uint("absent", 7, 0, 10).value(), 7u);
    EXPECT_TRUE(o.take_bool("flag", false).value());
    EXPECT_EQ(o.take("name"), "Ab");
    auto unknown = o.reject_unknown();
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.message().find("unknown option 'extra'"), std::string::npos) << unknown.message();
    EXPECT_NE(unknown.message().find("help text"), std::string::npos) << unknown.message();
}

TEST(uri_options, rejects_out_of_range_duplicates_and_bad_escapes) {
    uri_options range("u", "h");
    ASSERT_TRUE(range.parse("n=11").ok());
    EXPECT_FALSE(range.take_uint("n", 0, 0, 10).ok());
    EXPECT_FALSE(uri_options("u", "h").parse("n=1&n=2").ok());
    EXPECT_FALSE(uri_options("u", "h").parse("n=%4").ok());
    EXPECT_FALSE(uri_options("u", "h").parse("novalue").ok());
    uri_options b("u", "h");
    ASSERT_TRUE(b.parse("f=maybe").ok());
    EXPECT_FALSE(b.take_bool("f", true).ok());
}

TEST(split_uri, accepts_both_spellings) {
    auto a = split_uri("postgresql://u@h:5432/db?schema=s");
    EXPECT_EQ(a.scheme, "postgresql");
    EXPECT_TRUE(a.had_slashes);
    EXPECT_EQ(a.path, "u@h:5432/db");
    EXPECT_EQ(a.query, "schema=s");
    auto b = split_uri("sqlite:x.db");
    EXPECT_EQ(b.path, "x.db");
    EXPECT_FALSE(b.had_slashes);
}

}  // namespace
}  // namespace syncline::targets::internal
