// gateway_test_producer: a producer process for the gateway's integration tests (and a worked
// example of gateway/client.h). Publishes REQUESTS requests of RECORDS records each, with keys
// "<producer>-<sequence>-<i>", retrying each until the gateway acknowledges it, and appends one
// line "sequence first last count duplicate" per acknowledged request to ORACLE (flushed at once),
// the producer-side record of what the gateway promised.
// usage: gateway_test_producer ENDPOINT PRODUCER REQUESTS RECORDS ORACLE
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/client.h"

int main(int argc, char** argv) {
    using namespace syncline;
    if (argc != 6) {
        std::fprintf(stderr, "usage: gateway_test_producer ENDPOINT PRODUCER REQUESTS RECORDS ORACLE\n");
        return 2;
    }
    gateway::client_options o;
    o.endpoint = argv[1];
    o.producer = argv[2];
    const int requests = std::atoi(argv[3]);
    const int per_request = std::atoi(argv[4]);
    o.reply_timeout = std::chrono::milliseconds(300);
    o.give_up_after = std::chrono::seconds(60);
    o.retry_backoff = std::chrono::milliseconds(20);
    std::FILE* oracle = std::fopen(argv[5], "a");
    if (oracle == nullptr) return 1;
    auto c = gateway::client::connect(o);
    if (!c.ok()) {
        std::fprintf(stderr, "connect: %s\n", c.get_status().message().c_str());
        return 1;
    }
    std::vector<record> batch(static_cast<std::size_t>(per_request));
    while ((*c)->next_sequence() <= static_cast<std::uint64_t>(requests)) {
        const std::uint64_t seq = (*c)->next_sequence();
        for (int i = 0; i < per_request; ++i) {
            batch[i].collection = "items";
            batch[i].key = o.producer + "-" + std::to_string(seq) + "-" + std::to_string(i);
            batch[i].value = "{\"seq\":" + std::to_string(seq) + "}";
        }
        auto ack = (*c)->publish(batch);
        if (!ack.ok()) {
            if (ack.get_status().code() == errc::unavailable) continue;  // Same sequence again.
            std::fprintf(stderr, "publish: %s\n", ack.get_status().message().c_str());
            return 1;
        }
        std::fprintf(oracle, "%llu %llu %llu %llu %d\n", static_cast<unsigned long long>(ack->sequence),
                     static_cast<unsigned long long>(ack->first), static_cast<unsigned long long>(ack->last),
                     static_cast<unsigned long long>(ack->count), ack->duplicate ? 1 : 0);
        std::fflush(oracle);
    }
    std::fclose(oracle);
    return 0;
}
