#pragma once
// capture/pgoutput.h: decodes the messages of PostgreSQL's built-in `pgoutput` plugin
// (protocol version 1: Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate,
// Message) into whole transactions of records (docs/capture.md, "Records"):
//   collection "schema.table", key per capture/pg_values.h encode_key, op upsert/delete, value the
//   new row as a JSON object (deletes: empty), headers lsn (the change), xid, commit_lsn,
//   commit_time (ISO-8601 UTC).
// An UPDATE that changes the key becomes a delete of the old key and an upsert of the new one.
// Unchanged TOASTed columns (pgoutput's 'u': the server did not send the value) take the old
// row's value when the server sent one (REPLICA IDENTITY FULL); otherwise the column is left out
// of the value, named in the header `unchanged_toast` (comma-separated) and listed in
// transaction::toast_gaps for the capture to read back: never a placeholder.
// A TRUNCATE is kept in the transaction as a marker at its position (the capture expands it).
// Errors: corruption for a malformed or unexpected message (naming its type and the LSN);
// the key lookup's own errors. Not thread-safe.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture/source.h"
#include "common/record.h"
#include "common/status.h"

namespace syncline::capture {

// A row change whose value lacks unchanged TOASTed columns (the server did not send them): what
// the capture needs to read them back from the table (capture.cc) and rebuild the value.
struct toast_gap {
    std::size_t record = 0;  // Index into transaction::records.
    std::string schema, table;
    std::vector<column_info> columns;
    std::vector<std::optional<std::string>> texts;  // Per column: the text sent (nullopt: NULL).
    std::vector<bool> missing;                       // Per column: not sent.
    std::vector<int> key_index;
};

// The JSON object of a row from its columns' texts (as pgoutput and the snapshot build it);
// columns with `skip[i]` set are left out.
std::string row_json(const std::vector<column_info>& columns, const std::vector<std::optional<std::string>>& texts,
                     const std::vector<bool>& skip);

struct transaction {
    std::uint32_t xid = 0;
    std::uint64_t commit_lsn = 0;  // The commit record's LSN (Begin's final LSN).
    std::uint64_t end_lsn = 0;     // The end of the commit record: the position to confirm.
    std::int64_t commit_time_pg = 0;  // Microseconds since 2000-01-01 UTC.
    std::vector<record> records;
    // (position in `records`, collection) of each TRUNCATE, in order.
    std::vector<std::pair<std::size_t, std::string>> truncates;
    std::uint64_t unchanged_toast = 0;  // Columns left out because the server did not send them.
    std::vector<toast_gap> toast_gaps;
};

class pgoutput_decoder {
public:
    // Looks a table up by its qualified name when a Relation message names it (key columns).
    using table_lookup = std::function<result<table_info>(const std::string& schema, const std::string& name)>;
    explicit pgoutput_decoder(table_lookup lookup) : _lookup(std::move(lookup)) {}

    // One message (the payload of an XLogData) whose WAL position is `lsn`.
    status decode(std::string_view message, std::uint64_t lsn);

    // Row changes and TRUNCATEs of a collection for which `keep(collection, commit_lsn)` is false
    // are dropped (the capture's tables copied later: their changes committed before the copy's
    // snapshot are in the copy). Default: keep everything.
    using change_filter = std::function<bool(const std::string& collection, std::uint64_t commit_lsn)>;
    void set_filter(change_filter keep) { _keep = std::move(keep); }

    bool in_transaction() const noexcept { return _open; }
    // Records buffered for the open transaction (since Begin or the last take_open_part()).
    std::size_t pending_records() const noexcept { return _current.records.size(); }
    // Their approximate memory: keys, values and headers.
    std::size_t pending_bytes() const noexcept { return _pending_bytes; }
    // The open transaction's commit LSN (its Begin's final LSN); 0 outside a transaction.
    std::uint64_t open_commit_lsn() const noexcept { return _open ? _current.commit_lsn : 0; }
    // Moves the open transaction's buffered records (with their TOAST gaps and TRUNCATE markers,
    // indices relative to the part) out, so the capture can stage them and bound its memory; the
    // transaction stays open and its Commit completes the rest. Outside a transaction: empty.
    transaction take_open_part();
    // The transaction the last Commit completed (once).
    std::optional<transaction> take_committed();

private:
    struct relation {
        std::string schema, table;
        std::string collection;
        std::vector<column_info> columns;
        std::vector<int> key_index;  // Into columns, in column order.
    };
    struct tuple_value {
        char kind = 'n';  // 'n' NULL, 'u' unchanged TOAST, 't' text
        std::string_view text;
    };
    status add_row_change(char type, std::string_view body, std::uint64_t lsn);
    void add_headers(record& r, std::uint64_t lsn) const;

    table_lookup _lookup;
    change_filter _keep;
    std::size_t _pending_bytes = 0;
    std::string _xid_text, _commit_lsn_text, _commit_time_text;  // the open transaction's headers
    std::map<std::uint32_t, relation> _relations;
    bool _open = false;
    transaction _current;
    std::optional<transaction> _committed;
};

}  // namespace syncline::capture
