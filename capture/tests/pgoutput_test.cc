// capture/pgoutput.h on hand-built pgoutput messages: whole transactions, key changes, and
// malformed input refused with corruption (never a crash, never a half transaction).
#include "capture/pgoutput.h"

#include <gtest/gtest.h>

namespace syncline::capture {
namespace {

struct msg {
    std::string b;
    msg& byte(char c) { b.push_back(c); return *this; }
    msg& u(std::uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
        return *this;
    }
    msg& str(const std::string& s) { b += s; b.push_back('\0'); return *this; }
    msg& text(const std::string& s) { byte('t'); u(s.size(), 4); b += s; return *this; }
};

std::string relation() {
    msg m;
    m.byte('R').u(16384, 4).str("public").str("t").byte('d').u(2, 2);
    m.byte(1).str("id").u(23, 4).u(0xffffffff, 4);
    m.byte(0).str("v").u(25, 4).u(0xffffffff, 4);
    return m.b;
}

pgoutput_decoder decoder() {
    return pgoutput_decoder([](const std::string& schema, const std::string& name) -> result<table_info> {
        table_info t;
        t.schema = schema;
        t.name = name;
        t.columns = {{"id", 23}, {"v", 25}};
        t.key_columns = {"id"};
        return t;
    });
}

TEST(Pgoutput, DecodesAWholeTransactionWithAKeyChange) {
    auto d = decoder();
    ASSERT_TRUE(d.decode(relation(), 1).ok());
    ASSERT_TRUE(d.decode(msg().byte('B').u(0x500, 8).u(0, 8).u(77, 4).b, 2).ok());
    ASSERT_TRUE(d.decode(msg().byte('I').u(16384, 4).byte('N').u(2, 2).text("1").text("a").b, 3).ok());
    ASSERT_TRUE(d.decode(msg().byte('U').u(16384, 4).byte('K').u(2, 2).text("1").byte('n').byte('N').u(2, 2).text("2").byte('n').b, 4).ok());
    ASSERT_TRUE(d.decode(msg().byte('D').u(16384, 4).byte('K').u(2, 2).text("2").byte('n').b, 5).ok());
    EXPECT_FALSE(d.take_committed());
    ASSERT_TRUE(d.decode(msg().byte('C').byte(0).u(0x500, 8).u(0x528, 8).u(0, 8).b, 6).ok());
    auto txn = d.take_committed();
    ASSERT_TRUE(txn);
    EXPECT_EQ(txn->end_lsn, 0x528u);
    ASSERT_EQ(txn->records.size(), 4u);
    EXPECT_EQ(txn->records[0].value, "{\"id\":1,\"v\":\"a\"}");
    EXPECT_EQ(txn->records[1].operation, op::del);  // the key changed 1 -> 2
    EXPECT_EQ(txn->records[1].key, "1");
    EXPECT_EQ(txn->records[2].key, "2");
    EXPECT_EQ(txn->records[2].value, "{\"id\":2,\"v\":null}");
    EXPECT_EQ(txn->records[3].operation, op::del);
    EXPECT_EQ(txn->records[0].headers[1], (std::pair<std::string, std::string>{"xid", "77"}));
}

TEST(Pgoutput, MalformedMessagesAreRefused) {
    auto d = decoder();
    ASSERT_TRUE(d.decode(relation(), 1).ok());
    EXPECT_EQ(d.decode("", 1).code(), errc::corruption);
    EXPECT_EQ(d.decode("Z", 1).code(), errc::corruption);
    EXPECT_EQ(d.decode(msg().byte('I').u(16384, 4).byte('N').u(2, 2).text("1").text("a").b, 2).code(), errc::corruption)
        << "a change outside a transaction";
    ASSERT_TRUE(d.decode(msg().byte('B').u(0x500, 8).u(0, 8).u(1, 4).b, 2).ok());
    EXPECT_EQ(d.decode(msg().byte('I').u(99, 4).byte('N').u(2, 2).text("1").text("a").b, 3).code(), errc::corruption)
        << "unknown relation";
    EXPECT_EQ(d.decode(msg().byte('I').u(16384, 4).byte('N').u(3, 2).text("1").text("a").b, 3).code(), errc::corruption)
        << "wrong column count";
    std::string cut = msg().byte('I').u(16384, 4).byte('N').u(2, 2).text("1").text("abcdef").b;
    for (std::size_t n = 1; n < cut.size(); ++n) EXPECT_EQ(d.decode(cut.substr(0, n), 3).code(), errc::corruption) << n;
    EXPECT_EQ(d.decode(msg().byte('C').byte(0).u(0x999, 8).u(0x9a0, 8).u(0, 8).b, 4).code(), errc::corruption)
        << "a commit LSN unlike its Begin's";
    EXPECT_FALSE(d.take_committed());
}

}  // namespace
}  // namespace syncline::capture
