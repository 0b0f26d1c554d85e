// The whole-row path from PostgreSQL's COPY text format to CSV (see include/CCopyRow.h). A C target of
// its own, compiled by clang as C, so that its vector code stays as written: through the Swift
// compiler's C importer the AVX2 masks were taken byte by byte.
#include "CCopyRow.h"

#include <string.h>

/// Whether the field at `field` (up to the next tab or `end`) is a sign, digits and an optional
/// fraction, and nothing else: FormulaGuard.isPlainNumber.
static bool jobdrop_copy_plain_number(const uint8_t *field, const uint8_t *end) {
  long digits = 0;
  bool point = false;
  const uint8_t *byte = field;
  for (; byte < end && *byte != '\t'; byte++) {
    if (*byte >= '0' && *byte <= '9') {
      digits++;
    } else if ((*byte == '-' || *byte == '+') && byte == field) {
      continue;
    } else if (*byte == '.' && !point && digits > 0) {
      point = true;
    } else {
      return false;
    }
  }
  return digits > 0 && byte[-1] >= '0' && byte[-1] <= '9';
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

/// Whether this CPU and the kernel run AVX2 (CPUID leaf 7, and XGETBV says the YMM registers are saved).
bool jobdrop_cpu_has_avx2(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX)) return false;
  unsigned low, high;
  __asm__("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  if ((low & 6) != 6) return false;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2) != 0;
}

/// The bytes of one block of a COPY row that jobdrop_copy_row_csv looks at, one bit per byte: tabs, the
/// bytes that need a CSV quote (the delimiter, '"', CR, LF), backslashes and formula starts.
typedef struct {
  unsigned tabs, hard, slashes, formulas;
} jobdrop_block_masks;

/// Hides a block mask's origin from the optimizer: clang otherwise turns the shifts and ANDs on a
/// movemask result back into operations on vectors of bits, and takes them apart byte by byte.
static inline jobdrop_block_masks jobdrop_opaque(jobdrop_block_masks masks) {
  __asm__("" : "+r"(masks.tabs), "+r"(masks.hard), "+r"(masks.slashes), "+r"(masks.formulas));
  return masks;
}

/// Classifies 16 bytes at `bytes` and stores them at `out` with their tabs made `delimiter` (SSE2).
static inline jobdrop_block_masks jobdrop_classify16(const uint8_t *bytes, uint8_t *out, uint8_t delimiter) {
  __m128i block = _mm_loadu_si128((const __m128i *)bytes), delimiters = _mm_set1_epi8((char)delimiter);
  __m128i isTab = _mm_cmpeq_epi8(block, _mm_set1_epi8('\t'));
  __m128i hard = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('"')), _mm_cmpeq_epi8(block, delimiters)),
                              _mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('\r')), _mm_cmpeq_epi8(block, _mm_set1_epi8('\n'))));
  __m128i formulas = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('=')), _mm_cmpeq_epi8(block, _mm_set1_epi8('+'))),
                                  _mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('-')), _mm_cmpeq_epi8(block, _mm_set1_epi8('@'))));
  _mm_storeu_si128((__m128i *)out, _mm_or_si128(_mm_andnot_si128(isTab, block), _mm_and_si128(isTab, delimiters)));
  jobdrop_block_masks masks = {(unsigned)_mm_movemask_epi8(isTab), (unsigned)_mm_movemask_epi8(hard),
                               (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8('\\'))),
                               (unsigned)_mm_movemask_epi8(formulas)};
  return jobdrop_opaque(masks);
}

/// jobdrop_classify16 for 32 bytes (AVX2).
__attribute__((target("avx2"))) static inline jobdrop_block_masks jobdrop_classify32(const uint8_t *bytes, uint8_t *out,
                                                                                    uint8_t delimiter) {
  __m256i block = _mm256_loadu_si256((const __m256i *)bytes), delimiters = _mm256_set1_epi8((char)delimiter);
  __m256i isTab = _mm256_cmpeq_epi8(block, _mm256_set1_epi8('\t'));
  __m256i hard = _mm256_or_si256(
      _mm256_or_si256(_mm256_cmpeq_epi8(block, _mm256_set1_epi8('"')), _mm256_cmpeq_epi8(block, delimiters)),
      _mm256_or_si256(_mm256_cmpeq_epi8(block, _mm256_set1_epi8('\r')), _mm256_cmpeq_epi8(block, _mm256_set1_epi8('\n'))));
  __m256i formulas = _mm256_or_si256(
      _mm256_or_si256(_mm256_cmpeq_epi8(block, _mm256_set1_epi8('=')), _mm256_cmpeq_epi8(block, _mm256_set1_epi8('+'))),
      _mm256_or_si256(_mm256_cmpeq_epi8(block, _mm256_set1_epi8('-')), _mm256_cmpeq_epi8(block, _mm256_set1_epi8('@'))));
  _mm256_storeu_si256((__m256i *)out, _mm256_blendv_epi8(block, delimiters, isTab));
  jobdrop_block_masks masks = {(unsigned)_mm256_movemask_epi8(isTab), (unsigned)_mm256_movemask_epi8(hard),
                               (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(block, _mm256_set1_epi8('\\'))),
                               (unsigned)_mm256_movemask_epi8(formulas)};
  return jobdrop_opaque(masks);
}

/// The bits below bit `count` (0 to 32) of a block mask.
static inline unsigned jobdrop_bits_below(int count) { return count == 0 ? 0 : 0xFFFFFFFFu >> (32 - count); }

/// The row loop of jobdrop_copy_row_csv, for blocks of WIDTH bytes classified by CLASSIFY: written once,
/// made into a function per width (the AVX2 one compiled for AVX2 only).
#define JOBDROP_COPY_ROW_CSV_LOOP(WIDTH, CLASSIFY)                                                        \
  if (length == 0 || row[length - 1] != '\n' || columns < 1 || columns > 64) return -1;                 \
  length--;                                                                                              \
  long read = 0, written = 0, tabs = 0;                                                                  \
  unsigned startCarry = 1; /* whether the byte at `read` starts a value */                              \
  while (read < length) {                                                                                \
    long left = length - read;                                                                           \
    long consumed = left >= WIDTH ? WIDTH : left;                                                        \
    unsigned valid = jobdrop_bits_below((int)consumed);                                                  \
    jobdrop_block_masks masks;                                                                           \
    if (left >= WIDTH) {                                                                                 \
      masks = CLASSIFY(row + read, out + written, delimiter);                                            \
    } else {                                                                                             \
      uint8_t padded[WIDTH] = {0};                                                                       \
      memcpy(padded, row + read, (size_t)left);                                                          \
      masks = CLASSIFY(padded, out + written, delimiter);                                                \
    }                                                                                                    \
    if ((masks.hard & valid) != 0) return -1;                                                            \
    unsigned tabMask = masks.tabs & valid, slashes = masks.slashes & valid;                              \
    unsigned starts = ((tabMask << 1) | startCarry) & valid;                                             \
    if (slashes != 0) {                                                                                  \
      /* Only `\N`, a whole value: the bytes before it are taken from this block, then it is skipped. */ \
      int at = __builtin_ctz(slashes);                                                                   \
      long position = read + at;                                                                         \
      if (!((starts >> at) & 1) || position + 1 >= length || row[position + 1] != 'N' ||                \
          (position + 2 < length && row[position + 2] != '\t'))                                          \
        return -1;                                                                                       \
      consumed = at;                                                                                     \
      starts &= jobdrop_bits_below(at);                                                                  \
      tabMask &= jobdrop_bits_below(at);                                                                 \
    }                                                                                                    \
    if (guard) {                                                                                         \
      for (unsigned pending = starts & masks.formulas; pending != 0; pending &= pending - 1) {           \
        int at = __builtin_ctz(pending);                                                                 \
        long column = tabs + __builtin_popcount(tabMask & jobdrop_bits_below(at));                       \
        if (column >= columns || !((numbers >> column) & 1) ||                                           \
            !jobdrop_copy_plain_number(row + read + at, row + length))                                   \
          return -1;                                                                                     \
      }                                                                                                  \
    }                                                                                                    \
    tabs += __builtin_popcount(tabMask);                                                                 \
    written += consumed;                                                                                 \
    if (slashes != 0) {                                                                                  \
      read += consumed + 2;                                                                              \
      startCarry = 0;                                                                                    \
    } else {                                                                                             \
      read += consumed;                                                                                  \
      startCarry = (tabMask >> (WIDTH - 1)) & 1;                                                         \
    }                                                                                                    \
  }                                                                                                      \
  if (tabs + 1 != columns) return -1;                                                                    \
  out[written] = '\r';                                                                                   \
  out[written + 1] = '\n';                                                                               \
  return written + 2;

static inline long jobdrop_copy_row_csv16(const uint8_t *row, long length, uint8_t *out, uint8_t delimiter, bool guard,
                                          uint64_t numbers, long columns) {
  JOBDROP_COPY_ROW_CSV_LOOP(16, jobdrop_classify16)
}

__attribute__((target("avx2"))) static long jobdrop_copy_row_csv32(const uint8_t *row, long length, uint8_t *out,
                                                                   uint8_t delimiter, bool guard, uint64_t numbers,
                                                                   long columns) {
  JOBDROP_COPY_ROW_CSV_LOOP(32, jobdrop_classify32)
}
#else
bool jobdrop_cpu_has_avx2(void) { return false; }

/// Whether `byte` may start a formula in a spreadsheet: = + - @ (a tab or CR never comes unescaped in
/// COPY text). FormulaGuard.isRisky.
static bool jobdrop_formula_start(uint8_t byte) { return byte == '=' || byte == '+' || byte == '-' || byte == '@'; }

/// jobdrop_copy_row_csv byte by byte, for CPUs other than x86-64.
static long jobdrop_copy_row_csv1(const uint8_t *row, long length, uint8_t *out, uint8_t delimiter, bool guard,
                                  uint64_t numbers, long columns) {
  if (length == 0 || row[length - 1] != '\n' || columns < 1 || columns > 64) return -1;
  length--;
  long read = 0, written = 0, tabs = 0;
  bool start = true;  // whether the byte at `read` starts a value
  while (read < length) {
    uint8_t byte = row[read];
    if (byte == delimiter || byte == '"' || byte == '\r' || byte == '\n') return -1;
    if (byte == '\\') {
      if (!start || read + 1 >= length || row[read + 1] != 'N' || (read + 2 < length && row[read + 2] != '\t'))
        return -1;
      read += 2;
      start = false;
      continue;
    }
    if (byte == '\t') {
      out[written++] = delimiter;
      tabs++;
      read++;
      start = true;
      continue;
    }
    if (guard && start && jobdrop_formula_start(byte) &&
        (tabs >= columns || !((numbers >> tabs) & 1) || !jobdrop_copy_plain_number(row + read, row + length)))
      return -1;
    out[written++] = byte;
    read++;
    start = false;
  }
  if (tabs + 1 != columns) return -1;
  out[written] = '\r';
  out[written + 1] = '\n';
  return written + 2;
}
#endif

// jobdrop_copy_row_csv: see the header.
long jobdrop_copy_row_csv(const uint8_t *row, long length, uint8_t *out, uint8_t delimiter, bool guard,
                          uint64_t numbers, long columns, bool wide) {
#if defined(__x86_64__)
  return wide ? jobdrop_copy_row_csv32(row, length, out, delimiter, guard, numbers, columns)
              : jobdrop_copy_row_csv16(row, length, out, delimiter, guard, numbers, columns);
#else
  (void)wide;
  return jobdrop_copy_row_csv1(row, length, out, delimiter, guard, numbers, columns);
#endif
}
