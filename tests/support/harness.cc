#include "tests/support/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "store/state_store.h"

namespace syncline::testing {

namespace fs = std::filesystem;

double time_factor() {
    static const double factor = [] {
        const char* env = std::getenv("SYNCLINE_TEST_TIME_FACTOR");
        const double from_env = env ? std::atof(env) : 0;
        return from_env > 0 ? from_env : static_cast<double>(SYNCLINE_TEST_BUILD_TIME_FACTOR);
    }();
    return factor;
}

std::chrono::milliseconds scaled(std::chrono::milliseconds deadline) {
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(static_cast<double>(deadline.count()) * time_factor()));
}

std::string sanitizer_reports(const std::string& dir) {
    // The first line of every report: ASan and LSan "==PID==ERROR: ...Sanitizer", UBSan
    // "file:line:col: runtime error: ..." (fatal here: -fno-sanitize-recover=all).
    static const char* const markers[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: "};
    std::string found;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec) || it->path().extension() != ".log") continue;
        std::ifstream in(it->path());
        std::string line;
        for (int line_no = 1; std::getline(in, line); ++line_no) {
            const bool report = std::any_of(std::begin(markers), std::end(markers),
                                            [&](const char* m) { return line.find(m) != std::string::npos; });
            if (!report) continue;
            found += it->path().string() + ":" + std::to_string(line_no) + ":\n" + line + "\n";
            // The stack's top frames say where; the full report stays in the file.
            for (int extra = 0; extra < 8 && std::getline(in, line); ++extra) found += line + "\n";
            break;
        }
    }
    return found;
}

temp_dir::temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/syncline-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    _path = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    if (const auto reports = sanitizer_reports(_path); !reports.empty()) {
        const std::string kept = _path + ".kept";
        fs::rename(_path, kept, ec);
        ADD_FAILURE() << "sanitizer report(s) from a child process (logs kept in " << kept << "):\n" << reports;
        return;
    }
    fs::remove_all(_path, ec);
}

std::string binary(const std::string& name) {
    // SYNCLINE_TEST_BIN_DIR in the environment runs the tests against other binaries (an older
    // build, to see a regression test fail first).
    const char* dir = std::getenv("SYNCLINE_TEST_BIN_DIR");
    return std::string(dir != nullptr && *dir != '\0' ? dir : SYNCLINE_TEST_BIN_DIR) + "/" + name;
}

child_process start(const std::string& name, const std::vector<std::string>& args, const std::string& log_path) {
    spawn_options opts;
    opts.argv.push_back(binary(name));
    opts.argv.insert(opts.argv.end(), args.begin(), args.end());
    opts.stdout_path = log_path;
    opts.stderr_path = log_path;
    opts.stdin_path = "/dev/null";
    auto child = child_process::spawn(opts);
    if (!child.ok()) throw std::runtime_error(child.get_status().message());
    return std::move(child.value());
}

int run_to_exit(const std::string& name, const std::vector<std::string>& args, const std::string& log_path,
                std::chrono::milliseconds timeout) {
    auto child = start(name, args, log_path);
    auto code = child.wait_for(scaled(timeout));
    return code ? *code : -1;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + scaled(timeout);
    while (std::chrono::steady_clock::now() < end) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
}

void append_sample(store::change_log& log, std::uint64_t count, std::uint64_t keys, std::uint64_t seed) {
    static const char* collections[] = {"accounts", "orders", "events"};
    std::mt19937_64 rng(seed);
    std::vector<record> batch;
    for (std::uint64_t done = 0; done < count;) {
        batch.clear();
        for (; batch.size() < 1000 && done < count; ++done) {
            record r;
            r.collection = collections[rng() % 3];
            r.key = "k" + std::to_string(rng() % keys);
            if (rng() % 10 == 0) {
                r.operation = op::del;
            } else {
                r.value = "{\"n\":" + std::to_string(seed * 1'000'000'000 + done) + ",\"pad\":\"xxxxxxxxxxxxxxxx\"}";
            }
            batch.push_back(std::move(r));
        }
        auto appended = log.append(batch);
        if (!appended.ok()) throw std::runtime_error(appended.get_status().message());
    }
}

std::uint64_t committed(const std::string& state_root, const std::string& pipeline) {
    auto reader = store::state_store::open_reader(state_root, pipeline);
    if (!reader.ok()) return 0;
    auto c = (*reader)->committed();
    return c.ok() ? c->value_or(0) : 0;
}

int free_tcp_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("free_tcp_port: socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("free_tcp_port: bind failed");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string logged_endpoint(const std::string& log_path, const std::string& channel) {
    std::string found;
    eventually([&] {
        const std::string text = read_file(log_path);
        const auto at = text.find("listening channel=" + channel + " endpoint=");
        if (at == std::string::npos) return false;
        const auto start = text.find("endpoint=", at) + 9;
        found = text.substr(start, text.find('\n', start) - start);
        return true;
    }, std::chrono::seconds(10));
    return found;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t count_lines_with(const std::string& path, const std::string& needle) {
    std::ifstream in(path);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);)
        if (line.find(needle) != std::string::npos) ++n;
    return n;
}

void pipeline_fixture::open_writer() {
    auto log = store::change_log::open_writer({.path = log_dir});
    ASSERT_TRUE(log.ok()) << log.get_status().message();
    writer = std::move(log.value());
}

void pipeline_fixture::TearDown() {
    if (!HasFailure()) return;
    // Children are killed and reaped by their destructors; keep their logs for the reader.
    const std::string kept = dir.path() + ".kept";
    std::error_code ec;
    std::filesystem::rename(dir.path(), kept, ec);
    std::fprintf(stderr, "logs kept in %s%s\n", kept.c_str(), on_failure().c_str());
}

}  // namespace syncline::testing
