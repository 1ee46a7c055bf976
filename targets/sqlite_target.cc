#include "targets/sqlite_target.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <thread>
#include <string_view>
#include <vector>

#include "targets/internal/text.h"

namespace syncline::targets {

std::string sqlite_schema::create_table(std::string_view table) {
    return "CREATE TABLE IF NOT EXISTS " + std::string(table) +
           " (\"key\" TEXT PRIMARY KEY NOT NULL, \"value\" TEXT, \"offset\" INTEGER NOT NULL,"
           " \"deleted\" INTEGER NOT NULL DEFAULT 0, \"updated_at\" INTEGER NOT NULL) WITHOUT ROWID";
}

// The WHERE clause is the fence: an older or equal offset (redelivery, a slower worker, a replay)
// leaves the row alone, for deletes (tombstones) exactly as for upserts.
std::string sqlite_schema::tuning_pragmas(unsigned wal_autocheckpoint) {
    return "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456; PRAGMA wal_autocheckpoint=" +
           std::to_string(wal_autocheckpoint);
}

std::string sqlite_schema::fenced_upsert(std::string_view table) {
    return "INSERT INTO " + std::string(table) +
           " (\"key\", \"value\", \"offset\", \"deleted\", \"updated_at\") VALUES (?1, ?2, ?3, ?4, ?5)"
           " ON CONFLICT(\"key\") DO UPDATE SET \"value\" = excluded.\"value\","
           " \"offset\" = excluded.\"offset\", \"deleted\" = excluded.\"deleted\","
           " \"updated_at\" = excluded.\"updated_at\""
           " WHERE excluded.\"offset\" > " + std::string(table) + ".\"offset\"";
}
namespace {

using internal::quote_ident;

// SQLite undoes a failed statement on its own (statement journal) and leaves the transaction
// open for these codes: they concern this record (a user's constraint or trigger, a table of
// another shape, a value too big), so the record fails alone and the batch goes on without any
// per-record savepoint. Every other code concerns the database as a whole (busy, locked, I/O,
// read-only, full, corrupt): the batch is rolled back and reported transient.
bool is_record_error(int rc) {
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_TOOBIG:
        case SQLITE_RANGE:
        case SQLITE_ERROR:
            return true;
        default:
            return false;
    }
}

// Quoting makes any collection name a valid identifier (spaces, quotes, keywords, unicode), so
// users get tables named exactly after their collections. Only names SQLite cannot hold are
// refused (see unsafe_collection), and a name that differs only in ASCII case from a collection
// that already has its table (SQLite table names ignore ASCII case): see ensure_table.
const char* unsafe_collection(std::string_view c) {
    if (c.empty()) return "empty collection name";
    if (c.find('\0') != std::string_view::npos) return "collection name contains a NUL byte";
    if (c.size() >= 7 && strncasecmp(c.data(), "sqlite_", 7) == 0)
        return "table names starting with sqlite_ are reserved by SQLite";
    return nullptr;
}

// A locked database is its state, never a record's (target.h: errc::busy).
errc busy_code(int rc) {
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? errc::busy : errc::unavailable;
}

// Binding needs a non-null pointer even for empty text: a null pointer would bind SQL NULL.
const char* text_ptr(std::string_view s) { return s.data() ? s.data() : ""; }

struct stmt {
    sqlite3_stmt* s = nullptr;
    stmt() = default;
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
    ~stmt() { sqlite3_finalize(s); }
};

// SQLite's own busy handler sleeps up to 100 ms between tries: with several worker processes
// taking turns at the write lock that leaves the database idle most of the time. Short sleeps
// (0.1 ms doubling to 2 ms) hand the lock over almost as soon as it is free.
struct busy_wait {
    std::chrono::milliseconds timeout{5000};
    std::chrono::steady_clock::time_point since{};
};

int wait_when_busy(void* arg, int tries) {
    auto* w = static_cast<busy_wait*>(arg);
    const auto now = std::chrono::steady_clock::now();
    if (tries == 0) w->since = now;
    else if (now - w->since >= w->timeout) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(std::min(100 << std::min(tries, 5), 2000)));
    return 1;
}

}  // namespace

struct sqlite_target::impl {
    struct table {
        sqlite3_stmt* upsert = nullptr;  // Prepared once, reused for every change of the collection.
    };

    sqlite3* db = nullptr;
    int writer_lock = -1;  // The writer slot's flock'ed descriptor; -1 without a writer_group.
    busy_wait busy;
    std::string path;
    std::map<std::string, table, std::less<>> tables;
    // Collections refused during the current batch, with the reason: later records of the same
    // collection fail at once. Cleared per batch so that a fixed database is picked up.
    std::map<std::string, std::string, std::less<>> refused;
    // Tables first used in the current transaction: their CREATE TABLE is undone by a rollback,
    // so the cache entries must go too.
    std::vector<std::string> created;
    // Batches mostly hold one collection: skip the map lookup for a repeat.
    const std::string* last_name = nullptr;
    table* last = nullptr;

    ~impl() {
        for (auto& [name, t] : tables) sqlite3_finalize(t.upsert);
        sqlite3_close_v2(db);
        if (writer_lock >= 0) ::close(writer_lock);  // Releases the slot to a standby.
    }

    std::string errmsg() const { return sqlite3_errmsg(db); }
    std::string context(std::string_view what) const { return "sqlite " + path + ": " + std::string(what); }

    int exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

    void forget(std::string_view name) {
        last = nullptr;
        last_name = nullptr;
        if (auto it = tables.find(name); it != tables.end()) {
            sqlite3_finalize(it->second.upsert);
            tables.erase(it);
        }
    }

    void rollback() {
        exec("ROLLBACK");
        for (const auto& name : created) forget(name);
        created.clear();
    }

    // The name SQLite stored for the table that `name` resolves to (ASCII case folded).
    int stored_table_name(std::string_view name, std::string& out) {
        stmt s;
        int rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
                                    -1, &s.s, nullptr);
        if (rc != SQLITE_OK) return rc;
        sqlite3_bind_text(s.s, 1, text_ptr(name), static_cast<int>(name.size()), SQLITE_STATIC);
        rc = sqlite3_step(s.s);
        if (rc == SQLITE_ROW) {
            out.assign(reinterpret_cast<const char*>(sqlite3_column_text(s.s, 0)),
                       static_cast<std::size_t>(sqlite3_column_bytes(s.s, 0)));
            return SQLITE_OK;
        }
        return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    }

    // Finds or creates the table of `name`. On failure `why` says why (without the collection).
    int ensure_table(std::string_view name, table*& out, bool& cached, std::string& why) {
        cached = true;
        if (last != nullptr && *last_name == name) {
            out = last;
            return SQLITE_OK;
        }
        if (auto it = tables.find(name); it != tables.end()) {
            last_name = &it->first;
            last = out = &it->second;
            return SQLITE_OK;
        }
        cached = false;
        if (auto it = refused.find(name); it != refused.end()) {
            why = it->second;
            return SQLITE_ERROR;
        }
        if (const char* bad = unsafe_collection(name)) {
            why = bad;
            refused.emplace(std::string(name), why);
            return SQLITE_ERROR;
        }
        const std::string q = quote_ident(name);
        const std::string ddl = sqlite_schema::create_table(q);
        int rc = exec(ddl.c_str());
        if (rc != SQLITE_OK) {
            why = "cannot create table: " + errmsg();
            if (is_record_error(rc)) refused.emplace(std::string(name), why);
            return rc;
        }
        // SQLite folds ASCII case in table names, quoted or not: the table must carry exactly
        // this collection's name, or two collections (users, USERS) would share its rows.
        std::string stored;
        rc = stored_table_name(name, stored);
        if (rc != SQLITE_OK) {
            why = "cannot look up table " + q + ": " + errmsg();
            return rc;
        }
        if (stored != name) {
            why = "differs only in case from collection '" + internal::printable(stored) +
                  "', whose table holds the name (SQLite table names ignore ASCII case): refused rather than "
                  "merged; rename one of the two collections, or use another target";
            refused.emplace(std::string(name), why);
            return SQLITE_ERROR;
        }
        const std::string sql = sqlite_schema::fenced_upsert(q);
        sqlite3_stmt* s = nullptr;
        rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size() + 1), SQLITE_PREPARE_PERSISTENT, &s,
                                nullptr);
        if (rc != SQLITE_OK) {
            why = "table " + q + " exists without the syncline schema (key, value, offset, deleted, updated_at): " +
                  errmsg();
            sqlite3_finalize(s);
            if (is_record_error(rc)) refused.emplace(std::string(name), why);
            return rc;
        }
        auto [it, inserted] = tables.emplace(std::string(name), table{s});
        created.push_back(it->first);
        last_name = &it->first;
        last = out = &it->second;
        return SQLITE_OK;
    }

    // Binds straight from the record's views (SQLITE_STATIC: no copies); the views outlive the
    // step, and every parameter is bound again before the next one.
    int apply(table& t, const record_view& r, std::string& why) {
        sqlite3_stmt* s = t.upsert;
        int rc = sqlite3_bind_text64(s, 1, text_ptr(r.key), r.key.size(), SQLITE_STATIC, SQLITE_UTF8);
        if (rc == SQLITE_OK) {
            rc = r.operation == op::del
                     ? sqlite3_bind_null(s, 2)
                     : sqlite3_bind_text64(s, 2, text_ptr(r.value), r.value.size(), SQLITE_STATIC, SQLITE_UTF8);
        }
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(r.offset));
        if (rc == SQLITE_OK) rc = sqlite3_bind_int(s, 4, r.operation == op::del ? 1 : 0);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 5, r.ts_ms);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(s);
            if (rc == SQLITE_DONE) rc = SQLITE_OK;
        }
        if (rc != SQLITE_OK) why = errmsg();
        sqlite3_reset(s);
        return rc;
    }
};

sqlite_target::sqlite_target(std::unique_ptr<impl> impl) : _impl(std::move(impl)) {}
sqlite_target::~sqlite_target() = default;

result<std::unique_ptr<sqlite_target>> sqlite_target::open(const sqlite_target_options& opts) {
    namespace fs = std::filesystem;
    const std::string& path = opts.path;
    if (path.empty()) return status{errc::invalid_argument, "sqlite target: empty path"};
    if (path != ":memory:") {
        std::error_code ec;
        fs::path parent = fs::path(path).parent_path();
        if (!parent.empty() && !fs::is_directory(parent, ec))
            return status{errc::invalid_argument,
                          "sqlite target " + path + ": directory " + parent.string() + " does not exist"};
        if (fs::is_directory(path, ec))
            return status{errc::invalid_argument, "sqlite target " + path + ": is a directory"};
    }

    auto m = std::make_unique<impl>();
    m->path = path;
    if (!opts.writer_group.empty() && path != ":memory:") {
        // The slot is taken before the database is opened: a standby touches nothing.
        const std::string lock_path = path + ".syncline-" + opts.writer_group + ".writer";
        m->writer_lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (m->writer_lock < 0)
            return status{errc::unavailable, m->context("cannot open writer lock " + lock_path + ": " + std::strerror(errno))};
        if (::flock(m->writer_lock, LOCK_EX | LOCK_NB) != 0) {
            const int e = errno;
            return status{errc::unavailable,
                          m->context(e == EWOULDBLOCK ? "another worker of pipeline '" + opts.writer_group +
                                                            "' is the writer (SQLite: one writing worker per "
                                                            "pipeline): standing by until it stops"
                                                      : "cannot lock " + lock_path + ": " + std::strerror(e))};
        }
    }
    // NOMUTEX: an instance belongs to one thread (target.h), so SQLite's per-call mutex is waste.
    int rc = sqlite3_open_v2(path.c_str(), &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = m->db ? m->errmsg() : sqlite3_errstr(rc);
        return status{errc::unavailable, m->context("cannot open: " + msg)};
    }
    sqlite3_extended_result_codes(m->db, 1);
    // Several worker processes write the same file: wait for the write lock instead of failing.
    m->busy.timeout = opts.busy_timeout;
    sqlite3_busy_handler(m->db, wait_when_busy, &m->busy);

    // WAL lets readers (verify, users' queries) run while workers write, and makes each commit
    // one sequential append. Changing the journal mode needs a lock, so it can be busy.
    rc = m->exec("PRAGMA journal_mode=WAL");
    if (rc == SQLITE_OK) {
        // FULL syncs the WAL on every commit: the sink commits the offset after our ack, so the
        // rows must be on disk when deliver() returns. NORMAL survives process crashes only.
        rc = m->exec(opts.synchronous == sqlite_sync::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    }
    if (rc == SQLITE_OK) {
        // Batches touch keys all over the table: a large page cache and memory-mapped reads keep
        // each upsert from paying a pread, and rarer checkpoints batch the copy back to the file.
        rc = m->exec(sqlite_schema::tuning_pragmas(opts.wal_autocheckpoint).c_str());
    }
    if (rc != SQLITE_OK) {
        errc code = (rc & 0xff) == SQLITE_NOTADB ? errc::invalid_argument : errc::unavailable;
        return status{code, m->context("cannot open: " + m->errmsg())};
    }
    return std::unique_ptr<sqlite_target>(new sqlite_target(std::move(m)));
}

delivery_outcome sqlite_target::deliver(std::span<const record_view> records) {
    delivery_outcome out;
    if (records.empty()) return out;
    impl& m = *_impl;

    // IMMEDIATE takes the write lock up front (waiting up to busy_timeout): a deferred
    // transaction could fail to upgrade half-way through the batch without waiting.
    int rc = m.exec("BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) {
        out.transient = status{busy_code(rc), m.context("begin batch: " + m.errmsg())};
        return out;
    }
    m.refused.clear();
    m.created.clear();

    std::string why;
    for (const record_view& r : records) {
        if (r.offset > static_cast<std::uint64_t>(std::numeric_limits<sqlite3_int64>::max())) {
            out.failures.push_back({r.offset, "sqlite: offset does not fit an SQLite INTEGER"});
            continue;
        }
        impl::table* t = nullptr;
        bool cached = false;
        rc = m.ensure_table(r.collection, t, cached, why);
        if (rc == SQLITE_OK) rc = m.apply(*t, r, why);
        if ((rc & 0xff) == SQLITE_ERROR && cached && sqlite3_get_autocommit(m.db) == 0) {
            // The cached statement's table may have been dropped or altered by a user since it
            // was prepared: prepare again once before blaming the record.
            m.forget(r.collection);
            rc = m.ensure_table(r.collection, t, cached, why);
            if (rc == SQLITE_OK) rc = m.apply(*t, r, why);
        }
        if (rc == SQLITE_OK) continue;
        // A database-wide failure, or one that made SQLite roll the transaction back itself:
        // nothing of the batch may count as done.
        if (!is_record_error(rc) || sqlite3_get_autocommit(m.db) != 0) {
            std::string msg = m.context("collection '" + internal::printable(r.collection) + "': " + why);
            m.rollback();
            out.failures.clear();
            out.transient = status{busy_code(rc), std::move(msg)};
            return out;
        }
        out.failures.push_back({r.offset, "sqlite: collection '" + internal::printable(r.collection) + "' key '" +
                                              internal::printable(r.key) + "': " + why});
    }

    rc = m.exec("COMMIT");
    if (rc != SQLITE_OK) {
        std::string msg = m.context("commit: " + m.errmsg());
        m.rollback();
        out.failures.clear();
        out.transient = status{busy_code(rc), std::move(msg)};
        return out;
    }
    m.created.clear();
    return out;
}

result<std::optional<state_map>> sqlite_target::read_state() {
    impl& m = *_impl;
    auto fail = [&](std::string_view what) {
        int rc = sqlite3_errcode(m.db) & 0xff;
        errc code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_CANTOPEN ? errc::unavailable : errc::io_error;
        status s{code, m.context(std::string(what) + ": " + m.errmsg())};
        if (sqlite3_get_autocommit(m.db) == 0) m.exec("ROLLBACK");
        return s;
    };

    // One read transaction: a consistent snapshot across tables while workers keep writing.
    if (m.exec("BEGIN") != SQLITE_OK) return fail("begin read");

    std::vector<std::string> names;
    {
        stmt list;
        const char* sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
        if (sqlite3_prepare_v2(m.db, sql, -1, &list.s, nullptr) != SQLITE_OK) return fail("list tables");
        int rc;
        while ((rc = sqlite3_step(list.s)) == SQLITE_ROW)
            names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list.s, 0)),
                               static_cast<std::size_t>(sqlite3_column_bytes(list.s, 0)));
        if (rc != SQLITE_DONE) return fail("list tables");
    }

    state_map state;
    for (const auto& name : names) {
        // Other tables may share the file (users' own): only ours are part of the state.
        stmt cols;
        if (sqlite3_prepare_v2(m.db, "SELECT name FROM pragma_table_info(?1)", -1, &cols.s, nullptr) != SQLITE_OK)
            return fail("table info");
        sqlite3_bind_text(cols.s, 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
        int found = 0, rc;
        while ((rc = sqlite3_step(cols.s)) == SQLITE_ROW) {
            std::string_view c(reinterpret_cast<const char*>(sqlite3_column_text(cols.s, 0)),
                               static_cast<std::size_t>(sqlite3_column_bytes(cols.s, 0)));
            if (c == "key" || c == "value" || c == "offset" || c == "deleted") ++found;
        }
        if (rc != SQLITE_DONE) return fail("table info");
        if (found != 4) continue;

        stmt rows;
        const std::string sql = "SELECT \"key\", \"value\", \"offset\", \"deleted\" FROM " + quote_ident(name);
        if (sqlite3_prepare_v2(m.db, sql.c_str(), -1, &rows.s, nullptr) != SQLITE_OK) return fail("read " + name);
        while ((rc = sqlite3_step(rows.s)) == SQLITE_ROW) {
            // Blob access returns the stored bytes as they are (keys are bytes, not text).
            auto bytes = [&](int col) {
                const void* p = sqlite3_column_blob(rows.s, col);
                auto n = static_cast<std::size_t>(sqlite3_column_bytes(rows.s, col));
                return p ? std::string(static_cast<const char*>(p), n) : std::string();
            };
            row_state row;
            row.value = bytes(1);
            row.offset = static_cast<std::uint64_t>(sqlite3_column_int64(rows.s, 2));
            row.deleted = sqlite3_column_int64(rows.s, 3) != 0;
            state.insert_or_assign({name, bytes(0)}, std::move(row));
        }
        if (rc != SQLITE_DONE) return fail("read " + name);
    }
    m.exec("COMMIT");
    return std::optional<state_map>(std::move(state));
}

}  // namespace syncline::targets
