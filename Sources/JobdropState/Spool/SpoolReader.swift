import FoundationEssentials
import JobdropModel
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Reads the spool without changing it: what `jobdrop status`, `submit` and the tests use beside a running
/// daemon. It has no method that writes, moves or removes anything, and opening it creates nothing.
///
/// A listing taken while a daemon works is consistent in the way a reader needs: every move writes the
/// job's new status file before it retires the old one, and folders are read in lifecycle order, so a job
/// moving forward is seen at least once; when it is seen twice, the later state is the true one.
public final class SpoolReader: Sendable {
  /// The spool's root folder.
  public let root: DirectoryHandle
  let requests: DirectoryHandle
  private let stateFolders: [JobState: DirectoryHandle]

  /// Opens the spool at `path` for reading; throws (`ENOENT`) when there is none.
  public convenience init(path: String) throws(FileSystemError) {
    try self.init(root: DirectoryHandle(path: path))
  }

  init(root: DirectoryHandle) throws(FileSystemError) {
    self.root = root
    requests = try root.subdirectory("requests")
    var folders: [JobState: DirectoryHandle] = [:]
    for state in JobState.allCases { folders[state] = try root.subdirectory(state.rawValue) }
    stateFolders = folders
  }

  /// The folder holding the status files of jobs in `state`.
  public func folder(_ state: JobState) -> DirectoryHandle { stateFolders[state]! }

  /// What a read-only listing found.
  public struct Snapshot: Sendable {
    /// Every job whose claim has completed, in its latest state.
    public var jobs: [Job] = []
    /// Status files that could not be read or decoded (paths), for the operator to look at.
    public var damaged: [String] = []
    /// Damaged status files a start moved into `damaged/` (their jobs rebuilt or failed then), kept for
    /// the operator to look at and remove.
    public var quarantined: [String] = []
  }

  /// Every job in the spool now. Status files of claims still in progress (no request yet) are left out;
  /// nothing is removed.
  public func snapshot() throws(FileSystemError) -> Snapshot {
    var snapshot = Snapshot()
    let requestNames = Set(try requests.entries())
    var latest: [String: Job] = [:]
    for state in JobState.allCases {
      let directory = folder(state)
      for name in try directory.entries() where requestNames.contains(name) {
        switch read(name, in: directory) {
        case .record(let record): latest[record.id] = Job(record: record, state: state)
        case .damaged: snapshot.damaged.append(directory.display(name))
        case .gone: continue
        }
      }
    }
    snapshot.jobs = Array(latest.values)
    if let damaged = try? root.subdirectory("damaged") {
      snapshot.quarantined = ((try? damaged.entries()) ?? []).filter {
        !$0.hasPrefix(AtomicWriter.temporaryPrefix)
      }.map { damaged.display($0) }.sorted()
    }
    return snapshot
  }

  /// The job with `id` in its latest state, if it is in the spool.
  public func job(id: String) -> Job? {
    guard JobID.isValid(id) else { return nil }
    for state in JobState.allCases.reversed() {
      if case .record(let record) = read(Spool.fileName(id), in: folder(state)) {
        return Job(record: record, state: state)
      }
    }
    return nil
  }

  /// The request file's bytes as dropped.
  public func requestBytes(of id: String) -> [UInt8]? {
    try? FileReader.read(Spool.fileName(id), in: requests, limit: RequestParser.maximumSize + 1)
  }

  /// What reading one status file found.
  enum StatusFile {
    case record(JobRecord)
    /// Unreadable, not JSON of a record, or a record under another job's name.
    case damaged(String)
    case gone
  }

  func read(_ name: FileName, in directory: DirectoryHandle) -> StatusFile {
    let bytes: [UInt8]
    do {
      bytes = try FileReader.read(name, in: directory, limit: 4 << 20)
    } catch {
      return error.errno == ENOENT ? .gone : .damaged("\(error)")
    }
    do {
      let record = try JSONDecoder().decode(JobRecord.self, from: Data(bytes))
      guard Spool.fileName(record.id) == name else {
        return .damaged("the record inside is job \(record.id)")
      }
      return .record(record)
    } catch {
      return .damaged("\(error)")
    }
  }
}
