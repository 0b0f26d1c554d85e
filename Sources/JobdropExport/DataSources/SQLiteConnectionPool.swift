import CSQLite
import JobdropSystem
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Idle read-only connections to one SQLite file, reused by later exports.
// @unchecked: the idle connections are only touched under `lock`; a taken connection has one user. (A
// Mutex cannot hand the non-Sendable connections out.)
final class SQLiteConnectionPool: @unchecked Sendable {
  let path: String
  private let lock = ConditionLock()
  private var idle: [(database: SQLiteDatabase, inode: ino_t)] = []
  /// Set once by ``interruptRunning()``; every connection's progress handler reads it.
  private let interrupted = Interruption()

  /// The flag a connection's progress handler checks; lives as long as the pool.
  final class Interruption: Sendable {
    let flag = Atomic<Bool>(false)
  }

  /// What a connection's progress handler checks: the pool's shutdown, and the connection's own cancel
  /// (an export cancelled by its partner; once set, the connection is not reused). Lives as long as its
  /// connection.
  final class ConnectionStop: Sendable {
    let shutdown: Interruption
    let cancelled = Atomic<Bool>(false)
    init(shutdown: Interruption) { self.shutdown = shutdown }
  }

  /// Makes every statement of this pool's connections stop with `SQLITE_INTERRUPT` within about 100,000
  /// virtual machine steps (well under a millisecond), now and from now on.
  func interruptRunning() { interrupted.flag.store(true, ordering: .relaxed) }

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
    try database.execute("PRAGMA cache_size = -2048")
    let stop = ConnectionStop(shutdown: interrupted)
    database.stop = stop
    sqlite3_progress_handler(
      database.handle, 100_000,
      { context in
        let stop = Unmanaged<ConnectionStop>.fromOpaque(context!).takeUnretainedValue()
        return stop.shutdown.flag.load(ordering: .relaxed) || stop.cancelled.load(ordering: .relaxed) ? 1 : 0
      }, Unmanaged.passUnretained(stop).toOpaque())
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
