// gateway_test_producer: a producer process for the gateway's integration tests (and a worked
// example of gateway/client.h). Publishes REQUESTS requests of RECORDS records each, with keys
// "<producer>-<sequence>-<i>", retrying each until the gateway acknowledges it, and appends one
// line "sequence first last count duplicate" per acknowledged request to ORACLE (flushed at once),
// the producer-side record of what the gateway promised. With WINDOW > 1, up to WINDOW requests
// are in flight (client::send / collect).
// usage: gateway_test_producer ENDPOINT PRODUCER REQUESTS RECORDS ORACLE [WINDOW]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/client.h"

int main(int argc, char** argv) {
    using namespace syncline;
    if (argc != 6 && argc != 7) {
        std::fprintf(stderr, "usage: gateway_test_producer ENDPOINT PRODUCER REQUESTS RECORDS ORACLE [WINDOW]\n");
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
    o.window = argc == 7 ? static_cast<std::uint32_t>(std::atoi(argv[6])) : 1;
    std::FILE* oracle = std::fopen(argv[5], "a");
    if (oracle == nullptr) return 1;
    auto c = gateway::client::connect(o);
    if (!c.ok()) {
        std::fprintf(stderr, "connect: %s\n", c.get_status().message().c_str());
        return 1;
    }
    auto write_ack = [&](const gateway::publish_ack& a) {
        std::fprintf(oracle, "%llu %llu %llu %llu %d\n", static_cast<unsigned long long>(a.sequence),
                     static_cast<unsigned long long>(a.first), static_cast<unsigned long long>(a.last),
                     static_cast<unsigned long long>(a.count), a.duplicate ? 1 : 0);
        std::fflush(oracle);
    };
    std::vector<record> batch(static_cast<std::size_t>(per_request));
    auto fill = [&](std::uint64_t seq) {
        for (int i = 0; i < per_request; ++i) {
            batch[i].collection = "items";
            batch[i].key = o.producer + "-" + std::to_string(seq) + "-" + std::to_string(i);
            batch[i].value = "{\"seq\":" + std::to_string(seq) + "}";
        }
    };
    if (o.window > 1) {
        // Unavailable (given up for now) leaves the requests pending: the next call keeps at them.
        while ((*c)->next_sequence() <= static_cast<std::uint64_t>(requests)) {
            fill((*c)->next_sequence());
            auto sent = (*c)->send(batch);
            if (!sent.ok() && sent.get_status().code() != errc::unavailable) {
                std::fprintf(stderr, "send: %s\n", sent.get_status().message().c_str());
                return 1;
            }
            auto acks = (*c)->collect(o.window);
            if (acks.ok())
                for (const auto& a : *acks) write_ack(a);
        }
        for (;;) {
            auto acks = (*c)->collect(0);
            if (acks.ok()) {
                for (const auto& a : *acks) {
                    if (a.refused) {
                        std::fprintf(stderr, "refused %llu: %s\n", static_cast<unsigned long long>(a.sequence), a.reason.c_str());
                        return 1;
                    }
                    write_ack(a);
                }
                break;
            }
            if (acks.get_status().code() != errc::unavailable) {
                std::fprintf(stderr, "collect: %s\n", acks.get_status().message().c_str());
                return 1;
            }
        }
        std::fclose(oracle);
        return 0;
    }
    while ((*c)->next_sequence() <= static_cast<std::uint64_t>(requests)) {
        const std::uint64_t seq = (*c)->next_sequence();
        fill(seq);
        auto ack = (*c)->publish(batch);
        if (!ack.ok()) {
            if (ack.get_status().code() == errc::unavailable) continue;  // Same sequence again.
            std::fprintf(stderr, "publish: %s\n", ack.get_status().message().c_str());
            return 1;
        }
        write_ack(*ack);
    }
    std::fclose(oracle);
    return 0;
}
