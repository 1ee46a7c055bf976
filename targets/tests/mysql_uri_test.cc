// mysql:// and mariadb:// URIs, checked without a server (`syncline config check`).
#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "targets/target.h"
#include "targets/tests/test_util.h"

namespace syncline::targets {
namespace {

TEST(mysql_uri, good_uris_are_checked_without_connecting) {
    testing::temp_dir dir;
    const std::string password = dir.file("password");
    std::ofstream(password) << "pw-file\n";
    ::setenv("SYNCLINE_TEST_MYSQL_PW", "pw-env", 1);
    // Port 1 has no server: checking does not connect.
    for (const std::string& uri : std::vector<std::string>{
             "mysql://u@127.0.0.1:1/db", "mariadb://u@localhost/db?value=blob", "mysql://u%40x@[::1]:3306/app?value=text",
          "mysql://u@h/db?password_file=" + password + "&tls=verify&tls_ca_file=/etc/ssl/ca.pem&connect_timeout=3&timeout=5",
          "mysql://u@h/db?password_env=SYNCLINE_TEST_MYSQL_PW&socket=/run/mysqld/mysqld.sock&tls=require"}) {
        const status s = check_target_uri(uri);
        EXPECT_TRUE(s.ok()) << uri << ": " << s.message();
    }
    ::unsetenv("SYNCLINE_TEST_MYSQL_PW");
}

TEST(mysql_uri, bad_uris_are_refused_naming_what_is_wrong) {
    testing::temp_dir dir;
    std::ofstream(dir.file("empty")).flush();
    const std::pair<std::string, const char*> bad[] = {
        {"mysql:db", "expected mysql://"},
        {"mysql://u@h", "no database"},
        {"mysql://u@h/", "no database"},
        {"mysql://h/db", "no user"},
        {"mysql://u:Secr3t@h/db", "no password in the URI"},
        {"mysql://u@h:0/db", "port must be"},
        {"mysql://u@h:70000/db", "port must be"},
        {"mysql://u@h:x1/db", "port must be"},
        {"mysql://u@:3306/db", "no host"},
        {"mysql://u@[::1/db", "unclosed"},
        {"mysql://u@h/db?value=jsonb", "value must be json, text or blob"},
        {"mysql://u@h/db?tls=on", "tls must be off, require or verify"},
        {"mysql://u@h/db?tls_ca_file=/x", "needs tls=require"},
        {"mysql://u@h/db?timeout=0", "timeout"},
        {"mysql://u@h/db?password=x", "never goes into the URI"},
        {"mysql://u@h/db?password_env=SYNCLINE_TEST_NO_SUCH_VARIABLE", "is not set"},
        {"mysql://u@h/db?password_file=" + dir.file("missing"), "cannot read password_file"},
        {"mysql://u@h/db?password_file=" + dir.file("empty"), "is empty"},
        {"mysql://u@h/db?password_env=A&password_file=B", "not both"},
        {"mysql://u@h/db?schema=s", "unknown"},
    };
    for (const auto& [uri, why] : bad) {
        const status s = check_target_uri(uri);
        EXPECT_EQ(s.code(), errc::invalid_argument) << uri;
        EXPECT_NE(s.message().find(why), std::string::npos) << uri << ": " << s.message();
        EXPECT_EQ(s.message().find("Secr3t"), std::string::npos) << s.message();
    }
}

}  // namespace
}  // namespace syncline::targets
