/// A growable run of plain values in memory of its own, for the hot path of a column being filled: no
/// copy-on-write or uniqueness check per append, as an `Array` has. Not copyable: the memory has one
/// owner, freed with it.
struct RawVector<Element: BitwiseCopyable>: ~Copyable {
  private(set) var base: UnsafeMutablePointer<Element>
  private(set) var count = 0
  private var capacity: Int

  init(capacity: Int = 1024) {
    self.capacity = max(capacity, 16)
    base = .allocate(capacity: self.capacity)
  }

  deinit { base.deallocate() }

  @inline(__always)
  mutating func append(_ value: Element) {
    if count == capacity { grow(to: count + 1) }
    base[count] = value
    count += 1
  }

  @inline(__always)
  mutating func append(contentsOf values: UnsafeBufferPointer<Element>) {
    if count + values.count > capacity { grow(to: count + values.count) }
    if let start = values.baseAddress { (base + count).update(from: start, count: values.count) }
    count += values.count
  }

  /// Empties it, keeping its memory.
  mutating func removeAll() { count = 0 }

  subscript(index: Int) -> Element {
    @inline(__always) get { base[index] }
  }

  var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

  private mutating func grow(to minimum: Int) {
    let newCapacity = max(minimum, capacity * 2)
    let newBase = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
    newBase.update(from: base, count: count)
    base.deallocate()
    base = newBase
    capacity = newCapacity
  }
}
