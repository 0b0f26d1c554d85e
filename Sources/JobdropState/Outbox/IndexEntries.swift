import JobdropSystem

/// The published jobs of a site as its index lists them, newest first (by creation, then id), each with
/// its JSON and (while among the newest) its row of the job page.
///
/// The jobs are kept in blocks of consecutive jobs, each holding its jobs' JSON already joined (newest
/// first, a comma after each), so `index.json` is the blocks' bytes one after another: a render takes a
/// reference to each block instead of walking every job, and writes each block's bytes as they are. A
/// change or a removal edits its one block (found by binary search on creation and id); a new job,
/// almost always the newest, goes into the newest block, and a block that grows past twice
/// ``blockSize`` is split. A job's JSON lives in its block only.
struct IndexEntries {
  /// A published job.
  struct Entry {
    var id: String
    var created: Timestamp
    var state: JobState
    var row: [UInt8]
    /// Its JSON's length in its block, with the comma after it.
    fileprivate var length: Int

    fileprivate var key: (Timestamp, String) { (created, id) }
  }

  /// Consecutive jobs (oldest first) and their JSON (newest first, each followed by a comma).
  private struct Block {
    var entries: [Entry]
    var json: [UInt8]

    /// Where the JSON of `entries[index]` starts: after the JSON of every newer job in the block.
    func offset(of index: Int) -> Int {
      var offset = 0
      for newer in entries[(index + 1)...] { offset += newer.length }
      return offset
    }
  }

  /// How many jobs a new block takes before the next one is started.
  let blockSize: Int
  /// Oldest first; never an empty one.
  private var blocks: [Block] = []
  /// How many jobs are listed.
  private(set) var count = 0
  /// How many jobs are in each state.
  private(set) var counts: [JobState: Int] = [:]
  /// How many jobs hold a page row.
  private var rowsHeld = 0

  init(blockSize: Int = 128) {
    self.blockSize = max(1, blockSize)
  }

  /// Adds the job `id`, or replaces its entry (a job keeps its place: its creation never changes).
  mutating func put(id: String, created: Timestamp, state: JobState, json: [UInt8], row: [UInt8]) {
    let entry = Entry(id: id, created: created, state: state, row: row, length: json.count + 1)
    counts[state, default: 0] += 1
    if !row.isEmpty { rowsHeld += 1 }
    let bytes = json + IndexEntries.comma
    if blocks.isEmpty || blocks[blocks.count - 1].entries.last!.key < entry.key {
      // The newest job: first in the newest block's bytes, or a new block's first job.
      count += 1
      if blocks.isEmpty || blocks[blocks.count - 1].entries.count >= blockSize {
        blocks.append(Block(entries: [entry], json: bytes))
      } else {
        blocks[blocks.count - 1].entries.append(entry)
        blocks[blocks.count - 1].json.insert(contentsOf: bytes, at: 0)
      }
      return
    }
    let (block, index) = position(of: entry.key)
    if index < blocks[block].entries.count, blocks[block].entries[index].id == id {
      let old = blocks[block].entries[index]
      counts[old.state, default: 1] -= 1
      if !old.row.isEmpty { rowsHeld -= 1 }
      let offset = blocks[block].offset(of: index)
      blocks[block].json.replaceSubrange(offset..<offset + old.length, with: bytes)
      blocks[block].entries[index] = entry
      return
    }
    count += 1
    // It goes after the JSON of the jobs that will be newer than it: those from `index` on.
    let offset = blocks[block].offset(of: index - 1)
    blocks[block].json.insert(contentsOf: bytes, at: offset)
    blocks[block].entries.insert(entry, at: index)
    if blocks[block].entries.count > 2 * blockSize { split(block) }
  }

  /// Removes the job `id` created at `created`, if it is listed.
  mutating func remove(id: String, created: Timestamp) {
    guard !blocks.isEmpty else { return }
    let (block, index) = position(of: (created, id))
    guard index < blocks[block].entries.count, blocks[block].entries[index].id == id else { return }
    let old = blocks[block].entries[index]
    counts[old.state, default: 1] -= 1
    if !old.row.isEmpty { rowsHeld -= 1 }
    count -= 1
    if blocks[block].entries.count == 1 {
      blocks.remove(at: block)
      return
    }
    let offset = blocks[block].offset(of: index)
    blocks[block].json.removeSubrange(offset..<offset + old.length)
    blocks[block].entries.remove(at: index)
  }

  /// `index.json`: `{"data":[…]}` and a line end, as parts to write one after another (the blocks'
  /// bytes as they are kept, not copied).
  func json() -> [ArraySlice<UInt8>] {
    var parts: [ArraySlice<UInt8>] = [IndexEntries.opening[...]]
    parts.reserveCapacity(blocks.count + 2)
    for (offset, block) in blocks.enumerated().reversed() {
      // The oldest job's comma is the one too many.
      parts.append(offset == 0 ? block.json.dropLast() : block.json[...])
    }
    parts.append(IndexEntries.closing[...])
    return parts
  }

  /// The page rows of the newest `limit` jobs, newest first; `make` makes a row a job lacks (from its id).
  /// Older jobs' rows are dropped (the page never shows them again unless they change, which makes a new
  /// one), so the memory an old job holds is its JSON alone; the walk goes no further than that needs.
  mutating func newestRows(_ limit: Int, make: (String) -> [UInt8]?) -> [[UInt8]] {
    var rows: [[UInt8]] = []
    rows.reserveCapacity(min(limit, count))
    var kept = 0
    walk: for block in blocks.indices.reversed() {
      for index in blocks[block].entries.indices.reversed() {
        if rows.count < limit {
          if blocks[block].entries[index].row.isEmpty, let row = make(blocks[block].entries[index].id),
            !row.isEmpty
          {
            blocks[block].entries[index].row = row
            rowsHeld += 1
          }
          if !blocks[block].entries[index].row.isEmpty { kept += 1 }
          rows.append(blocks[block].entries[index].row)
        } else if rowsHeld > kept {
          if !blocks[block].entries[index].row.isEmpty {
            blocks[block].entries[index].row = []
            rowsHeld -= 1
          }
        } else {
          break walk
        }
      }
    }
    return rows
  }

  /// The block that holds (or would hold) `key`, and its place there.
  private func position(of key: (Timestamp, String)) -> (block: Int, index: Int) {
    // The last block whose oldest job is not after `key` (the first block if every one is).
    var low = 0
    var high = blocks.count
    while low < high {
      let middle = (low + high) / 2
      if blocks[middle].entries[0].key <= key {
        low = middle + 1
      } else {
        high = middle
      }
    }
    let block = max(0, low - 1)
    let entries = blocks[block].entries
    low = 0
    high = entries.count
    while low < high {
      let middle = (low + high) / 2
      if entries[middle].key < key {
        low = middle + 1
      } else {
        high = middle
      }
    }
    return (block, low)
  }

  /// Splits a block that grew past twice ``blockSize`` in two (its newer half's JSON comes first).
  private mutating func split(_ block: Int) {
    let half = blocks[block].entries.count / 2
    let newer = Array(blocks[block].entries[half...])
    let newerBytes = newer.reduce(0) { $0 + $1.length }
    let json = blocks[block].json
    blocks[block] = Block(entries: Array(blocks[block].entries[..<half]), json: Array(json[newerBytes...]))
    blocks.insert(Block(entries: newer, json: Array(json[..<newerBytes])), at: block + 1)
  }

  private static let comma: [UInt8] = [0x2C]
  private static let opening = Array(#"{"data":["#.utf8)
  private static let closing = Array("]}\n".utf8)
}
