// store_test_appender PATH BATCH_SIZE BATCHES DELAY_MS
// Child process of the multi-process tests: appends BATCHES (0 = until killed) synced batches of
// BATCH_SIZE records, sleeping DELAY_MS between them. Record i of batch b (counted from the
// log's last offset at start) has value {"b":b,"i":i,...}, so the parent can check placement.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "store/change_log.h"

int main(int argc, char** argv) {
    using namespace syncline;
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s PATH BATCH_SIZE BATCHES DELAY_MS\n", argv[0]);
        return 2;
    }
    const std::size_t batch_size = std::strtoull(argv[2], nullptr, 10);
    const std::uint64_t batches = std::strtoull(argv[3], nullptr, 10);
    const int delay_ms = std::atoi(argv[4]);
    auto opened = store::change_log::open_writer({.path = argv[1]});
    if (!opened.ok()) {
        std::fprintf(stderr, "appender: %s\n", opened.get_status().to_string().c_str());
        return 1;
    }
    auto& log = **opened;
    std::vector<record> batch(batch_size);
    for (std::uint64_t b = 0; batches == 0 || b < batches; ++b) {
        for (std::size_t i = 0; i < batch_size; ++i) {
            record& r = batch[i];
            r.collection = "c" + std::to_string(i % 3);
            r.key = "k" + std::to_string((b * batch_size + i) % 1000);
            r.value = "{\"b\":" + std::to_string(b) + ",\"i\":" + std::to_string(i) +
                      ",\"pad\":\"0123456789abcdef0123456789abcdef0123456789\"}";
        }
        auto appended = log.append(batch);
        if (!appended.ok()) {
            std::fprintf(stderr, "appender: %s\n", appended.get_status().to_string().c_str());
            return 1;
        }
        if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    }
    return 0;
}
