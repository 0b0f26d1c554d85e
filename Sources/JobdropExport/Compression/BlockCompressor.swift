import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Compresses a block of bytes on its own, into a piece that can follow the previous block's (a gzip
/// member). One per thread: a codec keeps its working memory between blocks.
protocol BlockCodec {
  /// The largest output `count` input bytes can give.
  func bound(_ count: Int) -> Int
  /// Compresses `input` into `output` (at least ``bound(_:)`` bytes) and returns the output's size.
  func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int
}

/// Cuts what it is given into blocks, compresses them on worker threads and passes them on in order,
/// streaming: memory is a few blocks in and out per worker, whatever the export's size.
///
/// The caller's thread fills a block and moves on to the next while workers compress the earlier ones;
/// it writes compressed blocks on, in their order, as they are done. A stream of one block (a small
/// export) is compressed on the caller's thread: no worker is started.
// @unchecked: the slots' states and the counters are only touched under `lock`; a slot's buffers belong
// to the filler until it is queued, then to one worker until it is compressed, then to the filler again.
public final class BlockCompressor: ByteSink, @unchecked Sendable {
  static let blockSize = 1 << 20

  private struct Slot {
    let input: UnsafeMutableRawPointer
    var inputCount = 0
    let output: UnsafeMutableRawPointer
    var outputCount = 0
    var compressed = false
  }

  private let next: any ByteSink
  private let makeCodec: @Sendable () -> any BlockCodec
  private let workerCount: Int
  private let lock = ConditionLock()
  private var slots: [Slot] = []
  private let outputCapacity: Int
  /// Blocks queued so far; block `n` is in slot `n % slots.count`.
  private var queued = 0
  /// Blocks a worker has taken.
  private var taken = 0
  /// Blocks written on.
  private var written = 0
  private var threads: [JoinableThread] = []
  private var stopping = false
  private var ended = false

  /// `workers`: threads compressing at once (at least 1).
  init(next: any ByteSink, workers: Int, makeCodec: @escaping @Sendable () -> any BlockCodec) {
    self.next = next
    self.makeCodec = makeCodec
    self.workerCount = max(1, workers)
    outputCapacity = makeCodec().bound(BlockCompressor.blockSize)
    let first = Slot(
      input: .allocate(byteCount: BlockCompressor.blockSize, alignment: 64),
      output: .allocate(byteCount: outputCapacity, alignment: 64))
    slots.append(first)
    fillStart = first.input
  }

  /// Worker threads for an export: the processors online, at most 4.
  public static var defaultWorkers: Int { max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 4)) }

  deinit {
    stop()
    for slot in slots {
      slot.input.deallocate()
      slot.output.deallocate()
    }
  }

  private func makeSlot() -> Slot {
    Slot(
      input: .allocate(byteCount: BlockCompressor.blockSize, alignment: 64),
      output: .allocate(byteCount: outputCapacity, alignment: 64))
  }

  /// The slot the caller fills now (block number `queued`).
  private var filling: Int { queued % slots.count }
  /// The input buffer of the slot being filled, and how much of it is filled (the caller's alone).
  private var fillStart: UnsafeMutableRawPointer
  private var fillCount = 0

  public func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
    var rest = bytes
    while !rest.isEmpty {
      let count = min(BlockCompressor.blockSize - fillCount, rest.count)
      (fillStart + fillCount).copyMemory(from: rest.baseAddress!, byteCount: count)
      fillCount += count
      rest = UnsafeRawBufferPointer(rebasing: rest[count...])
      if fillCount == BlockCompressor.blockSize { try queue() }
    }
  }

  public func finish() throws(FileSystemError) {
    guard !ended else { return }
    ended = true
    if queued == 0 {
      // One block (or none: an empty stream still gets one empty member) on this thread.
      let codec = makeCodec()
      let slot = slots[0]
      let count = codec.compress(
        UnsafeRawBufferPointer(start: slot.input, count: fillCount),
        into: UnsafeMutableRawBufferPointer(start: slot.output, count: outputCapacity))
      try next.write(UnsafeRawBufferPointer(start: slot.output, count: count))
    } else {
      if fillCount > 0 { try queue() }
      while written < queued { try writeOldest() }
      stop()
    }
    try next.finish()
  }

  /// Hands the filled slot to the workers and makes the next one ready to fill.
  private func queue() throws(FileSystemError) {
    if threads.isEmpty { startWorkers() }
    lock.withLock {
      slots[filling].inputCount = fillCount
      slots[filling].compressed = false
      queued += 1
    }
    lock.broadcast()
    // Write on what is done, in order; wait for the oldest block only when every slot is in use.
    while written < queued, lock.withLock({ slots[written % slots.count].compressed }) {
      try writeOldest()
    }
    if queued - written == slots.count { try writeOldest() }
    fillStart = lock.withLock { slots[filling].input }
    fillCount = 0
  }

  /// Waits until the oldest unwritten block is compressed and writes it on.
  private func writeOldest() throws(FileSystemError) {
    let index = written % slots.count
    lock.withLock {
      while !slots[index].compressed { lock.wait(untilMilliseconds: nil) }
    }
    do {
      try next.write(UnsafeRawBufferPointer(start: slots[index].output, count: slots[index].outputCount))
    } catch {
      stop()
      throw error
    }
    lock.withLock { written += 1 }
  }

  /// Starts the workers, with two slots more than workers (block `n` in slot `n % count`: this is
  /// called as block 0 is queued, from the one slot a small export uses).
  private func startWorkers() {
    lock.withLock {
      while slots.count < workerCount + 2 { slots.append(makeSlot()) }
    }
    for worker in 0..<workerCount {
      // Unretained: the workers are joined in `stop()`, which `deinit` calls first.
      threads.append(
        JoinableThread(name: "jobdrop-zip-\(worker)") { [unowned(unsafe) self] in self.work() })
    }
  }

  private func work() {
    let codec = makeCodec()
    while true {
      let taking: (index: Int, count: Int)? = lock.withLock {
        while taken == queued && !stopping { lock.wait(untilMilliseconds: nil) }
        guard !stopping || taken < queued else { return nil }
        let index = taken % slots.count
        taken += 1
        return (index, slots[index].inputCount)
      }
      guard let (index, count) = taking else { return }
      let slot = lock.withLock { slots[index] }
      let produced = codec.compress(
        UnsafeRawBufferPointer(start: slot.input, count: count),
        into: UnsafeMutableRawBufferPointer(start: slot.output, count: outputCapacity))
      lock.withLock {
        slots[index].outputCount = produced
        slots[index].compressed = true
      }
      lock.broadcast()
    }
  }

  /// Stops and joins the workers (after the blocks they took).
  private func stop() {
    lock.withLock { stopping = true }
    lock.broadcast()
    threads.forEach { $0.join() }
    threads = []
  }
}
