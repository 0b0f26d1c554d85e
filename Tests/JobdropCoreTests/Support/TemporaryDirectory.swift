import Foundation

/// A fresh directory under the system temp folder, removed when released.
final class TemporaryDirectory {
  let path: String

  init() {
    path = NSTemporaryDirectory() + "jobdrop-test-" + UUID().uuidString.lowercased()
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  func file(_ name: String) -> String { path + "/" + name }

  func write(_ text: String, to name: String) {
    _ = FileManager.default.createFile(atPath: file(name), contents: Data(text.utf8))
  }

  func read(_ name: String) -> String? {
    FileManager.default.contents(atPath: file(name)).map { String(decoding: $0, as: UTF8.self) }
  }

  func list(_ name: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: file(name))) ?? []).sorted()
  }
}
