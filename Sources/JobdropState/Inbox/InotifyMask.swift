import CInotifyTools

/// inotify event bits, typed (`IN_CLOSE_WRITE`, `IN_MOVED_TO`, …).
public struct InotifyMask: OptionSet, Sendable, Hashable, CustomStringConvertible {
  public let rawValue: UInt32

  public init(rawValue: UInt32) { self.rawValue = rawValue }

  /// A file opened for writing was closed (`IN_CLOSE_WRITE`).
  public static let closeWrite = InotifyMask(rawValue: UInt32(IN_CLOSE_WRITE))
  /// A file was written to (`IN_MODIFY`): it has a writer, until `IN_CLOSE_WRITE`.
  public static let modify = InotifyMask(rawValue: UInt32(IN_MODIFY))
  /// A file was renamed into the directory (`IN_MOVED_TO`).
  public static let movedTo = InotifyMask(rawValue: UInt32(IN_MOVED_TO))
  /// A file was renamed out of the directory (`IN_MOVED_FROM`).
  public static let movedFrom = InotifyMask(rawValue: UInt32(IN_MOVED_FROM))
  /// A file or link was created (`IN_CREATE`); a hard link shows up only as this.
  public static let create = InotifyMask(rawValue: UInt32(IN_CREATE))
  /// The watched directory itself was deleted (`IN_DELETE_SELF`).
  public static let deleteSelf = InotifyMask(rawValue: UInt32(IN_DELETE_SELF))
  /// The watched directory itself was moved (`IN_MOVE_SELF`).
  public static let moveSelf = InotifyMask(rawValue: UInt32(IN_MOVE_SELF))
  /// The kernel dropped events (`IN_Q_OVERFLOW`): rescan.
  public static let queueOverflow = InotifyMask(rawValue: UInt32(IN_Q_OVERFLOW))
  /// The watch was removed (`IN_IGNORED`).
  public static let ignored = InotifyMask(rawValue: UInt32(IN_IGNORED))
  /// The subject is a directory (`IN_ISDIR`).
  public static let isDirectory = InotifyMask(rawValue: UInt32(IN_ISDIR))
  /// Only watch the path if it is a directory (`IN_ONLYDIR`).
  public static let onlyDirectory = InotifyMask(rawValue: UInt32(IN_ONLYDIR))

  /// What jobdrop watches a drop folder for.
  public static let dropFolder: InotifyMask = [
    .closeWrite, .movedTo, .create, .modify, .deleteSelf, .moveSelf, .onlyDirectory,
  ]

  /// The watched directory is gone or replaced.
  public var directoryLost: Bool { !isDisjoint(with: [.deleteSelf, .moveSelf, .ignored]) }

  public var description: String {
    let names: [(InotifyMask, String)] = [
      (.closeWrite, "CLOSE_WRITE"), (.movedTo, "MOVED_TO"), (.movedFrom, "MOVED_FROM"), (.create, "CREATE"),
      (.deleteSelf, "DELETE_SELF"), (.moveSelf, "MOVE_SELF"), (.queueOverflow, "Q_OVERFLOW"),
      (.ignored, "IGNORED"), (.isDirectory, "ISDIR"),
    ]
    return names.filter { contains($0.0) }.map(\.1).joined(separator: "|")
  }
}
