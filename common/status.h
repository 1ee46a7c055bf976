#pragma once
// common/status.h: expected failures as values. `status` is ok or (code, message);
// `result<T>` holds a T or a non-ok status. Library APIs return these instead of throwing;
// process boundaries turn them into messages and exit codes (common/process.h).
// SYNCLINE_CHECK aborts with file:line on a broken invariant (a bug, never bad input).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace syncline {

enum class errc { ok = 0, invalid_argument, not_found, corruption, io_error, unavailable, busy, cancelled };

// Stable lower-case name of a code ("invalid_argument"), for logs and messages.
const char* errc_name(errc code) noexcept;

class [[nodiscard]] status {
public:
    status() = default;  // ok
    status(errc code, std::string msg) : _code(code), _msg(std::move(msg)) {}
    bool ok() const noexcept { return _code == errc::ok; }
    errc code() const noexcept { return _code; }
    const std::string& message() const noexcept { return _msg; }
    // A copy whose message is "context: message"; ok stays ok.
    status with_context(const std::string& context) const;
    // "code: message", for logs.
    std::string to_string() const;

private:
    errc _code = errc::ok;
    std::string _msg;
};

inline status ok_status() { return {}; }

template <typename T>
class [[nodiscard]] result {
public:
    result(T value) : _v(std::move(value)) {}
    result(status s) : _v(std::move(s)) {
        if (std::get<status>(_v).ok()) {
            std::fprintf(stderr, "result constructed from an ok status\n");
            std::abort();
        }
    }
    bool ok() const noexcept { return _v.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    // The status: ok when a value is held.
    status get_status() const { return ok() ? status{} : std::get<status>(_v); }
    T& value() & { return std::get<T>(_v); }
    const T& value() const& { return std::get<T>(_v); }
    T&& value() && { return std::get<T>(std::move(_v)); }
    T* operator->() { return &std::get<T>(_v); }
    const T* operator->() const { return &std::get<T>(_v); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::variant<T, status> _v;
};

[[noreturn]] void check_failed(const char* expr, const char* file, int line);

}  // namespace syncline

#define SYNCLINE_CHECK(cond) \
    ((cond) ? static_cast<void>(0) : ::syncline::check_failed(#cond, __FILE__, __LINE__))

// Returns the status from the enclosing function when `expr` (a status) is not ok.
#define SYNCLINE_RETURN_IF_ERROR(expr)            \
    do {                                          \
        ::syncline::status _syncline_s = (expr);  \
        if (!_syncline_s.ok()) return _syncline_s; \
    } while (0)
