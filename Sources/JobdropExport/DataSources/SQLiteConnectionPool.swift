import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Idle read-only connections to one SQLite file, reused by later exports.
final class SQLiteConnectionPool: @unchecked Sendable {
  let path: String
  private let lock = ConditionLock()
  private var idle: [(database: SQLiteDatabase, inode: ino_t)] = []

  init(path: String) { self.path = path }

  /// An open connection: an idle one to the file now at `path`, or a new one.
  func take() throws -> SQLiteDatabase {
    let inode = currentInode()
    let reused: SQLiteDatabase? = lock.withLock {
      idle.removeAll { $0.inode != inode }
      return idle.popLast()?.database
    }
    if let reused { return reused }
    let database = try SQLiteDatabase(path: path)
    try database.execute("PRAGMA cache_size = -8192")
    database.inode = inode
    return database
  }

  /// Returns a connection after a successful export.
  func give(_ database: SQLiteDatabase) {
    lock.withLock {
      if idle.count < 8 { idle.append((database, database.inode)) }
    }
  }

  private func currentInode() -> ino_t {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_ino : 0
  }
}
