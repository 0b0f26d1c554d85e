// Scans a cell for the bytes that make it need quoting (CSV) or escaping (JSON), 16 at a time with SSE2
// (every x86-64 CPU has it); other CPUs get the same answer from a byte loop. Static inline: the Swift
// compiler inlines it into the row loop like its own code.
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__SSE2__)
static inline bool jobdrop_block_has(__m128i block, __m128i delimiter) {
  __m128i found = _mm_or_si128(
      _mm_or_si128(_mm_cmpeq_epi8(block, delimiter), _mm_cmpeq_epi8(block, _mm_set1_epi8('"'))),
      _mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(block, _mm_set1_epi8('\r'))));
  return _mm_movemask_epi8(found) != 0;
}
#endif

/// Whether any of the `length` (at least 8) bytes at `bytes` is `delimiter`, '"', LF or CR. Reads only
/// those bytes: blocks of 16 with the last one overlapping the one before it, and 8 to 15 bytes as their
/// first and last 8 in one block.
static inline bool jobdrop_csv_needs_quotes(const uint8_t *bytes, long length, uint8_t delimiter) {
#if defined(__SSE2__)
  __m128i wanted = _mm_set1_epi8((char)delimiter);
  if (length < 16) {
    uint64_t head, tail;
    memcpy(&head, bytes, 8);
    memcpy(&tail, bytes + length - 8, 8);
    return jobdrop_block_has(_mm_set_epi64x((long long)tail, (long long)head), wanted);
  }
  long index = 0;
  for (; index + 16 <= length; index += 16) {
    if (jobdrop_block_has(_mm_loadu_si128((const __m128i *)(bytes + index)), wanted)) return true;
  }
  return index < length && jobdrop_block_has(_mm_loadu_si128((const __m128i *)(bytes + length - 16)), wanted);
#else
  for (long index = 0; index < length; index++) {
    uint8_t byte = bytes[index];
    if (byte == delimiter || byte == '"' || byte == '\n' || byte == '\r') return true;
  }
  return false;
#endif
}

#if defined(__SSE2__)
static inline bool jobdrop_block_needs_escape(__m128i block) {
  // A control character is a byte no greater than 0x1F: its unsigned minimum with 0x1F is itself.
  __m128i found = _mm_or_si128(
      _mm_cmpeq_epi8(_mm_min_epu8(block, _mm_set1_epi8(0x1F)), block),
      _mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('"')), _mm_cmpeq_epi8(block, _mm_set1_epi8('\\'))));
  return _mm_movemask_epi8(found) != 0;
}
#endif

/// Whether any of the `length` (at least 8) bytes at `bytes` needs escaping in a JSON string: '"', '\\'
/// or a control character (below 0x20). Reads only those bytes, as jobdrop_csv_needs_quotes does.
static inline bool jobdrop_json_needs_escape(const uint8_t *bytes, long length) {
#if defined(__SSE2__)
  if (length < 16) {
    uint64_t head, tail;
    memcpy(&head, bytes, 8);
    memcpy(&tail, bytes + length - 8, 8);
    return jobdrop_block_needs_escape(_mm_set_epi64x((long long)tail, (long long)head));
  }
  long index = 0;
  for (; index + 16 <= length; index += 16) {
    if (jobdrop_block_needs_escape(_mm_loadu_si128((const __m128i *)(bytes + index)))) return true;
  }
  return index < length && jobdrop_block_needs_escape(_mm_loadu_si128((const __m128i *)(bytes + length - 16)));
#else
  for (long index = 0; index < length; index++) {
    uint8_t byte = bytes[index];
    if (byte < 0x20 || byte == '"' || byte == '\\') return true;
  }
  return false;
#endif
}

/// The next '\t' or '\\' at or after `index` in the `length` bytes at `bytes`, or `length`.
static inline long jobdrop_copy_next(const uint8_t *bytes, long index, long length) {
#if defined(__SSE2__)
  __m128i tab = _mm_set1_epi8('\t'), backslash = _mm_set1_epi8('\\');
  for (; index + 16 <= length; index += 16) {
    __m128i block = _mm_loadu_si128((const __m128i *)(bytes + index));
    int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(block, tab), _mm_cmpeq_epi8(block, backslash)));
    if (mask != 0) return index + __builtin_ctz((unsigned)mask);
  }
#endif
  for (; index < length; index++) {
    if (bytes[index] == '\t' || bytes[index] == '\\') return index;
  }
  return length;
}

/// Rewrites the `count` bytes at `bytes` with COPY's backslash sequences replaced; returns the new count.
static inline long jobdrop_copy_unescape(uint8_t *bytes, long count) {
  long write = 0;
  for (long read = 0; read < count; read++) {
    uint8_t byte = bytes[read];
    if (byte == '\\' && read + 1 < count) {
      switch (bytes[++read]) {
      case 'n': byte = '\n'; break;
      case 'r': byte = '\r'; break;
      case 't': byte = '\t'; break;
      case 'b': byte = '\b'; break;
      case 'f': byte = '\f'; break;
      case 'v': byte = '\v'; break;
      default: byte = bytes[read];  // `\\` and any other escaped byte stand for themselves
      }
    }
    bytes[write++] = byte;
  }
  return write;
}

/// Splits one row of PostgreSQL's `COPY … TO STDOUT` text format (its newline last) at its tabs into
/// exactly `columns` fields, unescaping in place (sequences only shrink): `starts[i]` and `counts[i]`,
/// a count of -1 for NULL (`\N`). Returns false when the row does not have `columns` fields.
static inline bool jobdrop_copy_split(uint8_t *row, long length, long *starts, long *counts, long columns) {
  if (length > 0 && row[length - 1] == '\n') length--;
  long field = 0, start = 0, index = 0;
  bool escaped = false;
  for (;;) {
    long next = jobdrop_copy_next(row, index, length);
    if (next < length && row[next] == '\\') {
      escaped = true;
      index = next + 2;  // the escaped byte is never a separator
      if (index > length) index = length;
      continue;
    }
    if (field == columns) return false;
    long count = next - start;
    starts[field] = start;
    if (count == 2 && row[start] == '\\' && row[start + 1] == 'N') {
      counts[field] = -1;
    } else {
      counts[field] = escaped ? jobdrop_copy_unescape(row + start, count) : count;
    }
    field++;
    escaped = false;
    if (next >= length) break;
    index = start = next + 1;
  }
  return field == columns;
}

/// Whether `byte` may start a formula in a spreadsheet: = + - @ (a tab or CR never comes unescaped in
/// COPY text). FormulaGuard.isRisky, for jobdrop_copy_row_csv.
static inline bool jobdrop_formula_start(uint8_t byte) {
  return byte == '=' || byte == '+' || byte == '-' || byte == '@';
}

/// Whether the field at `field` (up to the next tab or `end`) is a sign, digits and an optional
/// fraction, and nothing else: FormulaGuard.isPlainNumber.
static inline bool jobdrop_copy_plain_number(const uint8_t *field, const uint8_t *end) {
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

/// Formats one row of PostgreSQL's `COPY … TO STDOUT` text format (its newline last) as a CSV row ending
/// in CRLF at `out`, which has room for `length + 16` bytes, when the row is plain: no backslash but `\N`
/// fields (NULL, written empty), no `delimiter`, '"', CR or LF in a value, exactly `columns` (at most 64)
/// fields, and (with `guard`) no value starting with = + - @ but plain numbers in the columns whose bit
/// is set in `numbers`. Returns the bytes written, or -1 for a row the caller formats value by value
/// (what it wrote at `out` is then left over). The row's bytes go 16 at a time (SSE2): its tabs become
/// `delimiter` in the same store, and only the bytes after a tab are looked at one by one.
static inline long jobdrop_copy_row_csv(const uint8_t *row, long length, uint8_t *out, uint8_t delimiter,
                                        bool guard, uint64_t numbers, long columns) {
  if (length == 0 || row[length - 1] != '\n' || columns < 1 || columns > 64) return -1;
  length--;
  long read = 0, written = 0, tabs = 0;
  unsigned startCarry = 1;  // whether the byte at `read` starts a value
#if defined(__SSE2__)
  const __m128i tab = _mm_set1_epi8('\t'), delimiters = _mm_set1_epi8((char)delimiter);
  const __m128i quote = _mm_set1_epi8('"'), cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i equals = _mm_set1_epi8('='), plus = _mm_set1_epi8('+'), minus = _mm_set1_epi8('-');
  const __m128i atSign = _mm_set1_epi8('@');
  while (read < length) {
    long left = length - read;
    __m128i block;
    unsigned valid = 0xFFFF;
    if (left >= 16) {
      block = _mm_loadu_si128((const __m128i *)(row + read));
    } else {
      uint8_t padded[16] = {0};
      memcpy(padded, row + read, (size_t)left);
      block = _mm_loadu_si128((const __m128i *)padded);
      valid = (1u << left) - 1;
    }
    __m128i isTab = _mm_cmpeq_epi8(block, tab);
    unsigned tabMask = (unsigned)_mm_movemask_epi8(isTab) & valid;
    __m128i hard = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, delimiters)),
                                _mm_or_si128(_mm_cmpeq_epi8(block, cr), _mm_cmpeq_epi8(block, lf)));
    if (((unsigned)_mm_movemask_epi8(hard) & valid) != 0) return -1;
    unsigned slashes = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(block, backslash)) & valid;
    unsigned starts = ((tabMask << 1) | startCarry) & valid;
    long consumed = left >= 16 ? 16 : left;
    if (slashes != 0) {
      // Only `\N`, a whole value: the bytes before it are taken from this block, then it is skipped.
      int at = __builtin_ctz(slashes);
      long position = read + at;
      if (!((starts >> at) & 1) || position + 1 >= length || row[position + 1] != 'N' ||
          (position + 2 < length && row[position + 2] != '\t'))
        return -1;
      consumed = at;
      starts &= (1u << at) - 1;
      tabMask &= (1u << at) - 1;
    }
    _mm_storeu_si128((__m128i *)(out + written),
                     _mm_or_si128(_mm_andnot_si128(isTab, block), _mm_and_si128(isTab, delimiters)));
    if (guard) {
      __m128i formula = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, equals), _mm_cmpeq_epi8(block, plus)),
                                     _mm_or_si128(_mm_cmpeq_epi8(block, minus), _mm_cmpeq_epi8(block, atSign)));
      for (unsigned pending = starts & (unsigned)_mm_movemask_epi8(formula); pending != 0; pending &= pending - 1) {
        int at = __builtin_ctz(pending);
        long column = tabs + __builtin_popcount(tabMask & ((1u << at) - 1));
        if (column >= columns || !((numbers >> column) & 1) ||
            !jobdrop_copy_plain_number(row + read + at, row + length))
          return -1;
      }
    }
    tabs += __builtin_popcount(tabMask);
    written += consumed;
    if (slashes != 0) {
      read += consumed + 2;
      startCarry = 0;
    } else {
      read += consumed;
      startCarry = (tabMask >> 15) & 1;
    }
  }
#else
  while (read < length) {
    uint8_t byte = row[read];
    if (byte == delimiter || byte == '"' || byte == '\r' || byte == '\n') return -1;
    if (byte == '\\') {
      if (!startCarry || read + 1 >= length || row[read + 1] != 'N' ||
          (read + 2 < length && row[read + 2] != '\t'))
        return -1;
      read += 2;
      startCarry = 0;
      continue;
    }
    if (byte == '\t') {
      out[written++] = delimiter;
      tabs++;
      read++;
      startCarry = 1;
      continue;
    }
    if (guard && startCarry && jobdrop_formula_start(byte) &&
        (tabs >= columns || !((numbers >> tabs) & 1) || !jobdrop_copy_plain_number(row + read, row + length)))
      return -1;
    out[written++] = byte;
    read++;
    startCarry = 0;
  }
#endif
  if (tabs + 1 != columns) return -1;
  out[written] = '\r';
  out[written + 1] = '\n';
  return written + 2;
}
