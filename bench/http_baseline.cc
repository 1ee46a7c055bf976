// http_baseline: the receiver's own limit for docs/benchmarks.md "Webhook": one process, one
// kept-alive libcurl connection, posting the standard workload (bench/workload.h) in requests of
// --batch records, each body built and signed exactly as the webhook target does
// (targets/http_format.h), one after another as fast as the receiver answers. The bodies
// are built before timing; signing is timed (it happens per send).
// Usage: http_baseline --url URL --secret-file PATH [--records N] [--keys K] [--batch B]
// Output: one markdown row | http_baseline | records | requests | seconds | records/s |.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <curl/curl.h>

#include "bench/workload.h"
#include "targets/http_format.h"

using namespace syncline;

namespace {
std::size_t discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }
}  // namespace

int main(int argc, char** argv) {
    namespace po = boost::program_options;
    std::string url, secret_file;
    std::uint64_t records = 1'000'000, keys = 100'000, batch = 1000;
    po::options_description desc("http_baseline");
    desc.add_options()("url", po::value(&url)->required())("secret-file", po::value(&secret_file)->required())(
        "records", po::value(&records))("keys", po::value(&keys))("batch", po::value(&batch));
    try {
        po::variables_map vm;
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_baseline: %s\n", e.what());
        return 2;
    }
    std::ifstream in(secret_file);
    std::stringstream text;
    text << in.rdbuf();
    std::string secret = text.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL* curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);

    // Bodies are built before the clock starts (pipeline_bench appends its log before timing
    // too); signing stays inside, as every request is signed at sending time.
    bench::workload gen(keys);
    std::vector<record> owned;
    std::vector<record_view> views;
    struct request {
        std::string body, key;
    };
    std::vector<request> requests;
    std::uint64_t offset = 0;
    for (std::uint64_t done = 0; done < records; done += batch) {
        gen.fill(owned, std::min<std::uint64_t>(batch, records - done));
        views.clear();
        for (auto& r : owned) {
            r.offset = ++offset;
            views.push_back({r.offset, r.ts_ms, r.collection, r.key, r.operation, r.value, {}});
        }
        request q;
        targets::http::append_body(q.body, "bench", views);
        q.key = targets::http::idempotency_key("bench", views.front().offset, views.back().offset);
        requests.push_back(std::move(q));
    }
    const auto began = std::chrono::steady_clock::now();
    for (const request& q : requests) {
        curl_slist* headers = nullptr;
        for (const std::string& h :
             {std::string("Content-Type: application/json"), std::string("Expect:"), "Idempotency-Key: " + q.key,
              "Syncline-Signature: " + targets::http::signature_header(secret, std::time(nullptr), q.body)})
            headers = curl_slist_append(headers, h.c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, q.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(q.body.size()));
        const CURLcode rc = curl_easy_perform(curl);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(headers);
        if (rc != CURLE_OK || status != 200) {
            std::fprintf(stderr, "http_baseline: request %s failed: %s HTTP %ld\n", q.key.c_str(), curl_easy_strerror(rc), status);
            return 1;
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    std::printf("| http_baseline | %llu | %llu | %.2f | %.0f |\n", static_cast<unsigned long long>(records),
                static_cast<unsigned long long>(requests.size()), seconds, static_cast<double>(records) / seconds);
    curl_easy_cleanup(curl);
    return 0;
}
