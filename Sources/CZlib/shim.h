#include <zlib.h>

// inflateInit2 and deflateInit2 are macros that pass the library's version and z_stream's size.
static inline int czlib_inflateInit2(z_streamp stream, int windowBits) { return inflateInit2(stream, windowBits); }
static inline int czlib_deflateInit2(z_streamp stream, int level, int windowBits) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}
