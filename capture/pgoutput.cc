#include "capture/pgoutput.h"

#include "capture/pg_values.h"
#include "targets/internal/json_text.h"

namespace syncline::capture {
namespace {

// Big-endian reader over one message; every read checks the bounds.
class reader {
public:
    explicit reader(std::string_view data) : _d(data) {}
    bool ok() const { return _ok; }
    bool done() const { return _d.empty(); }
    std::uint64_t u(std::size_t n) {
        if (_d.size() < n) { _ok = false; _d = {}; return 0; }
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(_d[i]);
        _d.remove_prefix(n);
        return v;
    }
    char byte() { return static_cast<char>(u(1)); }
    std::string_view cstring() {
        auto nul = _d.find('\0');
        if (nul == std::string_view::npos) { _ok = false; _d = {}; return {}; }
        auto s = _d.substr(0, nul);
        _d.remove_prefix(nul + 1);
        return s;
    }
    std::string_view bytes(std::size_t n) {
        if (_d.size() < n) { _ok = false; _d = {}; return {}; }
        auto s = _d.substr(0, n);
        _d.remove_prefix(n);
        return s;
    }

private:
    std::string_view _d;
    bool _ok = true;
};

}  // namespace

std::string row_json(const std::vector<column_info>& columns, const std::vector<std::optional<std::string>>& texts,
                     const std::vector<bool>& skip) {
    std::string out = "{";
    bool first = true;
    for (std::size_t c = 0; c < columns.size(); ++c) {
        if (skip[c]) continue;
        if (!first) out += ',';
        first = false;
        targets::internal::append_json_string(out, columns[c].name);
        out += ':';
        append_value_json(out, {columns[c].type_oid, texts[c] ? std::optional<std::string_view>(*texts[c]) : std::nullopt});
    }
    return out + "}";
}

std::optional<transaction> pgoutput_decoder::take_committed() {
    auto t = std::move(_committed);
    _committed.reset();
    return t;
}

transaction pgoutput_decoder::take_open_part() {
    transaction part;
    if (!_open) return part;
    part.xid = _current.xid;
    part.commit_lsn = _current.commit_lsn;
    part.commit_time_pg = _current.commit_time_pg;
    part.records = std::move(_current.records);
    part.truncates = std::move(_current.truncates);
    part.toast_gaps = std::move(_current.toast_gaps);
    part.unchanged_toast = _current.unchanged_toast;
    _current.records.clear();
    _current.truncates.clear();
    _current.toast_gaps.clear();
    _current.unchanged_toast = 0;
    _pending_bytes = 0;
    return part;
}

void pgoutput_decoder::add_headers(record& r, std::uint64_t lsn) const {
    r.headers.reserve(4);
    r.headers.emplace_back("lsn", format_lsn(lsn));
    r.headers.emplace_back("xid", _xid_text);
    r.headers.emplace_back("commit_lsn", _commit_lsn_text);
    r.headers.emplace_back("commit_time", _commit_time_text);
}

status pgoutput_decoder::decode(std::string_view message, std::uint64_t lsn) {
    auto bad = [&](std::string_view why) {
        return status{errc::corruption, "pgoutput message '" + std::string(message.substr(0, 1)) + "' at " +
                                            format_lsn(lsn) + ": " + std::string(why)};
    };
    if (message.empty()) return bad("empty");
    reader in(message.substr(1));
    switch (message[0]) {
    case 'B': {
        if (_open) return bad("Begin inside a transaction");
        _current = transaction{};
        _current.commit_lsn = in.u(8);
        _current.commit_time_pg = static_cast<std::int64_t>(in.u(8));
        _current.xid = static_cast<std::uint32_t>(in.u(4));
        if (!in.ok()) return bad("truncated");
        _open = true;
        _pending_bytes = 0;
        // The same for every change of the transaction: formatted once.
        _xid_text = std::to_string(_current.xid);
        _commit_lsn_text = format_lsn(_current.commit_lsn);
        _commit_time_text = format_pg_timestamp(_current.commit_time_pg);
        return {};
    }
    case 'C': {
        if (!_open) return bad("Commit outside a transaction");
        in.u(1);  // flags
        const std::uint64_t commit_lsn = in.u(8);
        _current.end_lsn = in.u(8);
        _current.commit_time_pg = static_cast<std::int64_t>(in.u(8));
        if (!in.ok()) return bad("truncated");
        if (commit_lsn != _current.commit_lsn) return bad("Commit LSN differs from its Begin's");
        _open = false;
        _committed = std::move(_current);
        _current = transaction{};
        return {};
    }
    case 'O': case 'Y': case 'M':
        return {};  // Origin, Type, logical decoding Message: nothing to record.
    case 'R': {
        const auto oid = static_cast<std::uint32_t>(in.u(4));
        const std::string schema(in.cstring());
        const std::string name(in.cstring());
        in.u(1);  // replica identity setting
        const auto natts = in.u(2);
        relation rel;
        rel.schema = schema;
        rel.table = name;
        rel.collection = schema + "." + name;
        for (std::uint64_t i = 0; i < natts && in.ok(); ++i) {
            in.u(1);  // flags (part of the replica identity); the key is our own choice below
            column_info c;
            c.name = std::string(in.cstring());
            c.type_oid = static_cast<std::uint32_t>(in.u(4));
            in.u(4);  // typmod
            rel.columns.push_back(std::move(c));
        }
        if (!in.ok()) return bad("truncated");
        auto table = _lookup(schema, name);
        if (!table.ok()) return table.get_status();
        for (const auto& k : table->key_columns) {
            int found = -1;
            for (std::size_t i = 0; i < rel.columns.size(); ++i)
                if (rel.columns[i].name == k) found = static_cast<int>(i);
            if (found < 0) return status{errc::invalid_argument, "table " + rel.collection + ": key column " + k + " is not sent"};
            rel.key_index.push_back(found);
        }
        _relations[oid] = std::move(rel);
        return {};
    }
    case 'I': case 'U': case 'D':
        if (!_open) return bad("row change outside a transaction");
        return add_row_change(message[0], message.substr(1), lsn);
    case 'T': {
        if (!_open) return bad("Truncate outside a transaction");
        const auto n = in.u(4);
        in.u(1);  // options (CASCADE, RESTART IDENTITY)
        for (std::uint64_t i = 0; i < n && in.ok(); ++i) {
            const auto oid = static_cast<std::uint32_t>(in.u(4));
            auto rel = _relations.find(oid);
            if (rel == _relations.end()) return bad("unknown relation " + std::to_string(oid));
            if (_keep && !_keep(rel->second.collection, _current.commit_lsn)) continue;
            _current.truncates.emplace_back(_current.records.size(), rel->second.collection);
        }
        if (!in.ok()) return bad("truncated");
        return {};
    }
    default:
        return bad("unknown message type");
    }
}

status pgoutput_decoder::add_row_change(char type, std::string_view body, std::uint64_t lsn) {
    reader in(body);
    const auto oid = static_cast<std::uint32_t>(in.u(4));
    auto it = _relations.find(oid);
    auto bad = [&](std::string_view why) {
        return status{errc::corruption, "pgoutput message '" + std::string(1, type) + "' at " + format_lsn(lsn) + ": " +
                                            std::string(why)};
    };
    if (!in.ok()) return bad("truncated");
    if (it == _relations.end()) return bad("unknown relation " + std::to_string(oid));
    const relation& rel = it->second;
    if (_keep && !_keep(rel.collection, _current.commit_lsn)) return {};
    auto push = [&](record&& r) {
        _pending_bytes += r.key.size() + r.value.size() + 160;  // + headers and the record itself
        _current.records.push_back(std::move(r));
    };
    auto read_tuple = [&](std::vector<tuple_value>& out) -> bool {
        const auto n = in.u(2);
        if (!in.ok() || n != rel.columns.size()) return false;
        out.assign(n, {});
        for (std::uint64_t i = 0; i < n; ++i) {
            out[i].kind = in.byte();
            if (out[i].kind == 't' || out[i].kind == 'b') {
                const auto len = in.u(4);
                out[i].text = in.bytes(len);
                if (out[i].kind == 'b') return false;  // Binary mode is never asked for.
            } else if (out[i].kind != 'n' && out[i].kind != 'u') {
                return false;
            }
        }
        return in.ok();
    };
    // `key_only`: a 'K' tuple, whose columns outside the replica identity are sent as NULL.
    auto key_of = [&](const std::vector<tuple_value>& tuple, bool key_only = false) -> std::optional<std::string> {
        std::vector<column_text> key;
        for (int k : rel.key_index) {
            const auto& v = tuple[static_cast<std::size_t>(k)];
            if (v.kind == 'u' || (key_only && v.kind == 'n')) return std::nullopt;  // not sent
            key.push_back({rel.columns[static_cast<std::size_t>(k)].type_oid,
                           v.kind == 't' ? std::optional<std::string_view>(v.text) : std::nullopt});
        }
        return encode_key(key);
    };
    std::vector<tuple_value> old_tuple, new_tuple;
    bool has_old = false, old_key_only = false;
    char kind = in.byte();
    if (type != 'I' && (kind == 'K' || kind == 'O')) {
        if (!read_tuple(old_tuple)) return bad("malformed old tuple");
        has_old = true;
        old_key_only = kind == 'K';
        if (type == 'U') kind = in.byte();
    }
    if (type == 'D') {
        if (!has_old) return bad("Delete without a key");
        auto key = key_of(old_tuple, old_key_only);
        if (!key) return bad("Delete of " + rel.collection + " without its key columns");
        record r;
        r.collection = rel.collection;
        r.key = std::move(*key);
        r.operation = op::del;
        add_headers(r, lsn);
        push(std::move(r));
        return {};
    }
    if (kind != 'N' || !read_tuple(new_tuple)) return bad("malformed new tuple");
    record r;
    r.collection = rel.collection;
    std::string unchanged;
    std::vector<std::optional<std::string>> texts(rel.columns.size());
    std::vector<bool> missing(rel.columns.size(), false);
    for (std::size_t c = 0; c < rel.columns.size(); ++c) {
        const tuple_value* v = &new_tuple[c];
        if (v->kind == 'u' && has_old && old_tuple[c].kind != 'u') v = &old_tuple[c];
        if (v->kind == 'u') {
            if (!unchanged.empty()) unchanged += ',';
            unchanged += rel.columns[c].name;
            ++_current.unchanged_toast;
            missing[c] = true;
            continue;
        }
        if (v->kind == 't') texts[c] = std::string(v->text);
    }
    r.value = row_json(rel.columns, texts, missing);
    auto key = key_of(new_tuple);
    if (!key && has_old) key = key_of(old_tuple, old_key_only);  // a key column left unchanged and TOASTed
    if (!key) return bad("row of " + rel.collection + " without its key columns");
    if (type == 'U' && has_old) {
        if (auto old_key = key_of(old_tuple, old_key_only); old_key && *old_key != *key) {
            record d;
            d.collection = rel.collection;
            d.key = std::move(*old_key);
            d.operation = op::del;
            add_headers(d, lsn);
            push(std::move(d));
        }
    }
    r.key = std::move(*key);
    add_headers(r, lsn);
    if (!unchanged.empty()) {
        r.headers.emplace_back("unchanged_toast", std::move(unchanged));
        toast_gap gap{_current.records.size(), rel.schema, rel.table, rel.columns, std::move(texts), std::move(missing), rel.key_index};
        // The key columns' texts for the lookup (an unchanged TOASTed key column comes from the old tuple).
        for (int k : rel.key_index) {
            const auto i = static_cast<std::size_t>(k);
            if (!gap.texts[i] && has_old && old_tuple[i].kind == 't') gap.texts[i] = std::string(old_tuple[i].text);
        }
        _current.toast_gaps.push_back(std::move(gap));
    }
    push(std::move(r));
    return {};
}

}  // namespace syncline::capture
