// Formats plain rows of PostgreSQL's `COPY … TO STDOUT` text format as CSV, 16 or 32 bytes at a time.
#include <stdbool.h>
#include <stdint.h>

/// Whether this CPU and the kernel run AVX2 (false on other CPUs than x86-64).
bool jobdrop_cpu_has_avx2(void);

/// Formats one row of PostgreSQL's `COPY … TO STDOUT` text format (its newline last) as a CSV row ending
/// in CRLF at `out`, which has room for `length + 32` bytes, when the row is plain: no backslash but `\N`
/// fields (NULL, written empty), no `delimiter`, '"', CR or LF in a value, exactly `columns` (at most 64)
/// fields, and (with `guard`) no value starting with = + - @ but plain numbers in the columns whose bit
/// is set in `numbers`. Returns the bytes written, or -1 for a row the caller formats value by value
/// (what it wrote at `out` is then left over). The row's bytes go 32 at a time with `wide` (AVX2: see
/// jobdrop_cpu_has_avx2), else 16 (SSE2; byte by byte on other CPUs): its tabs become `delimiter` in the
/// same store, and only value starts that may be formulas are looked at one by one.
long jobdrop_copy_row_csv(const uint8_t *row, long length, uint8_t *out, uint8_t delimiter, bool guard,
                          uint64_t numbers, long columns, bool wide);
