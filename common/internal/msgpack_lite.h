#pragma once
// common/internal/msgpack_lite.h: the small msgpack writer and bounded reader behind codec.cc and
// wire.cc. Private to common/. Hand-written rather than msgpack-c's unpacker because decoding must
// return views into the input (zero copy), check every length against the remaining bytes before
// anything is allocated, and run at millions of records per second.
// The reader never throws and never reads past its input; on failure `error()` says why.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace syncline::mp {

// ---- writer: minimal-size encodings, appended to a std::string ----

inline void put_be(std::string& out, std::uint8_t tag, std::uint64_t v, int bytes) {
    char buf[9];
    buf[0] = static_cast<char>(tag);
    for (int i = 0; i < bytes; ++i) buf[1 + i] = static_cast<char>(v >> (8 * (bytes - 1 - i)));
    out.append(buf, static_cast<std::size_t>(bytes) + 1);
}

inline void put_uint(std::string& out, std::uint64_t v) {
    if (v < 0x80) {
        out.push_back(static_cast<char>(v));
    } else if (v <= 0xff) {
        put_be(out, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        put_be(out, 0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
        put_be(out, 0xce, v, 4);
    } else {
        put_be(out, 0xcf, v, 8);
    }
}

inline void put_int(std::string& out, std::int64_t v) {
    if (v >= 0) {
        put_uint(out, static_cast<std::uint64_t>(v));
    } else if (v >= -32) {
        out.push_back(static_cast<char>(static_cast<std::uint8_t>(v)));
    } else if (v >= INT8_MIN) {
        put_be(out, 0xd0, static_cast<std::uint64_t>(v), 1);
    } else if (v >= INT16_MIN) {
        put_be(out, 0xd1, static_cast<std::uint64_t>(v), 2);
    } else if (v >= INT32_MIN) {
        put_be(out, 0xd2, static_cast<std::uint64_t>(v), 4);
    } else {
        put_be(out, 0xd3, static_cast<std::uint64_t>(v), 8);
    }
}

// Any bytes may go in a str: readers here accept str and bin alike, and str keeps the encoding
// readable by tools that expect text (the value is JSON by convention).
inline void put_str(std::string& out, std::string_view s) {
    const std::size_t n = s.size();
    if (n < 32) {
        out.push_back(static_cast<char>(0xa0 | n));
    } else if (n <= 0xff) {
        put_be(out, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        put_be(out, 0xda, n, 2);
    } else {
        put_be(out, 0xdb, n, 4);
    }
    out.append(s.data(), n);
}

inline void put_array_header(std::string& out, std::uint32_t n) {
    if (n < 16) {
        out.push_back(static_cast<char>(0x90 | n));
    } else if (n <= 0xffff) {
        put_be(out, 0xdc, n, 2);
    } else {
        put_be(out, 0xdd, n, 4);
    }
}

inline void put_map_header(std::string& out, std::uint32_t n) {
    if (n < 16) {
        out.push_back(static_cast<char>(0x80 | n));
    } else if (n <= 0xffff) {
        put_be(out, 0xde, n, 2);
    } else {
        put_be(out, 0xdf, n, 4);
    }
}

// ---- reader ----

class reader {
public:
    explicit reader(std::string_view bytes)
        : _p(reinterpret_cast<const std::uint8_t*>(bytes.data())), _end(_p + bytes.size()) {}

    std::size_t remaining() const noexcept { return static_cast<std::size_t>(_end - _p); }
    bool at_end() const noexcept { return _p == _end; }
    const char* position() const noexcept { return reinterpret_cast<const char*>(_p); }
    // Why the last read failed (a static string).
    const char* error() const noexcept { return _error; }

    bool read_uint(std::uint64_t& v) {
        if (_p == _end) return fail("truncated");
        const std::uint8_t t = *_p;
        if (t < 0x80) {
            v = t;
            ++_p;
            return true;
        }
        switch (t) {
            case 0xcc: return be(v, 1);
            case 0xcd: return be(v, 2);
            case 0xce: return be(v, 4);
            case 0xcf: return be(v, 8);
            case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
                // A signed encoding of a non-negative number is legal msgpack.
                std::int64_t s = 0;
                if (!read_int(s)) return false;
                if (s < 0) return fail("negative value where unsigned expected");
                v = static_cast<std::uint64_t>(s);
                return true;
            }
            default:
                if (t >= 0xe0) return fail("negative value where unsigned expected");
                return fail("expected an integer");
        }
    }

    bool read_int(std::int64_t& v) {
        if (_p == _end) return fail("truncated");
        const std::uint8_t t = *_p;
        if (t < 0x80 || t >= 0xe0) {
            v = static_cast<std::int8_t>(t);
            ++_p;
            return true;
        }
        std::uint64_t u = 0;
        switch (t) {
            case 0xcc: case 0xcd: case 0xce: case 0xcf:
                if (!read_uint(u)) return false;
                if (u > static_cast<std::uint64_t>(INT64_MAX)) return fail("integer out of range");
                v = static_cast<std::int64_t>(u);
                return true;
            case 0xd0:
                if (!be(u, 1)) return false;
                v = static_cast<std::int8_t>(u);
                return true;
            case 0xd1:
                if (!be(u, 2)) return false;
                v = static_cast<std::int16_t>(u);
                return true;
            case 0xd2:
                if (!be(u, 4)) return false;
                v = static_cast<std::int32_t>(u);
                return true;
            case 0xd3:
                if (!be(u, 8)) return false;
                v = static_cast<std::int64_t>(u);
                return true;
            default:
                return fail("expected an integer");
        }
    }

    // A msgpack str only.
    bool read_str(std::string_view& v, std::size_t max_bytes) { return read_blob(v, max_bytes, false); }
    // A msgpack str or bin.
    bool read_bytes(std::string_view& v, std::size_t max_bytes) { return read_blob(v, max_bytes, true); }

    // The element count is checked against the remaining input (every element takes at least one
    // byte) so a caller may size containers from it without trusting the sender.
    bool read_array_header(std::uint32_t& n) {
        if (_p == _end) return fail("truncated");
        const std::uint8_t t = *_p;
        std::uint64_t u = 0;
        if ((t & 0xf0) == 0x90) {
            u = t & 0x0f;
            ++_p;
        } else if (t == 0xdc) {
            if (!be(u, 2)) return false;
        } else if (t == 0xdd) {
            if (!be(u, 4)) return false;
        } else {
            return fail("expected an array");
        }
        if (u > remaining()) return fail("array length exceeds the input");
        n = static_cast<std::uint32_t>(u);
        return true;
    }

    bool read_map_header(std::uint32_t& n) {
        if (_p == _end) return fail("truncated");
        const std::uint8_t t = *_p;
        std::uint64_t u = 0;
        if ((t & 0xf0) == 0x80) {
            u = t & 0x0f;
            ++_p;
        } else if (t == 0xde) {
            if (!be(u, 2)) return false;
        } else if (t == 0xdf) {
            if (!be(u, 4)) return false;
        } else {
            return fail("expected a map");
        }
        if (2 * u > remaining()) return fail("map length exceeds the input");
        n = static_cast<std::uint32_t>(u);
        return true;
    }

    // Skips one value of any type (used for unknown map keys and extra array elements).
    // `depth` bounds nesting so hostile input cannot exhaust the stack.
    bool skip(int depth = 32) {
        if (depth <= 0) return fail("nesting too deep");
        if (_p == _end) return fail("truncated");
        const std::uint8_t t = *_p;
        if (t < 0x80 || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
            ++_p;
            return true;
        }
        if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
            std::uint32_t n = 0;
            if (!read_map_header(n)) return false;
            for (std::uint64_t i = 0; i < 2ull * n; ++i)
                if (!skip(depth - 1)) return false;
            return true;
        }
        if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
            std::uint32_t n = 0;
            if (!read_array_header(n)) return false;
            for (std::uint32_t i = 0; i < n; ++i)
                if (!skip(depth - 1)) return false;
            return true;
        }
        if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb || t == 0xc4 || t == 0xc5 ||
            t == 0xc6) {
            std::string_view ignored;
            return read_blob(ignored, SIZE_MAX, true);
        }
        std::uint64_t len = 0;
        switch (t) {
            case 0xcc: case 0xd0: return advance(2);
            case 0xcd: case 0xd1: return advance(3);
            case 0xca: case 0xce: case 0xd2: return advance(5);
            case 0xcb: case 0xcf: case 0xd3: return advance(9);
            case 0xd4: return advance(3);   // fixext 1
            case 0xd5: return advance(4);   // fixext 2
            case 0xd6: return advance(6);   // fixext 4
            case 0xd7: return advance(10);  // fixext 8
            case 0xd8: return advance(18);  // fixext 16
            case 0xc7: if (!be(len, 1)) return false; return advance(len + 1);  // ext 8
            case 0xc8: if (!be(len, 2)) return false; return advance(len + 1);  // ext 16
            case 0xc9: if (!be(len, 4)) return false; return advance(len + 1);  // ext 32
            default: return fail("invalid type byte");  // 0xc1 is never used
        }
    }

private:
    bool fail(const char* why) {
        _error = why;
        return false;
    }

    bool advance(std::uint64_t n) {
        if (n > remaining()) return fail("truncated");
        _p += n;
        return true;
    }

    // Reads the tag byte plus a `bytes`-wide big-endian number.
    bool be(std::uint64_t& v, int bytes) {
        if (remaining() < static_cast<std::size_t>(bytes) + 1) return fail("truncated");
        std::uint64_t r = 0;
        for (int i = 1; i <= bytes; ++i) r = (r << 8) | _p[i];
        _p += bytes + 1;
        v = r;
        return true;
    }

    bool read_blob(std::string_view& v, std::size_t max_bytes, bool allow_bin) {
        if (_p == _end) return fail("truncated");
        const std::uint8_t t = *_p;
        std::uint64_t n = 0;
        if ((t & 0xe0) == 0xa0) {
            n = t & 0x1f;
            ++_p;
        } else if (t == 0xd9 || (allow_bin && t == 0xc4)) {
            if (!be(n, 1)) return false;
        } else if (t == 0xda || (allow_bin && t == 0xc5)) {
            if (!be(n, 2)) return false;
        } else if (t == 0xdb || (allow_bin && t == 0xc6)) {
            if (!be(n, 4)) return false;
        } else {
            return fail(allow_bin ? "expected str or bin" : "expected str");
        }
        if (n > remaining()) return fail("length exceeds the input");
        if (n > max_bytes) return fail("length exceeds the limit");
        v = std::string_view(reinterpret_cast<const char*>(_p), static_cast<std::size_t>(n));
        _p += n;
        return true;
    }

    const std::uint8_t* _p;
    const std::uint8_t* _end;
    const char* _error = "ok";
};

}  // namespace syncline::mp
