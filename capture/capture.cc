#include "capture/capture.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <iterator>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "capture/pg_values.h"
#include "capture/pgoutput.h"
#include "capture/source.h"
#include "common/cli_options.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/change_log.h"

namespace syncline::capture {
namespace {

using clock = std::chrono::steady_clock;
const logger lg("capture");

std::string snapshot_key(const std::string& slot) { return "capture/" + slot + "/snapshot"; }
// The captured tables: {"schema.table": "<LSN from which its changes count>" | "removed"}.
std::string tables_key(const std::string& slot) { return "capture/" + slot + "/tables"; }
// The table whose copy (a table added later) is under way; absent when none.
std::string copying_key(const std::string& slot) { return "capture/" + slot + "/copying"; }

std::int64_t now_pg_micros() {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    return us - 946'684'800LL * 1'000'000LL;
}

void put_be64(std::string& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

std::uint64_t get_be64(const char* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

struct capture_metrics {
    metrics::counter& changes;
    metrics::counter& transactions;
    metrics::counter& skipped;
    metrics::counter& unchanged_toast;
    metrics::counter& snapshot_rows;
    metrics::counter& staged_records;
    metrics::gauge& confirmed_lsn;
    metrics::gauge& slot_lag_bytes;
    metrics::gauge& retained_wal_bytes;
    metrics::gauge& lag_seconds;
    explicit capture_metrics(metrics::registry& r)
        : changes(r.add_counter("syncline_capture_changes_total", "row changes appended to the log")),
          transactions(r.add_counter("syncline_capture_transactions_total", "source transactions appended (one append each)")),
          skipped(r.add_counter("syncline_capture_skipped_transactions_total",
                                "transactions the server sent again that the log already held (after a restart)")),
          unchanged_toast(r.add_counter("syncline_capture_unchanged_toast_total",
                                        "columns left out of a value because the server did not send them (unchanged TOAST)")),
          snapshot_rows(r.add_counter("syncline_capture_snapshot_rows_total", "rows copied by the initial snapshot and copies of tables added later")),
          staged_records(r.add_counter("syncline_capture_staged_records_total",
                                       "records of big source transactions staged in the log before their commit (--transaction-memory-bytes)")),
          confirmed_lsn(r.add_gauge("syncline_capture_confirmed_lsn", "the LSN last confirmed to the server")),
          slot_lag_bytes(r.add_gauge("syncline_capture_slot_lag_bytes",
                                     "bytes of WAL between the server's current position and the slot's confirmed one")),
          retained_wal_bytes(r.add_gauge("syncline_capture_retained_wal_bytes", "WAL the slot keeps on the server (restart_lsn)")),
          lag_seconds(r.add_gauge("syncline_capture_lag_seconds",
                                  "seconds between the source commit and its append, of the last transaction; 0 when idle")) {}
};

// Per collection, the keys the log holds as live (last change an upsert) among records with
// offset < `below`.
result<std::map<std::string, std::set<std::string>>> live_keys(const store::change_log& log, const std::set<std::string>& collections,
                                                                std::uint64_t below) {
    std::map<std::string, std::map<std::string, bool>> seen;
    std::uint64_t from = 1;
    while (from < below) {
        std::uint64_t last = 0;
        status err;
        auto n = log.scan(from, 4096, 16u << 20, [&](std::uint64_t offset, std::string_view encoded) {
            if (offset >= below) return false;
            last = offset;
            auto r = codec::decode_record(encoded);
            if (!r.ok()) { err = r.get_status(); return false; }
            const std::string collection(r->collection);
            if (collections.count(collection)) seen[collection][std::string(r->key)] = r->operation == op::upsert;
            return true;
        });
        if (!n.ok()) return n.get_status();
        SYNCLINE_RETURN_IF_ERROR(err);
        if (*n == 0 || last == 0) break;
        from = last + 1;
    }
    std::map<std::string, std::set<std::string>> out;
    for (auto& [collection, keys] : seen)
        for (auto& [key, alive] : keys)
            if (alive) out[collection].insert(key);
    return out;
}

class session {
public:
    session(const capture_options& o, source_options src, const stop_flag& stop, capture_metrics& m)
        : _o(o), _src(std::move(src)), _stop(stop), _m(m), _decoder([this](const std::string& s, const std::string& n) {
              return lookup(s, n);
          }) {
        _decoder.set_filter([this](const std::string& collection, std::uint64_t commit_lsn) {
            if (_copy_due.count(collection)) return false;  // its copy comes after this transaction
            auto it = _copied.find(collection);
            return it == _copied.end() || commit_lsn >= it->second;
        });
    }

    ~session() { stop_appender(); }

    status run(metrics::health& health);

private:
    // Whole transactions on their way to the log: one synced append (records, then the meta
    // entries: the position, the captured tables), done by the appender thread while the main
    // thread reads and decodes what follows (the fsync no longer stalls the stream).
    struct append_job {
        std::vector<record> records;
        std::map<std::string, std::string> meta;  // last value per key wins when jobs are merged
        std::uint64_t end = 0;                    // the position the append makes durable
        std::int64_t commit_time = 0;
        std::size_t txns = 0;
        std::uint64_t staged = 0;  // staged records this append makes visible
    };
    // A Relation message (at start, and after each schema change): the key columns as the catalog
    // has them now; the last known ones if the catalog cannot say (table dropped since).
    result<table_info> lookup(const std::string& schema, const std::string& name) {
        const std::string collection = schema + "." + name;
        auto t = describe_table(_sql.get(), quote_ident(schema) + "." + quote_ident(name));
        if (_streaming && !_copied.count(collection) && !_copy_due.count(collection)) {
            // A table that joined the publication while the capture runs.
            if (_src.snapshot) {
                _copy_due.insert(collection);
                lg.info("a table joined the publication: it is copied after the current transaction", {{"table", collection}});
            } else {
                _copied[collection] = 0;
                _tables_dirty = true;
            }
        }
        for (auto& known : _tables) {
            if (known.collection() != collection) continue;
            if (t.ok()) known = *t;
            return known;
        }
        if (!t.ok()) return t.get_status();
        _tables.push_back(*t);
        return t;
    }

    status check_source();
    status prepare_slot();
    status snapshot(const std::string& snapshot_name, std::uint64_t consistent_point);
    status copy_rows(const table_info& t, const std::string& lsn, std::set<std::string>& held, std::size_t number, std::size_t count);
    std::vector<record> vanished(std::map<std::string, std::set<std::string>>& held, const std::string& lsn);
    status copy_added_table(const table_info& t);
    status copy_new_tables();
    status load_tables(bool known_from_start);
    std::string tables_json() const;
    status keep_stream_alive();
    status spill();
    status append_now(append_job& job);
    void appender_loop();
    status drain();
    void stop_appender();
    status stream(metrics::health& health);
    status commit(transaction txn);
    status flush();
    status expand_truncates(transaction& txn);
    status fill_toast_gaps(transaction& txn);
    status send_feedback(bool reply_requested);
    void poll_slot_stats();

    const capture_options& _o;
    source_options _src;
    stop_flag _stop;
    capture_metrics& _m;
    std::unique_ptr<store::change_log> _log;
    pg_connection _sql, _repl;
    std::vector<table_info> _tables;
    pgoutput_decoder _decoder;
    std::atomic<std::uint64_t> _stored{0};  // End LSN of the last transaction durable in the log.
    std::uint64_t _idle_pos = 0;   // A keepalive's position with nothing open: confirmable.
    std::uint64_t _confirmed = 0;  // What we last told the server.
    // Captured tables -> the commit LSN from which their changes count (a copy's snapshot point;
    // 0 = every change the slot sends); tables that left the publication; tables that joined it
    // while streaming, to copy after the current transaction.
    std::map<std::string, std::uint64_t> _copied;
    std::set<std::string> _removed, _copy_due;
    bool _tables_dirty = false;  // _copied changed: store it with the next append
    bool _streaming = false;
    clock::time_point _next_feedback{};
    std::uint64_t _staged_txn_lsn = 0;
    std::uint64_t _appends = 0;  // synced appends of whole transactions (group commits)
    clock::duration _append_time{};  // spent in them (logged at the stop)
    std::uint64_t _staged = 0;       // records of the open transaction staged in the log
    // The appender thread (started with the stream); the log is used by one thread at a time:
    // the main thread touches it only after drain().
    std::thread _appender;
    std::mutex _amu;
    std::condition_variable _acv, _adone;
    std::deque<append_job> _queue;
    std::size_t _queued_records = 0;
    bool _abusy = false, _astop = false;
    status _aerr;
    std::atomic<bool> _append_failed{false};  // commit LSN of the transaction with staged records
    rate_limiter _wal_warning{std::chrono::minutes(1)};
    // Committed transactions not appended yet (group commit, see commit()).
    static constexpr std::size_t group_records = 100'000;
    std::vector<record> _pending;
    std::size_t _pending_txns = 0;
    std::uint64_t _pending_end = 0;
    std::int64_t _pending_commit_time = 0;
};

status session::check_source() {
    auto wal = query_rows(_sql.get(), "SHOW wal_level", {}, "source " + _src.description);
    if (!wal.ok()) return wal.get_status();
    const std::string level = wal->empty() ? "" : (*wal)[0][0];
    if (level != "logical")
        return status{errc::invalid_argument, "source " + _src.description + ": wal_level is '" + level +
                                                  "', capture needs wal_level = logical (ALTER SYSTEM SET wal_level = logical; "
                                                  "then restart PostgreSQL)"};
    auto pub = query_rows(_sql.get(), "SELECT 1 FROM pg_publication WHERE pubname = $1", {_src.publication}, "source");
    if (!pub.ok()) return pub.get_status();
    const bool pub_exists = !pub->empty();
    if (!pub_exists && !_src.create)
        return status{errc::invalid_argument, "source " + _src.description + ": publication " + _src.publication +
                                                  " does not exist (CREATE PUBLICATION, or add create=true and tables=)"};
    std::vector<table_info> tables;
    if (!_src.tables.empty()) {
        for (const auto& name : _src.tables) {
            auto t = describe_table(_sql.get(), name);
            if (!t.ok()) return status{t.get_status().code(), "source " + _src.description + ": " + t.get_status().message()};
            tables.push_back(std::move(*t));
        }
    }
    if (!pub_exists) {
        std::string sql = "CREATE PUBLICATION " + quote_ident(_src.publication) + " FOR TABLE ";
        for (std::size_t i = 0; i < tables.size(); ++i) sql += (i ? ", " : "") + tables[i].quoted();
        SYNCLINE_RETURN_IF_ERROR(exec(_sql.get(), sql, "creating publication " + _src.publication));
        lg.info("created publication", {{"publication", _src.publication}, {"tables", tables.size()}});
    } else {
        for (const auto& t : tables) {
            auto in = query_rows(_sql.get(),
                                 "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3",
                                 {_src.publication, t.schema, t.name}, "source");
            if (!in.ok()) return in.get_status();
            if (!in->empty()) continue;
            if (!_src.create)
                return status{errc::invalid_argument, "source " + _src.description + ": table " + t.collection() +
                                                          " is not in publication " + _src.publication +
                                                          " (ALTER PUBLICATION ... ADD TABLE, or create=true)"};
            SYNCLINE_RETURN_IF_ERROR(exec(_sql.get(), "ALTER PUBLICATION " + quote_ident(_src.publication) + " ADD TABLE " + t.quoted(),
                                          "adding " + t.collection() + " to publication " + _src.publication));
            lg.info("added table to publication; its existing rows are not copied (docs/capture.md)",
                    {{"table", t.collection()}, {"publication", _src.publication}});
        }
    }
    // Every table of the publication must be capturable, also the ones tables= does not name.
    source_options all = _src;
    all.tables.clear();
    auto described = describe_tables(_sql.get(), all);
    if (!described.ok()) return status{described.get_status().code(), "source " + _src.description + ": " + described.get_status().message()};
    _tables = std::move(*described);
    return {};
}

status session::prepare_slot() {
    auto stored = _log->get_meta(position_key(_src.slot));
    if (!stored.ok()) return stored.get_status();
    auto snap = _log->get_meta(snapshot_key(_src.slot));
    if (!snap.ok()) return snap.get_status();
    if (*stored) _stored = std::stoull(**stored);
    auto slot = query_rows(_sql.get(),
                           "SELECT plugin, database = current_database(), coalesce(confirmed_flush_lsn::text, '') "
                           "FROM pg_replication_slots WHERE slot_name = $1",
                           {_src.slot}, "source");
    if (!slot.ok()) return slot.get_status();
    bool exists = !slot->empty();
    if (exists && ((*slot)[0][0] != "pgoutput" || (*slot)[0][1] != "t"))
        return status{errc::invalid_argument, "source " + _src.description + ": slot " + _src.slot +
                                                  " belongs to another database or plugin (" + (*slot)[0][0] + ")"};
    const bool interrupted_snapshot = !*stored && *snap && **snap == "started";
    if (exists && interrupted_snapshot) {
        if (!_src.create)
            return status{errc::invalid_argument, "source " + _src.description + ": the snapshot into slot " + _src.slot +
                                                      " was interrupted; add create=true to start it again"};
        lg.warn("snapshot was interrupted: dropping the slot and copying the tables again", {{"slot", _src.slot}});
        SYNCLINE_RETURN_IF_ERROR(exec(_repl.get(), "DROP_REPLICATION_SLOT " + quote_ident(_src.slot) + " WAIT", "dropping slot " + _src.slot));
        exists = false;
    }
    if (exists) {
        if (!*stored) lg.info("the slot exists and the log holds no position for it: streaming from the slot's position", {{"slot", _src.slot}});
        return load_tables(true);
    }
    if (*stored)
        return status{errc::invalid_argument, "source " + _src.description + ": slot " + _src.slot +
                                                  " is gone but the log holds its position " + format_lsn(_stored.load()) +
                                                  ": the changes since are lost; capture into a new slot name (it copies the tables again)"};
    if (!_src.create)
        return status{errc::invalid_argument, "source " + _src.description + ": replication slot " + _src.slot +
                                                  " does not exist (add create=true)"};
    if (_src.snapshot) {
        // Marked first: a capture killed anywhere in the snapshot finds "started" without a position.
        std::vector<store::meta_entry> meta{{snapshot_key(_src.slot), "started"}};
        auto a = _log->append({}, meta);
        if (!a.ok()) return a.get_status();
    }
    const std::string create = "CREATE_REPLICATION_SLOT " + quote_ident(_src.slot) + " LOGICAL pgoutput " +
                               (_src.snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    PGresult* r = PQexec(_repl.get(), create.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        std::string msg = PQresultErrorMessage(r);
        PQclear(r);
        while (!msg.empty() && msg.back() == '\n') msg.pop_back();
        return status{errc::invalid_argument, "source " + _src.description + ": creating slot " + _src.slot + ": " + msg};
    }
    const auto point = parse_lsn(PQgetvalue(r, 0, 1));
    const std::string snapshot_name = PQgetisnull(r, 0, 2) ? "" : PQgetvalue(r, 0, 2);
    PQclear(r);
    if (!point) return status{errc::corruption, "CREATE_REPLICATION_SLOT returned a bad consistent point"};
    lg.info("created slot", {{"slot", _src.slot}, {"consistent_point", format_lsn(*point)}});
    if (_src.snapshot) SYNCLINE_RETURN_IF_ERROR(snapshot(snapshot_name, *point));
    if (_stop.stop_requested()) return {};
    if (!_src.snapshot)
        for (const auto& t : _tables) _copied[t.collection()] = *point;
    std::vector<store::meta_entry> meta{{position_key(_src.slot), std::to_string(*point)}, {tables_key(_src.slot), tables_json()}};
    if (_src.snapshot) meta.push_back({snapshot_key(_src.slot), "done"});
    auto a = _log->append({}, meta);
    if (!a.ok()) return a.get_status();
    _stored = *point;
    return {};
}

// Copies `t` in the snapshot the _sql connection's transaction is in, `_o.snapshot_chunk` rows
// per append (headers lsn = the snapshot's point, snapshot=true), removing each copied key from
// `held` (the keys the log held as live for `t` before). Throttled and shown as progress.
status session::copy_rows(const table_info& t, const std::string& lsn, std::set<std::string>& held, std::size_t number,
                          std::size_t count) {
    auto total = query_rows(_sql.get(), "SELECT reltuples::bigint FROM pg_class WHERE oid = $1::oid", {std::to_string(t.oid)}, "snapshot");
    const std::uint64_t estimate =
        total.ok() && !total->empty() && !(*total)[0][0].empty() && (*total)[0][0][0] != '-' ? std::stoull((*total)[0][0]) : 0;
    capture_options::snapshot_progress progress{t.collection(), 0, estimate, number, count, false};
    const auto started = std::chrono::steady_clock::now();
    std::vector<record> records;
    status s = read_table(_sql.get(), t, _o.snapshot_chunk, [&](std::vector<row_record>& rows) -> status {
        if (_stop.stop_requested()) return status{errc::cancelled, "stop requested"};
        records.clear();
        for (auto& row : rows) {
            held.erase(row.key);
            record r;
            r.collection = t.collection();
            r.key = std::move(row.key);
            r.value = std::move(row.value);
            r.headers = {{"lsn", lsn}, {"snapshot", "true"}};
            records.push_back(std::move(r));
        }
        auto a = _log->append(records);
        if (!a.ok()) return a.get_status();
        progress.rows += records.size();
        _m.snapshot_rows.inc(records.size());
        if (!(_o.on_snapshot_progress && _o.on_snapshot_progress(progress)))
            lg.info("snapshot", {{"table", t.collection()}, {"rows", progress.rows}, {"estimate", estimate ? std::to_string(estimate) : "?"},
                                 {"tables_done", std::to_string(number - 1) + "/" + std::to_string(count)}});
        if (_streaming) SYNCLINE_RETURN_IF_ERROR(keep_stream_alive());
        if (const std::uint64_t rate = _o.snapshot_max_rows_per_second; rate > 0) {
            // Throttled: wait until `copied` rows are due at `rate`, waking to honour a stop.
            const auto due = started + std::chrono::microseconds(progress.rows * 1'000'000 / rate);
            while (!_stop.stop_requested() && std::chrono::steady_clock::now() < due)
                std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
                    due - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
        }
        return {};
    });
    if (s.ok()) {
        progress.done = true;
        if (_o.on_snapshot_progress) _o.on_snapshot_progress(progress);
        lg.info("snapshot table done", {{"table", t.collection()}, {"rows", progress.rows}});
    }
    return s;
}

// Delete records (headers lsn, snapshot=true) for keys the log held that a copy did not find.
std::vector<record> session::vanished(std::map<std::string, std::set<std::string>>& held, const std::string& lsn) {
    std::vector<record> gone;
    for (auto& [collection, keys] : held)
        for (const auto& key : keys) {
            record d;
            d.collection = collection;
            d.key = key;
            d.operation = op::del;
            d.headers = {{"lsn", lsn}, {"snapshot", "true"}};
            gone.push_back(std::move(d));
        }
    if (!gone.empty()) lg.info("snapshot deletes rows the log held that the snapshot no longer has", {{"deletes", gone.size()}});
    return gone;
}

status session::snapshot(const std::string& snapshot_name, std::uint64_t consistent_point) {
    SYNCLINE_RETURN_IF_ERROR(exec(_sql.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "snapshot"));
    SYNCLINE_RETURN_IF_ERROR(exec(_sql.get(), "SET TRANSACTION SNAPSHOT '" + snapshot_name + "'", "snapshot"));
    const std::string lsn = format_lsn(consistent_point);
    // Rows the log already holds for these tables (an interrupted snapshot's, an earlier slot's)
    // that this snapshot does not copy are deleted at its end, so the log's state equals it.
    const std::uint64_t snapshot_first = _log->last_offset() + 1;
    std::set<std::string> collections;
    for (const auto& t : _tables) collections.insert(t.collection());
    auto before = live_keys(*_log, collections, snapshot_first);
    if (!before.ok()) return before.get_status();
    for (std::size_t ti = 0; ti < _tables.size(); ++ti) {
        status s = copy_rows(_tables[ti], lsn, (*before)[_tables[ti].collection()], ti + 1, _tables.size());
        if (s.code() == errc::cancelled) {
            lg.info("stop requested during the snapshot: it starts again next time");
            return {};
        }
        SYNCLINE_RETURN_IF_ERROR(s);
    }
    SYNCLINE_RETURN_IF_ERROR(exec(_sql.get(), "COMMIT", "snapshot"));
    auto gone = vanished(*before, lsn);
    if (!gone.empty()) {
        auto a = _log->append(gone);
        if (!a.ok()) return a.get_status();
    }
    for (const auto& t : _tables) _copied[t.collection()] = consistent_point;
    return {};
}

// A table that joined the capture after its slot was created (tables= grew, ALTER PUBLICATION
// ... ADD TABLE) is copied in a snapshot of its own: a TEMPORARY slot created on a second
// replication connection exports a snapshot consistent with its point P; the table is read in it;
// the main stream then drops the table's changes committed before P (they are in the copy) and
// keeps those committed at or after P. The main stream waits meanwhile (docs/capture.md, "Tables
// added later").
status session::copy_added_table(const table_info& t) {
    SYNCLINE_RETURN_IF_ERROR(flush());
    SYNCLINE_RETURN_IF_ERROR(drain());
    if (_staged != 0) return status{errc::corruption, "copy of an added table inside a staged transaction"};
    const std::string collection = t.collection();
    auto copying = _log->get_meta(copying_key(_src.slot));
    if (!copying.ok()) return copying.get_status();
    // The log may hold keys of this table: an interrupted copy's, or from before it left the capture.
    const bool scan = (*copying && **copying == collection) || _removed.count(collection);
    {
        std::vector<store::meta_entry> meta{{copying_key(_src.slot), collection}};
        auto a = _log->append({}, meta);
        if (!a.ok()) return a.get_status();
    }
    auto repl = connect(_src, true);
    if (!repl.ok()) return repl.get_status();
    const std::string temp_slot = _src.slot.substr(0, 40) + "_copy_" + std::to_string(::getpid());
    PGresult* r = PQexec(repl->get(), ("CREATE_REPLICATION_SLOT " + quote_ident(temp_slot) + " TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT").c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        std::string msg = PQresultErrorMessage(r);
        PQclear(r);
        while (!msg.empty() && msg.back() == '\n') msg.pop_back();
        return status{errc::unavailable, "source " + _src.description + ": creating the temporary slot to copy " + collection + ": " + msg};
    }
    const auto point = parse_lsn(PQgetvalue(r, 0, 1));
    const std::string snapshot_name = PQgetisnull(r, 0, 2) ? "" : PQgetvalue(r, 0, 2);
    PQclear(r);
    if (!point) return status{errc::corruption, "CREATE_REPLICATION_SLOT returned a bad consistent point"};
    lg.info("copying a table added to the capture", {{"table", collection}, {"snapshot_point", format_lsn(*point)}});
    std::map<std::string, std::set<std::string>> held;
    if (scan) {
        auto before = live_keys(*_log, {collection}, _log->last_offset() + 1);
        if (!before.ok()) return before.get_status();
        held = std::move(*before);
    }
    SYNCLINE_RETURN_IF_ERROR(exec(_sql.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "copying " + collection));
    SYNCLINE_RETURN_IF_ERROR(exec(_sql.get(), "SET TRANSACTION SNAPSHOT '" + snapshot_name + "'", "copying " + collection));
    const std::string lsn = format_lsn(*point);
    status s = copy_rows(t, lsn, held[collection], 1, 1);
    if (!s.ok()) {
        (void)exec(_sql.get(), "ROLLBACK", "copying " + collection);
        if (s.code() == errc::cancelled) lg.info("stop requested while copying an added table: it is copied again next time", {{"table", collection}});
        return s;
    }
    SYNCLINE_RETURN_IF_ERROR(exec(_sql.get(), "COMMIT", "copying " + collection));
    repl->reset();  // Ends the session: the temporary slot is dropped.
    _copied[collection] = *point;
    _removed.erase(collection);
    _copy_due.erase(collection);
    auto gone = vanished(held, lsn);
    std::vector<store::meta_entry> meta{{tables_key(_src.slot), tables_json()}, {copying_key(_src.slot), ""}};
    auto a = _log->append(gone, meta);
    if (!a.ok()) return a.get_status();
    return {};
}

// The main stream is not read while an added table is copied: tell the server we are alive
// (wal_sender_timeout) every status interval.
status session::keep_stream_alive() {
    if (clock::now() < _next_feedback) return {};
    _next_feedback = clock::now() + _o.status_interval;
    return send_feedback(false);
}

std::string session::tables_json() const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [c, p] : _copied) j[c] = std::to_string(p);
    for (const auto& c : _removed) j[c] = "removed";
    return j.dump();
}

// The captured tables as the log records them: which were copied (or streamed from the slot's
// start) and from which point their changes count. A log written before the log kept them (or a
// slot the log did not create) takes the publication's tables as captured from the start.
status session::load_tables(bool known_from_start) {
    auto stored = _log->get_meta(tables_key(_src.slot));
    if (!stored.ok()) return stored.get_status();
    if (*stored) {
        auto j = nlohmann::json::parse(**stored, nullptr, false);
        if (!j.is_object()) return status{errc::corruption, "change log meta " + tables_key(_src.slot) + " is not a JSON object"};
        for (auto& [c, v] : j.items()) {
            if (!v.is_string()) continue;
            if (v == "removed") _removed.insert(c);
            else _copied[c] = std::stoull(v.get<std::string>());
        }
    } else if (known_from_start) {
        for (const auto& t : _tables) _copied[t.collection()] = 0;
    }
    // Tables that left the publication: if they come back, they are copied again.
    std::set<std::string> now;
    for (const auto& t : _tables) now.insert(t.collection());
    bool changed = !*stored;
    for (auto it = _copied.begin(); it != _copied.end();) {
        if (now.count(it->first)) { ++it; continue; }
        lg.info("table left the publication: its changes are no longer captured", {{"table", it->first}});
        _removed.insert(it->first);
        it = _copied.erase(it);
        changed = true;
    }
    if (changed) {
        std::vector<store::meta_entry> meta{{tables_key(_src.slot), tables_json()}};
        auto a = _log->append({}, meta);
        if (!a.ok()) return a.get_status();
    }
    return {};
}

// Tables of the publication the log has not captured yet (tables= grew, or ALTER PUBLICATION
// while the capture was stopped): copied now, before streaming; with snapshot=false, captured
// from now on without a copy.
status session::copy_new_tables() {
    for (const auto& t : _tables) {
        if (_copied.count(t.collection())) continue;
        if (!_src.snapshot) {
            _copied[t.collection()] = 0;
            std::vector<store::meta_entry> meta{{tables_key(_src.slot), tables_json()}};
            auto a = _log->append({}, meta);
            if (!a.ok()) return a.get_status();
            continue;
        }
        SYNCLINE_RETURN_IF_ERROR(copy_added_table(t));
    }
    return {};
}

status session::expand_truncates(transaction& txn) {
    if (txn.truncates.empty()) return {};
    std::vector<record> out;
    std::size_t next = 0;
    for (const auto& truncate : txn.truncates) {
        // Named copies, not structured bindings: clang (the fuzz build) cannot capture those.
        const std::size_t pos = truncate.first;
        const auto& collection = truncate.second;
        for (; next < pos; ++next) out.push_back(std::move(txn.records[next]));
        // The live keys of the collection: the log's records, then this transaction's so far.
        auto held = live_keys(*_log, {collection}, _log->last_offset() + 1);
        if (!held.ok()) return held.get_status();
        std::map<std::string, bool> live;
        for (const auto& key : (*held)[collection]) live[key] = true;
        // This transaction's records staged on disk (spill()) come before the ones in memory.
        status bad;
        auto staged = _log->scan_staged([&](std::uint64_t, std::string_view encoded) {
            auto r = codec::decode_record(encoded);
            if (!r.ok()) { bad = r.get_status(); return false; }
            if (r->collection == collection) live[std::string(r->key)] = r->operation == op::upsert;
            return true;
        });
        if (!staged.ok()) return staged.get_status();
        SYNCLINE_RETURN_IF_ERROR(bad);
        for (const auto& r : out)
            if (r.collection == collection) live[r.key] = r.operation == op::upsert;
        std::uint64_t deleted = 0;
        for (const auto& [key, alive] : live) {
            if (!alive) continue;
            record d;
            d.collection = collection;
            d.key = key;
            d.operation = op::del;
            d.headers = {{"xid", std::to_string(txn.xid)}, {"commit_lsn", format_lsn(txn.commit_lsn)},
                         {"commit_time", format_pg_timestamp(txn.commit_time_pg)}, {"truncate", "true"}};
            out.push_back(std::move(d));
            ++deleted;
        }
        lg.warn("TRUNCATE becomes deletes of the keys the log holds as live", {{"table", collection}, {"deletes", deleted}});
    }
    for (; next < txn.records.size(); ++next) out.push_back(std::move(txn.records[next]));
    txn.records = std::move(out);
    return {};
}

// Unchanged TOASTed columns the server did not send are read back from the table by key (what
// Debezium's "reselect" post processor does, but always on and never a placeholder). The value
// read is the row's current one: the column did not change in this update, and a later change
// to it arrives later in the stream, so the log's state converges on the source's. A row
// deleted since keeps the gap (the value lacks the column, header `unchanged_toast` names it).
status session::fill_toast_gaps(transaction& txn) {
    for (auto& gap : txn.toast_gaps) {
        std::string sql = "SELECT ";
        bool first = true;
        std::vector<std::size_t> wanted;
        for (std::size_t c = 0; c < gap.columns.size(); ++c) {
            if (!gap.missing[c]) continue;
            const std::string col = quote_ident(gap.columns[c].name);
            sql += std::string(first ? "" : ", ") + col + "::text, " + col + " IS NULL";
            first = false;
            wanted.push_back(c);
        }
        sql += " FROM ONLY " + quote_ident(gap.schema) + "." + quote_ident(gap.table) + " WHERE ";
        std::vector<std::string> params;
        bool complete = true;
        for (std::size_t i = 0; i < gap.key_index.size(); ++i) {
            const auto k = static_cast<std::size_t>(gap.key_index[i]);
            if (!gap.texts[k]) complete = false;
            sql += std::string(i ? " AND " : "") + quote_ident(gap.columns[k].name) + " = $" + std::to_string(i + 1);
            params.push_back(gap.texts[k].value_or(""));
        }
        if (!complete) continue;
        auto rows = query_rows(_sql.get(), sql, params, "reading unchanged TOASTed columns of " + gap.schema + "." + gap.table);
        if (!rows.ok()) return rows.get_status();
        if (rows->empty()) continue;
        for (std::size_t i = 0; i < wanted.size(); ++i) {
            const auto& row = (*rows)[0];
            gap.texts[wanted[i]] = row[2 * i + 1] == "t" ? std::nullopt : std::optional<std::string>(row[2 * i]);
            gap.missing[wanted[i]] = false;
        }
        record& r = txn.records[gap.record];
        r.value = row_json(gap.columns, gap.texts, gap.missing);
        for (auto& [name, value] : r.headers)
            if (name == "unchanged_toast") name = "toast_reselected";
    }
    return {};
}

// Transactions that arrive back to back are appended together (group commit): one synced
// WriteBatch holding several whole transactions is still all-or-nothing, and its position entry
// is the last one's end. The group is appended as soon as the socket has nothing more to read, a
// keepalive arrives, it holds `group_records` records, or the capture stops.
status session::commit(transaction txn) {
    if (txn.end_lsn <= std::max(_stored.load(), _pending_end)) {
        _m.skipped.inc();
        return {};
    }
    const bool staged = _staged > 0;
    SYNCLINE_RETURN_IF_ERROR(fill_toast_gaps(txn));
    if (!txn.truncates.empty()) {
        // Its deletes are computed from the log: everything before it must be there.
        SYNCLINE_RETURN_IF_ERROR(flush());
        SYNCLINE_RETURN_IF_ERROR(drain());
        SYNCLINE_RETURN_IF_ERROR(expand_truncates(txn));
    }
    if (_pending.empty()) _pending = std::move(txn.records);
    else std::move(txn.records.begin(), txn.records.end(), std::back_inserter(_pending));
    _pending_end = txn.end_lsn;
    _pending_commit_time = txn.commit_time_pg;
    ++_pending_txns;
    _m.unchanged_toast.inc(txn.unchanged_toast);
    // A transaction with staged records is made visible now (they and the rest in one append).
    if (staged || _pending.size() >= group_records) return flush();
    return {};
}

// The open transaction's records in memory passed --transaction-memory-bytes: they are staged in
// the log (invisible until its Commit's append makes the whole transaction visible at once). One
// already held (the server resends it after a restart) is dropped instead: its Commit is skipped.
status session::spill() {
    transaction part = _decoder.take_open_part();
    if (part.commit_lsn < std::max(_stored.load(), _pending_end)) return {};
    SYNCLINE_RETURN_IF_ERROR(flush());  // Earlier whole transactions go first.
    SYNCLINE_RETURN_IF_ERROR(drain());
    SYNCLINE_RETURN_IF_ERROR(fill_toast_gaps(part));
    SYNCLINE_RETURN_IF_ERROR(expand_truncates(part));
    _m.unchanged_toast.inc(part.unchanged_toast);
    if (part.records.empty()) return {};
    if (_staged_txn_lsn != part.commit_lsn) {
        _staged_txn_lsn = part.commit_lsn;
        lg.info("a big source transaction is staged in the log until its commit", {{"xid", part.xid},
                                                                                 {"memory_bytes", _o.transaction_memory_bytes}});
    }
    auto st = _log->stage(part.records);
    if (!st.ok()) return st.get_status();
    _m.staged_records.inc(part.records.size());
    _staged += part.records.size();
    return {};
}

status session::flush() {
    if (_pending_txns == 0) return {};
    append_job job;
    job.records = std::move(_pending);
    _pending = {};
    job.meta[position_key(_src.slot)] = std::to_string(_pending_end);
    if (_tables_dirty) job.meta[tables_key(_src.slot)] = tables_json();
    job.end = _pending_end;
    job.commit_time = _pending_commit_time;
    job.txns = _pending_txns;
    job.staged = _staged;
    _tables_dirty = false;
    _pending_txns = 0;
    _staged = 0;
    if (!_appender.joinable()) return append_now(job);
    std::unique_lock lock(_amu);
    // Bounded: while the appender is behind, the main thread waits (memory holds ~2 groups).
    _adone.wait(lock, [&] { return _queued_records < 2 * group_records || !_aerr.ok(); });
    if (!_aerr.ok()) return _aerr;
    _queued_records += job.records.size();
    _queue.push_back(std::move(job));
    _acv.notify_one();
    return {};
}

status session::append_now(append_job& job) {
    std::vector<store::meta_entry> meta;
    for (auto& [key, value] : job.meta) meta.push_back({key, value});
    const auto t0 = clock::now();
    auto a = _log->append(job.records, meta);
    _append_time += clock::now() - t0;
    if (!a.ok()) return a.get_status();
    ++_appends;
    _stored = job.end;
    _m.changes.inc(job.records.size() + job.staged);
    _m.transactions.inc(job.txns);
    const double lag_ms = static_cast<double>(now_pg_micros() - job.commit_time) / 1000.0;
    _m.lag_seconds.set(std::max(0.0, lag_ms / 1000.0));
    return {};
}

// Takes every queued job (up to group_records records) into one append: group commit also of
// what queued up during the previous fsync. After a failure nothing more is appended (order).
void session::appender_loop() {
    std::unique_lock lock(_amu);
    for (;;) {
        _acv.wait(lock, [&] { return _astop || !_queue.empty(); });
        if (_queue.empty()) return;
        append_job merged = std::move(_queue.front());
        _queue.pop_front();
        while (!_queue.empty() && merged.records.size() + _queue.front().records.size() <= group_records) {
            append_job& next = _queue.front();
            std::move(next.records.begin(), next.records.end(), std::back_inserter(merged.records));
            for (auto& [key, value] : next.meta) merged.meta[key] = std::move(value);
            merged.end = next.end;
            merged.commit_time = next.commit_time;
            merged.txns += next.txns;
            merged.staged += next.staged;
            _queue.pop_front();
        }
        _queued_records -= std::min(_queued_records, merged.records.size());
        _abusy = true;
        lock.unlock();
        status s = _aerr.ok() ? append_now(merged) : status{};
        lock.lock();
        _abusy = false;
        if (!s.ok() && _aerr.ok()) {
            _aerr = s;
            _append_failed = true;
        }
        _adone.notify_all();
    }
}

// Waits until everything flushed is durable (or failed): then the main thread may use the log.
status session::drain() {
    if (!_appender.joinable()) return {};
    std::unique_lock lock(_amu);
    _adone.wait(lock, [&] { return (_queue.empty() && !_abusy) || !_aerr.ok(); });
    return _aerr;
}

void session::stop_appender() {
    if (!_appender.joinable()) return;
    {
        std::lock_guard lock(_amu);
        _astop = true;
    }
    _acv.notify_all();
    _appender.join();
}

status session::send_feedback(bool reply_requested) {
    const std::uint64_t pos = std::max(_stored.load(), _idle_pos);
    std::string msg = "r";
    put_be64(msg, pos);  // written
    put_be64(msg, pos);  // flushed: durable in the log
    put_be64(msg, pos);  // applied
    put_be64(msg, static_cast<std::uint64_t>(now_pg_micros()));
    msg.push_back(reply_requested ? 1 : 0);
    if (PQputCopyData(_repl.get(), msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(_repl.get()) != 0)
        return status{errc::unavailable, "source " + _src.description + ": sending feedback: " + PQerrorMessage(_repl.get())};
    _confirmed = pos;
    _m.confirmed_lsn.set(static_cast<double>(pos));
    return {};
}

void session::poll_slot_stats() {
    auto stats = query_rows(_sql.get(),
                            "SELECT coalesce((pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, 0), "
                            "coalesce((pg_current_wal_lsn() - restart_lsn)::bigint, 0) FROM pg_replication_slots WHERE slot_name = $1",
                            {_src.slot}, "slot stats");
    if (!stats.ok() || stats->empty()) return;  // Metrics only: the stream decides about failures.
    const double lag = std::stod((*stats)[0][0]), retained = std::stod((*stats)[0][1]);
    _m.slot_lag_bytes.set(lag);
    _m.retained_wal_bytes.set(retained);
    if (retained > static_cast<double>(_o.wal_warn_bytes) && _wal_warning.allow())
        lg.warn("the slot retains WAL past the threshold (the server keeps WAL until the capture confirms it; drop the "
                "slot if the capture is retired)",
                {{"slot", _src.slot}, {"retained_bytes", (*stats)[0][1]}, {"threshold", _o.wal_warn_bytes}});
}

status session::stream(metrics::health& health) {
    std::string cmd = "START_REPLICATION SLOT " + quote_ident(_src.slot) + " LOGICAL " + format_lsn(_stored.load()) +
                      " (proto_version '1', publication_names '";
    for (char c : quote_ident(_src.publication)) cmd += c == '\'' ? std::string("''") : std::string(1, c);
    cmd += "')";
    PGresult* r = PQexec(_repl.get(), cmd.c_str());
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        std::string msg = PQresultErrorMessage(r);
        PQclear(r);
        while (!msg.empty() && msg.back() == '\n') msg.pop_back();
        return status{errc::unavailable, "source " + _src.description + ": START_REPLICATION: " + msg};
    }
    PQclear(r);
    lg.info("streaming", {{"slot", _src.slot}, {"publication", _src.publication}, {"from", format_lsn(_stored.load())},
                          {"tables", _tables.size()}});
    health.set_ready(true);
    _streaming = true;
    _next_feedback = clock::now();
    _appender = std::thread([this] { appender_loop(); });
    for (;;) {
        health.beat();
        if (_append_failed) return drain();
        if (_stop.stop_requested() && !_decoder.in_transaction()) break;
        char* buf = nullptr;
        const int n = PQgetCopyData(_repl.get(), &buf, 1);
        if (n == 0) {
            SYNCLINE_RETURN_IF_ERROR(flush());  // Nothing more to read now: append what arrived.
            if (clock::now() >= _next_feedback) {
                SYNCLINE_RETURN_IF_ERROR(send_feedback(false));
                poll_slot_stats();
                _next_feedback = clock::now() + _o.status_interval;
            }
            pollfd pfd{PQsocket(_repl.get()), POLLIN, 0};
            ::poll(&pfd, 1, 100);
            if (PQconsumeInput(_repl.get()) == 0)
                return status{errc::unavailable, "source " + _src.description + ": " + PQerrorMessage(_repl.get())};
            continue;
        }
        if (n < 0) {
            SYNCLINE_RETURN_IF_ERROR(flush());  // Whole transactions received before the end still count.
            SYNCLINE_RETURN_IF_ERROR(drain());
            std::string msg = PQerrorMessage(_repl.get());
            while (!msg.empty() && msg.back() == '\n') msg.pop_back();
            return status{errc::unavailable, "source " + _src.description + ": replication stream ended" +
                                                 (msg.empty() ? "" : ": " + msg)};
        }
        std::string_view data(buf, static_cast<std::size_t>(n));
        status s;
        bool reply = false;
        if (data[0] == 'w' && data.size() >= 25) {
            const std::uint64_t start = get_be64(data.data() + 1);
            s = _decoder.decode(data.substr(25), start);
            if (s.ok() && _o.max_transaction_records > 0 &&
                _decoder.pending_records() + _staged > _o.max_transaction_records)
                s = status{errc::invalid_argument, "a source transaction holds more than --max-transaction-records=" +
                                                       std::to_string(_o.max_transaction_records) + " changes"};
            if (s.ok() && _decoder.in_transaction() && _decoder.pending_bytes() > _o.transaction_memory_bytes) s = spill();
            if (s.ok())
                if (auto txn = _decoder.take_committed()) s = commit(std::move(*txn));
            // Tables that joined the publication: copied between transactions.
            while (s.ok() && !_copy_due.empty() && !_decoder.in_transaction()) {
                const std::string collection = *_copy_due.begin();
                auto t = std::find_if(_tables.begin(), _tables.end(), [&](const table_info& x) { return x.collection() == collection; });
                if (t == _tables.end()) s = status{errc::corruption, "no description of " + collection};
                else s = copy_added_table(*t);
            }
        } else if (data[0] == 'k' && data.size() >= 18) {
            const std::uint64_t wal_end = get_be64(data.data() + 1);
            reply = data[17] != 0;
            s = flush();
            if (s.ok()) s = drain();  // confirmable only once durable
            // Nothing open and everything received appended: the server may forget up to here.
            if (s.ok() && !_decoder.in_transaction() && wal_end > _idle_pos) {
                _idle_pos = wal_end;
                _m.lag_seconds.set(0);
            }
        }
        PQfreemem(buf);
        if (s.code() == errc::cancelled) break;  // a stop while copying an added table
        SYNCLINE_RETURN_IF_ERROR(s);
        if (reply || clock::now() >= _next_feedback) {
            SYNCLINE_RETURN_IF_ERROR(send_feedback(false));
            poll_slot_stats();
            _next_feedback = clock::now() + _o.status_interval;
        }
    }
    SYNCLINE_RETURN_IF_ERROR(flush());
    SYNCLINE_RETURN_IF_ERROR(drain());
    stop_appender();
    SYNCLINE_RETURN_IF_ERROR(send_feedback(false));
    lg.info("stopped", {{"slot", _src.slot}, {"confirmed", format_lsn(_confirmed)}, {"appends", _appends},
                        {"append_ms", std::chrono::duration_cast<std::chrono::milliseconds>(_append_time).count()},
                        {"transactions", _m.transactions.value()}});
    return {};
}

status session::run(metrics::health& health) {
    auto log = store::change_log::open_writer({_o.log, true, true});
    if (!log.ok()) return log.get_status();
    _log = std::move(*log);
    auto sql = connect(_src, false);
    if (!sql.ok()) return sql.get_status();
    _sql = std::move(*sql);
    SYNCLINE_RETURN_IF_ERROR(check_source());
    auto repl = connect(_src, true);
    if (!repl.ok()) return repl.get_status();
    _repl = std::move(*repl);
    SYNCLINE_RETURN_IF_ERROR(prepare_slot());
    if (_stop.stop_requested()) return {};
    if (status s = copy_new_tables(); !s.ok()) return s.code() == errc::cancelled ? status{} : s;
    if (_stop.stop_requested()) return {};
    return stream(health);
}

}  // namespace

std::string position_key(const std::string& slot) { return "capture/" + slot + "/lsn"; }

result<cli_outcome> parse_cli(int argc, const char* const* argv) {
    namespace po = cli::po;
    cli_outcome out;
    auto& o = out.options;
    int status_ms = static_cast<int>(o.status_interval.count());
    po::options_description desc("capture options");
    desc.add_options()
        ("log", po::value(&o.log)->required(), "change log directory (created if missing)")
        ("source", po::value(&o.source)->required(),
         "postgresql://USER@HOST[:PORT]/DB?publication=P&slot=S[&tables=a,b][&create=true][&snapshot=false]"
         "[&password_file=PATH|&password_env=VAR] (docs/capture.md)")
        ("status-interval-ms", po::value(&status_ms)->default_value(status_ms),
         "how often the confirmed position is sent to the server (heartbeat on an idle source)")
        ("snapshot-chunk", po::value(&o.snapshot_chunk)->default_value(o.snapshot_chunk), "rows per snapshot append")
        ("snapshot-max-rows-per-second", po::value(&o.snapshot_max_rows_per_second)->default_value(0),
         "throttle the initial snapshot so it does not load the source (0 = unthrottled)")
        ("wal-warn-bytes", po::value(&o.wal_warn_bytes)->default_value(o.wal_warn_bytes),
         "warn when the slot retains more WAL than this")
        ("transaction-memory-bytes", po::value(&o.transaction_memory_bytes)->default_value(o.transaction_memory_bytes),
         "records of an open source transaction held in memory; past it they are staged in the log until its commit")
        ("max-transaction-records", po::value(&o.max_transaction_records)->default_value(o.max_transaction_records),
         "a source transaction with more changes fails the capture (0 = no limit)");
    metrics::add_endpoint_options(desc, o.metrics);
    auto parsed = cli::parse(argc, argv, desc,
                             "usage: syncline-capture --log DIR --source 'postgresql://USER@HOST/DB?publication=P&slot=S'");
    if (!parsed.ok()) return parsed.get_status();
    out.exit_now = parsed->exit_now;
    if (out.exit_now) return out;
    SYNCLINE_RETURN_IF_ERROR(metrics::validate_endpoint_options(o.metrics));
    if (status_ms < 10 || status_ms > 600'000)
        return status{errc::invalid_argument, "--status-interval-ms must be between 10 and 600000"};
    o.status_interval = std::chrono::milliseconds(status_ms);
    if (o.snapshot_chunk < 1 || o.snapshot_chunk > 100'000)
        return status{errc::invalid_argument, "--snapshot-chunk must be between 1 and 100000"};
    if (o.transaction_memory_bytes < 1024) return status{errc::invalid_argument, "--transaction-memory-bytes must be at least 1024"};
    auto src = parse_source_uri(o.source, true);
    if (!src.ok()) return src.get_status();
    return out;
}

status run(const capture_options& options, const stop_flag& stop) {
    auto src = parse_source_uri(options.source, true);
    if (!src.ok()) return src.get_status();
    metrics::registry registry(metrics::const_labels{{"slot", src->slot}});
    capture_metrics m(registry);
    metrics::health health;
    health.set_ready(false, "connecting to the source");
    auto endpoint = metrics::serve(options.metrics, registry, health, "capture");
    if (!endpoint.ok()) return endpoint.get_status();
    session s(options, std::move(*src), stop, m);
    return s.run(health);
}

}  // namespace syncline::capture
