import CXLSXWriter
import JobdropModel
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Writes an Office Open XML workbook with libxlsxwriter in its constant-memory mode: one sheet named
/// `export` with a header row, continued on `export 2`, `export 3`, … past ``maxDataRowsPerSheet`` data
/// rows. Integer and money columns are numeric cells, everything else text (string cells are never
/// formulas; risky text also gets the leading `'` it has in CSV, so every format holds the same value).
///
/// libxlsxwriter writes to a path: the workbook is built in a temp file next to the export (removed
/// with the other temp files if the process dies), and ``finish()`` streams it into the sink, which
/// counts and hashes it. Memory is one row, whatever the number of rows.
public final class XLSXWriter: RowWriter {
  /// Excel's 1,048,576 rows, less the header row.
  public static let maxDataRowsPerSheet = 1_048_575
  /// Excel's limit on the characters of a cell.
  static let maxCellCharacters = 32_767

  private let sink: any ByteSink
  private let path: String
  /// libxlsxwriter's own temp files (one per sheet, unlinked at once and kept open) go into this private
  /// folder, so that whatever it leaves open on an error path can be found and closed (``release()``).
  private let scratchFolder: String
  private let rowsPerSheet: Int
  private let columns: [Column]
  private var workbook: UnsafeMutablePointer<lxw_workbook>?
  private var sheet: UnsafeMutablePointer<lxw_worksheet>?
  private let bold: UnsafeMutablePointer<lxw_format>?
  private var names: [String] = []
  private var sheets = 0
  /// The row being written (0 is the header) and its data rows so far on this sheet.
  private var row: lxw_row_t = 0
  private var column: lxw_col_t = 0
  private var rowsOnSheet = 0
  /// Rows written before this one, for error messages.
  private var rowsWritten = 0
  /// A NUL-terminated copy of a text cell, for libxlsxwriter.
  private var scratch: [CChar] = []
  public let guardFormulas: Bool

  /// Starts a workbook in `temporaryPath` whose bytes go to `sink` when it is finished.
  public init(
    sink: any ByteSink, temporaryPath: String, columns: [Column], guardFormulas: Bool = true,
    rowsPerSheet: Int = XLSXWriter.maxDataRowsPerSheet
  ) throws {
    self.sink = sink
    self.path = temporaryPath
    self.columns = columns
    self.guardFormulas = guardFormulas
    self.rowsPerSheet = max(1, min(rowsPerSheet, XLSXWriter.maxDataRowsPerSheet))
    let folder = String(temporaryPath[..<(temporaryPath.lastIndex(of: "/") ?? temporaryPath.startIndex)])
    var template = Array((folder + "/" + AtomicWriter.temporaryPrefix + "xlsx-XXXXXX").utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }),
      let absolute = realpath(made, nil)
    else {
      let reason = String(cString: strerror(errno))
      throw WriterError("xlsx: cannot create the workbook: \(reason)", detail: "\(folder): \(reason)")
    }
    scratchFolder = String(cString: absolute)
    free(absolute)
    workbook = scratchFolder.withCString { tmpdir in
      var options = lxw_workbook_options()
      options.constant_memory = UInt8(LXW_TRUE.rawValue)
      options.tmpdir = UnsafeMutablePointer(mutating: tmpdir)
      return workbook_new_opt(temporaryPath, &options)
    }
    guard let workbook else {
      let reason = String(cString: strerror(errno))
      rmdir(scratchFolder)
      throw WriterError("xlsx: cannot create the workbook: \(reason)", detail: "\(temporaryPath): \(reason)")
    }
    bold = workbook_add_format(workbook)
    format_set_bold(bold)
  }

  deinit { discard() }

  public var formatsInSlices: Bool { false }

  public func sliceWriter(into sink: any ByteSink) -> XLSXWriter {
    preconditionFailure("a workbook is written by one thread")
  }

  public func append(formatted bytes: UnsafeRawBufferPointer) throws {
    preconditionFailure("a workbook is written by one thread")
  }

  /// Keeps the names and writes them as the first sheet's header row.
  public func header(_ names: [String]) throws {
    self.names = names
    try startSheet()
  }

  public func empty() throws {
    try startRowIfNeeded()
    column += 1
  }

  public func integer(_ value: Int64) throws {
    try startRowIfNeeded()
    try check(worksheet_write_number(sheet, row, column, Double(value), nil))
    column += 1
  }

  public func text(_ bytes: UnsafeRawBufferPointer, guarded: Bool, numbersAsIs: Bool) throws {
    try startRowIfNeeded()
    let index = Int(column)
    if index < columns.count && columns[index].type.isNumeric && FormulaGuard.isPlainNumber(bytes) {
      try writeNumber(bytes)
    } else {
      let prefix = guarded && guardFormulas && FormulaGuard.isRisky(bytes, numbersAsIs: numbersAsIs)
      scratch.removeAll(keepingCapacity: true)
      if prefix { scratch.append(0x27) }
      scratch.append(contentsOf: bytes.lazy.map { CChar(bitPattern: $0) })
      scratch.append(0)
      let result = scratch.withUnsafeBufferPointer {
        worksheet_write_string(sheet, row, column, $0.baseAddress, nil)
      }
      if result == LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED {
        let name = index < names.count ? names[index] : "\(index + 1)"
        throw WriterError(
          "xlsx: row \(rowsWritten + 1), column '\(name)' has more than \(XLSXWriter.maxCellCharacters) "
            + "characters, Excel's limit for a cell (csv and jsonl have none)")
      }
      try check(result)
    }
    column += 1
  }

  public func endRow() throws {
    try startRowIfNeeded()
    row += 1
    column = 0
    rowsOnSheet += 1
    rowsWritten += 1
  }

  public func flush() throws {}

  /// Closes the workbook and streams its bytes into the sink.
  public func finish() throws {
    guard let workbook else { throw WriterError("xlsx: the workbook was already finished") }
    self.workbook = nil
    errno = 0
    let result = workbook_close(workbook)
    let systemError = errno
    release()
    guard result == LXW_NO_ERROR else {
      unlink(path)
      // The system's reason when there is one (a full disk), rather than the zip library's own words.
      let reason = String(cString: systemError != 0 ? strerror(systemError) : lxw_strerror(result))
      throw WriterError("xlsx: cannot write the workbook: \(reason)")
    }
    defer { unlink(path) }
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw FileSystemError(operation: "open", path: path, errno: errno)
    }
    defer { close(descriptor) }
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { chunk.deallocate() }
    while true {
      let count = read(descriptor, chunk.baseAddress, chunk.count)
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { throw FileSystemError(operation: "read", path: path, errno: errno) }
      if count == 0 { break }
      try sink.write(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
    }
    try sink.finish()
  }

  /// Frees an unfinished workbook and removes its temp file.
  public func discard() {
    guard let workbook else { return }
    self.workbook = nil
    lxw_workbook_free(workbook)
    release()
    unlink(path)
  }

  /// Closes what libxlsxwriter left open in its private folder and removes the folder. A failed
  /// `workbook_close` (a full disk) leaves a sheet's temp file open, unlinked: without this its space
  /// would never come back, and every later job on that file system would fail for want of it.
  private func release() {
    let prefix = scratchFolder + "/"
    if let descriptors = opendir("/proc/self/fd") {
      var open: [Int32] = []
      while let entry = readdir(descriptors) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) {
          String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard let descriptor = Int32(name) else { continue }
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
        guard count > 0 else { continue }
        let path = String(decoding: target[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if path.hasPrefix(prefix) { open.append(descriptor) }
      }
      closedir(descriptors)
      for descriptor in open { close(descriptor) }
    }
    if let folder = opendir(scratchFolder) {
      while let entry = readdir(folder) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) {
          String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { unlink(prefix + name) }
      }
      closedir(folder)
    }
    rmdir(scratchFolder)
  }

  /// A new sheet (`export`, `export 2`, …) with the header row in bold.
  private func startSheet() throws {
    guard let workbook else { throw WriterError("xlsx: the workbook was already finished") }
    sheets += 1
    let name = sheets == 1 ? "export" : "export \(sheets)"
    guard let added = workbook_add_worksheet(workbook, name) else {
      throw WriterError("xlsx: cannot add the sheet '\(name)'")
    }
    sheet = added
    for (offset, name) in names.enumerated() {
      try check(worksheet_write_string(added, 0, lxw_col_t(offset), name, bold))
    }
    row = 1
    column = 0
    rowsOnSheet = 0
  }

  /// At a row's first cell: a new sheet if this one is full.
  @inline(__always)
  private func startRowIfNeeded() throws {
    if column == 0 && (sheet == nil || rowsOnSheet == rowsPerSheet) { try startSheet() }
  }

  private func writeNumber(_ bytes: UnsafeRawBufferPointer) throws {
    scratch.removeAll(keepingCapacity: true)
    scratch.append(contentsOf: bytes.lazy.map { CChar(bitPattern: $0) })
    scratch.append(0)
    let value = scratch.withUnsafeBufferPointer { strtod($0.baseAddress!, nil) }
    try check(worksheet_write_number(sheet, row, column, value, nil))
  }

  private func check(_ result: lxw_error) throws {
    guard result == LXW_NO_ERROR else {
      throw WriterError("xlsx: row \(rowsWritten + 1): \(String(cString: lxw_strerror(result)))")
    }
  }
}
