#pragma once
// targets/mysql_target.h: `mysql://USER@HOST[:PORT]/DB[?options]` (alias `mariadb://`) —
// a MariaDB or MySQL database as a state target, through the MariaDB client library
// (docs/targets/mysql.md).
//
// Schema: one InnoDB table per collection in DB, named after the collection (in backticks, so any
// name MariaDB can hold as an identifier works: 1..64 characters of UTF-8 without 4-byte
// characters, NUL or trailing spaces; others fail permanently), created if missing:
//   `key` VARBINARY(3072) PRIMARY KEY (keys are bytes, compared exactly), `value` JSON|LONGTEXT|
//   LONGBLOB (NULL for tombstones), `offset` BIGINT UNSIGNED, `deleted` BOOLEAN, `updated_at`
//   DATETIME(3) (the record's ts, UTC).
// Fencing: multi-row `INSERT ... ON DUPLICATE KEY UPDATE` where every column takes the new value
// only `IF(offset < VALUES(offset))`, `offset` assigned last (MariaDB assigns left to right, so the
// other conditions still see the old offset). Deletes write tombstones the same way.
// One deliver() = one transaction in one round trip (multi-statement query) unless the batch is
// larger than the server's max_allowed_packet: then several, in the same transaction. A row that
// cannot fit in max_allowed_packet at all fails permanently. If the server refuses a row (invalid
// JSON, invalid UTF-8, a key over 3072 bytes, a user's constraint or trigger), the batch is applied
// again row by row under savepoints in the same transaction: the refused rows fail with the
// server's message, the rest is applied.
// Errors: open -> invalid_argument (bad options), unavailable (cannot connect now). deliver ->
// transient errc::unavailable when the connection fails or the server fails as a whole (deadlock,
// lock wait timeout, shutdown): the transaction is rolled back and the next deliver reconnects.
// Messages never contain the password. Not thread-safe: one instance (one connection) per thread.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "targets/target.h"

namespace syncline::targets {

namespace internal {
struct parsed_uri;
class uri_options;
}  // namespace internal

enum class mysql_value_type { json, text, blob };
enum class mysql_tls { off, require, verify };

struct mysql_target_options {
    std::string host = "127.0.0.1";
    unsigned port = 3306;
    std::string socket;                       // ?socket=PATH: a unix socket instead of TCP.
    std::string user;
    std::optional<std::string> password;      // From ?password_env=NAME or ?password_file=PATH.
    std::string database;
    mysql_value_type value_type = mysql_value_type::json;  // ?value=json|text|blob. Default: json.
    mysql_tls tls = mysql_tls::off;           // ?tls=off|require|verify. Default: off.
    std::string tls_ca_file;                  // ?tls_ca_file=PATH (for verify).
    std::chrono::seconds connect_timeout{10};  // ?connect_timeout=S.
    std::chrono::seconds io_timeout{60};      // ?timeout=S: per read/write on the connection.
    std::string description;                  // The URI, for messages (it holds no password).
};

class mysql_target final : public target {
public:
    // The options of a mysql:// URI without connecting: invalid_argument naming what is wrong
    // (a password in the URI is refused; password_env/password_file are read here).
    static result<mysql_target_options> options_from_uri(const std::string& uri, const internal::parsed_uri& p,
                                                         internal::uri_options& options);
    static result<std::unique_ptr<mysql_target>> open(const mysql_target_options& opts);
    ~mysql_target() override;

    delivery_outcome deliver(std::span<const record_view> records) override;
    // Every table of DB with the columns key, value, offset, deleted (other tables are ignored),
    // tombstones included (value ""), read in one consistent-snapshot transaction.
    result<std::optional<state_map>> read_state() override;

private:
    struct impl;  // Owns the MYSQL handle; keeps <mysql.h> out of this header.
    explicit mysql_target(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> _impl;
};

}  // namespace syncline::targets
