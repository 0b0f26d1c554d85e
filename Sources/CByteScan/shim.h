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
