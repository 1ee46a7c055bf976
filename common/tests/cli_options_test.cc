#include "common/cli_options.h"

#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/log.h"

namespace syncline::cli {
namespace {

namespace fs = std::filesystem;

class cli_options_test : public ::testing::Test {
protected:
    void SetUp() override {
        _dir = fs::temp_directory_path() /
               ("syncline-cli-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(_dir);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(_dir, ec);
        set_log_level(log_level::info);
    }

    std::string write_config(const std::string& text) {
        const fs::path p = _dir / "test.ini";
        std::ofstream(p) << text;
        return p.string();
    }

    static po::options_description options() {
        po::options_description desc("Test options");
        desc.add_options()("endpoint", po::value<std::string>()->default_value("tcp://127.0.0.1:5557"), "where")(
            "window", po::value<int>()->default_value(8), "in-flight batches")(
            "pipeline", po::value<std::string>(), "name");
        return desc;
    }

    static result<parse_outcome> run(std::vector<std::string> args,
                                     const po::positional_options_description* positional = nullptr,
                                     po::options_description desc = options()) {
        args.insert(args.begin(), "prog");
        std::vector<const char*> argv;
        for (const std::string& a : args) argv.push_back(a.c_str());
        return parse(static_cast<int>(argv.size()), argv.data(), desc, "usage: prog [options]", positional);
    }

    fs::path _dir;
};

TEST_F(cli_options_test, defaults_and_command_line) {
    auto out = run({"--window", "16", "--pipeline=orders"});
    ASSERT_TRUE(out.ok()) << out.get_status().to_string();
    EXPECT_FALSE(out->exit_now);
    EXPECT_EQ(out->values["window"].as<int>(), 16);
    EXPECT_EQ(out->values["pipeline"].as<std::string>(), "orders");
    EXPECT_EQ(out->values["endpoint"].as<std::string>(), "tcp://127.0.0.1:5557");
}

TEST_F(cli_options_test, help_and_version_exit_now) {
    ::testing::internal::CaptureStdout();
    auto help = run({"--help"});
    const std::string help_text = ::testing::internal::GetCapturedStdout();
    ASSERT_TRUE(help.ok());
    EXPECT_TRUE(help->exit_now);
    EXPECT_NE(help_text.find("usage: prog [options]"), std::string::npos);
    EXPECT_NE(help_text.find("--window"), std::string::npos);
    EXPECT_NE(help_text.find("--config"), std::string::npos);

    ::testing::internal::CaptureStdout();
    auto version = run({"--version"});
    const std::string version_text = ::testing::internal::GetCapturedStdout();
    ASSERT_TRUE(version.ok());
    EXPECT_TRUE(version->exit_now);
    EXPECT_EQ(version_text, "syncline 0.1.0\n");
}

TEST_F(cli_options_test, help_wins_over_missing_required_option) {
    po::options_description desc("Test options");
    desc.add_options()("store", po::value<std::string>()->required(), "path");
    ::testing::internal::CaptureStdout();
    auto out = run({"--help"}, nullptr, desc);
    (void)::testing::internal::GetCapturedStdout();
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(out->exit_now);
    auto missing = run({}, nullptr, desc);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.get_status().code(), errc::invalid_argument);
    EXPECT_NE(missing.get_status().message().find("store"), std::string::npos);
}

TEST_F(cli_options_test, config_file_and_command_line_precedence) {
    const std::string path = write_config("# comment\nwindow = 32\npipeline = from-file\nendpoint = ipc:///tmp/x\n");
    auto out = run({"--config", path, "--window", "4"});
    ASSERT_TRUE(out.ok()) << out.get_status().to_string();
    EXPECT_EQ(out->values["window"].as<int>(), 4);  // command line wins
    EXPECT_EQ(out->values["pipeline"].as<std::string>(), "from-file");
    EXPECT_EQ(out->values["endpoint"].as<std::string>(), "ipc:///tmp/x");  // file beats the default
}

TEST_F(cli_options_test, config_file_errors) {
    auto missing = run({"--config", (_dir / "nope.ini").string()});
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.get_status().code(), errc::invalid_argument);
    EXPECT_NE(missing.get_status().message().find("nope.ini"), std::string::npos);

    auto dir = run({"--config", _dir.string()});
    ASSERT_FALSE(dir.ok());
    EXPECT_EQ(dir.get_status().code(), errc::invalid_argument);

    auto unknown = run({"--config", write_config("colour = blue\n")});
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.get_status().code(), errc::invalid_argument);
    EXPECT_NE(unknown.get_status().message().find("colour"), std::string::npos);
    EXPECT_NE(unknown.get_status().message().find("test.ini"), std::string::npos);

    auto bad_value = run({"--config", write_config("window = many\n")});
    ASSERT_FALSE(bad_value.ok());
    EXPECT_NE(bad_value.get_status().message().find("window"), std::string::npos);
}

TEST_F(cli_options_test, bad_options_are_invalid_argument) {
    auto unknown = run({"--colour", "blue"});
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.get_status().code(), errc::invalid_argument);
    EXPECT_NE(unknown.get_status().message().find("colour"), std::string::npos);

    auto bad_int = run({"--window", "lots"});
    ASSERT_FALSE(bad_int.ok());
    EXPECT_EQ(bad_int.get_status().code(), errc::invalid_argument);
    EXPECT_NE(bad_int.get_status().message().find("window"), std::string::npos);

    auto no_value = run({"--window"});
    ASSERT_FALSE(no_value.ok());
    EXPECT_NE(no_value.get_status().message().find("window"), std::string::npos);

    auto stray = run({"positional"});
    ASSERT_FALSE(stray.ok());
    EXPECT_EQ(stray.get_status().code(), errc::invalid_argument);
}

// Boost's message formatting used to loop forever on a value holding its own placeholder.
TEST_F(cli_options_test, values_that_look_like_boost_placeholders_are_reported_verbatim) {
    for (const std::string text : {"%value%", "1%canonical_option%", "%original_token%%prefix%"}) {
        auto from_file = run({"--config", write_config("window = " + text + "\n")});
        ASSERT_FALSE(from_file.ok());
        EXPECT_NE(from_file.get_status().message().find(text), std::string::npos) << from_file.get_status().message();

        auto from_flag = run({"--window", text});
        ASSERT_FALSE(from_flag.ok());
        EXPECT_NE(from_flag.get_status().message().find(text), std::string::npos) << from_flag.get_status().message();
    }
    auto unknown_flag = run({"--%original_token%"});
    ASSERT_FALSE(unknown_flag.ok());
    EXPECT_NE(unknown_flag.get_status().message().find("%original_token%"), std::string::npos);
}

TEST_F(cli_options_test, pipeline_file_keys_are_skipped_only_in_files) {
    po::options_description pipeline_keys("pipeline file");
    pipeline_keys.add_options()("workers", po::value<int>(), "n")("window", po::value<int>(), "n");
    std::vector<std::string> args = {"prog", "--config", write_config("window = 4\nworkers = 3\n")};
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    auto from_file = parse(static_cast<int>(argv.size()), argv.data(), options(), "usage", nullptr, &pipeline_keys);
    ASSERT_TRUE(from_file.ok()) << from_file.get_status().to_string();
    EXPECT_EQ(from_file->values["window"].as<int>(), 4);  // Its own key is still read.
    EXPECT_EQ(from_file->values.count("workers"), 0u);

    args = {"prog", "--workers", "3"};
    argv.clear();
    for (const std::string& a : args) argv.push_back(a.c_str());
    EXPECT_FALSE(parse(static_cast<int>(argv.size()), argv.data(), options(), "usage", nullptr, &pipeline_keys).ok());

    args = {"prog", "--config", write_config("wrokers = 3\n")};  // A typo is no pipeline key.
    argv.clear();
    for (const std::string& a : args) argv.push_back(a.c_str());
    auto typo = parse(static_cast<int>(argv.size()), argv.data(), options(), "usage", nullptr, &pipeline_keys);
    ASSERT_FALSE(typo.ok());
    EXPECT_NE(typo.get_status().message().find("wrokers"), std::string::npos);
}

TEST_F(cli_options_test, positional_arguments) {
    po::positional_options_description pos;
    pos.add("pipeline", 1);
    auto out = run({"orders", "--window", "2"}, &pos);
    ASSERT_TRUE(out.ok()) << out.get_status().to_string();
    EXPECT_EQ(out->values["pipeline"].as<std::string>(), "orders");
}

TEST_F(cli_options_test, log_level) {
    logger log("test");
    auto out = run({"--log-level", "debug"});
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(log.enabled(log_level::debug));
    out = run({"--log-level", "error"});
    ASSERT_TRUE(out.ok());
    EXPECT_FALSE(log.enabled(log_level::warn));
    auto bad = run({"--log-level", "loud"});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.get_status().code(), errc::invalid_argument);
    EXPECT_NE(bad.get_status().message().find("--log-level"), std::string::npos);
}

TEST_F(cli_options_test, component_may_declare_general_option_itself) {
    po::options_description desc("Test options");
    desc.add_options()("config", po::value<std::string>(), "own config");
    auto out = run({"--version"}, nullptr, desc);
    ASSERT_TRUE(out.ok()) << out.get_status().to_string();
}

// Scoped SYNCLINE_* variables, so one test's environment never leaks into the next.
class scoped_env {
public:
    scoped_env(std::string name, const std::string& value) : _name(std::move(name)) {
        ::setenv(_name.c_str(), value.c_str(), 1);
    }
    ~scoped_env() { ::unsetenv(_name.c_str()); }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    std::string _name;
};

TEST_F(cli_options_test, precedence_flag_then_env_then_file_then_default) {
    const std::string path = write_config("window = 32\npipeline = from-file\n");
    scoped_env window("SYNCLINE_WINDOW", "16");
    scoped_env pipeline("SYNCLINE_PIPELINE", "from-env");
    auto out = run({"--config", path, "--window", "4"});
    ASSERT_TRUE(out.ok()) << out.get_status().to_string();
    EXPECT_EQ(out->values["window"].as<int>(), 4);
    EXPECT_EQ(out->origins.at("window").source, value_source::command_line);
    EXPECT_EQ(out->values["pipeline"].as<std::string>(), "from-env");
    EXPECT_EQ(out->origins.at("pipeline").source, value_source::environment);
    EXPECT_EQ(out->origins.at("pipeline").where, "SYNCLINE_PIPELINE");
    EXPECT_EQ(out->origins.at("endpoint").source, value_source::default_value);

    auto without_flag = run({"--config", path});
    ASSERT_TRUE(without_flag.ok());
    EXPECT_EQ(without_flag->values["window"].as<int>(), 16);  // env beats the file
}

TEST_F(cli_options_test, config_file_from_the_environment) {
    scoped_env config("SYNCLINE_CONFIG", write_config("window = 32\n"));
    auto out = run({});
    ASSERT_TRUE(out.ok()) << out.get_status().to_string();
    EXPECT_EQ(out->values["window"].as<int>(), 32);
    EXPECT_EQ(out->origins.at("window").where, (_dir / "test.ini").string() + ":1");
}

TEST_F(cli_options_test, bad_environment_value_names_the_variable) {
    scoped_env window("SYNCLINE_WINDOW", "lots");
    auto out = run({});
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.get_status().code(), errc::invalid_argument);
    EXPECT_EQ(out.get_status().message().rfind("SYNCLINE_WINDOW: key 'window': ", 0), 0u) << out.get_status().message();
    EXPECT_FALSE(run({"--window", "3"}).ok()) << "the flag wins, but a bad variable is still reported";
}

TEST_F(cli_options_test, config_file_errors_name_file_line_and_key) {
    const std::string path = write_config("# header\n\nwindow = 8\nwindwo = 9\n");
    auto out = run({"--config", path});
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.get_status().message(), path + ":4: key 'windwo': unknown key (did you mean 'window'?)");

    const std::string twice = write_config("window = 8\n[x]\ny = 1\n");
    auto section = run({"--config", twice});
    ASSERT_FALSE(section.ok());
    EXPECT_EQ(section.get_status().message(), twice + ":3: key 'x.y': unknown key");
}

TEST_F(cli_options_test, check_config_file_reports_every_problem) {
    po::options_description desc = options();
    desc.add_options()("store", po::value<std::string>()->required(), "path");
    const std::string path =
        write_config("window = many\npipelin = x\nendpoint = a # trailing comment\nnot a pair\nendpoint = b\n");
    auto check = check_config_file(desc, path);
    const std::vector<std::string> expected = {
        path + ":1: key 'window': the argument ('many') for option 'window' is invalid",
        path + ":2: key 'pipelin': unknown key (did you mean 'pipeline'?)",
        path + ":4: expected 'key = value', got 'not a pair'",
        path + ":5: key 'endpoint': set twice (first on line 3)",
        path + ": key 'store': required but missing",
    };
    EXPECT_EQ(check.problems, expected);

    auto good = check_config_file(desc, write_config("store = /x\nendpoint = ipc:///a#frag\n"));
    EXPECT_TRUE(good.problems.empty()) << good.problems.front();
    EXPECT_EQ(value_text(good.outcome, "endpoint"), "ipc:///a#frag");
    EXPECT_EQ(value_text(good.outcome, "window"), "8");
    EXPECT_EQ(good.outcome.locate("store", "--store: is bad"), path + ":1: key 'store': is bad");
    EXPECT_EQ(good.outcome.locate("window", "too big"), "key 'window': too big (the default)");
}

TEST(redact_secrets, hides_passwords_and_secret_options) {
    EXPECT_EQ(redact_secrets("target", "postgresql://app:s3cret@db:5432/orders?sslmode=require"),
              "postgresql://app:***@db:5432/orders?sslmode=require");
    EXPECT_EQ(redact_secrets("target", "redis://:pw@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
    EXPECT_EQ(redact_secrets("target", "https://hooks.example/x?secret=abc&timeout_ms=5&token=t"),
              "https://hooks.example/x?secret=***&timeout_ms=5&token=***");
    EXPECT_EQ(redact_secrets("target", "sqlite:/data/a@b.db"), "sqlite:/data/a@b.db");
    EXPECT_EQ(redact_secrets("hmac-secret", "abc"), "***");
    // Options that name where a secret is (a variable, a file) stay readable.
    EXPECT_EQ(redact_secrets("target", "redis://h?password_env=REDIS_PW&syncline.secret_file=/k"), "redis://h?password_env=REDIS_PW&syncline.secret_file=/k");
    EXPECT_EQ(redact_secrets("target", "https://h/x?a=1#p@ss/w@h2"), "https://h/x?a=1#p@ss/w@h2");
    EXPECT_EQ(redact_secrets_in("bad URI 'redis://:pw@h/0': no", "target", "redis://:pw@h/0"), "bad URI 'redis://:***@h/0': no");
    EXPECT_EQ(env_name("until-caught-up"), "SYNCLINE_UNTIL_CAUGHT_UP");
}

TEST(validate_endpoint, accepts) {
    for (const char* e : {"tcp://127.0.0.1:5557", "tcp://*:*", "tcp://127.0.0.1:*", "tcp://localhost:1",
                          "tcp://[::1]:65535", "tcp://eth0:80", "ipc:///tmp/syncline/work.sock", "ipc://*",
                          "ipc://relative.sock", "inproc://work"}) {
        status s = validate_endpoint("endpoint", e);
        EXPECT_TRUE(s.ok()) << e << ": " << s.to_string();
    }
}

TEST(validate_endpoint, rejects) {
    for (const char* e : {"", "127.0.0.1:5557", "tcp://", "tcp://127.0.0.1", "tcp://:5557", "tcp://host:0",
                          "tcp://host:65536", "tcp://host:12a", "tcp://host:", "tcp://host:123456",
                          "tcp://[::1:80", "udp://host:1", "ipc://", "inproc://", "tcp://host :1",
                          "TCP://host:1"}) {
        status s = validate_endpoint("--work-endpoint", e);
        ASSERT_FALSE(s.ok()) << e;
        EXPECT_EQ(s.code(), errc::invalid_argument);
        EXPECT_NE(s.message().find("--work-endpoint"), std::string::npos) << s.message();
    }
    const std::string long_ipc = "ipc:///" + std::string(200, 'x');
    EXPECT_FALSE(validate_endpoint("e", long_ipc).ok());
    // Option names are shown as flags however the caller spells them.
    EXPECT_NE(validate_endpoint("sink", "x").message().find("--sink"), std::string::npos);
}

TEST(validate_name, cases) {
    for (const char* n : {"orders", "a", "my.pipeline_2-x", "A.B"}) EXPECT_TRUE(validate_name("pipeline", n).ok()) << n;
    EXPECT_TRUE(validate_name("pipeline", std::string(128, 'a')).ok());
    for (const char* n : {"", ".", "..", "a/b", "a b", "naïve", "x\n", "a:b"}) {
        status s = validate_name("pipeline", n);
        ASSERT_FALSE(s.ok()) << n;
        EXPECT_EQ(s.code(), errc::invalid_argument);
        EXPECT_NE(s.message().find("--pipeline"), std::string::npos);
    }
    EXPECT_FALSE(validate_name("pipeline", std::string(129, 'a')).ok());
}

// A user's pipeline must not take a name syncline derives from another pipeline's: X.replay is
// the temporary pipeline `syncline replay --pipeline X` resets and deletes, X.run X's run directory.
TEST(validate_pipeline_name, refuses_the_derived_suffixes) {
    for (const char* n : {"orders", "orders.replayed", "replay", ".replay", "run", "orders.running", "a.b"})
        EXPECT_TRUE(validate_pipeline_name("pipeline", n).ok()) << n;
    status replay = validate_pipeline_name("pipeline", "orders.replay");
    EXPECT_EQ(replay.code(), errc::invalid_argument);
    EXPECT_NE(replay.message().find("--pipeline: 'orders.replay' is reserved"), std::string::npos) << replay.message();
    EXPECT_NE(replay.message().find("`syncline replay` uses for 'orders'"), std::string::npos) << replay.message();
    status run = validate_pipeline_name("pipeline", "orders.run");
    EXPECT_NE(run.message().find("is the run directory of pipeline 'orders'"), std::string::npos) << run.message();
    EXPECT_FALSE(validate_pipeline_name("pipeline", "a/b.replay").ok());
}

}  // namespace
}  // namespace syncline::cli
