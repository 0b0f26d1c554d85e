import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The AWS CLI's shared files as it reads them: `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`)
/// with `[PROFILE]` sections, and `~/.aws/config` (or `AWS_CONFIG_FILE`) with `[default]` and
/// `[profile PROFILE]` sections; `key = value` lines, `#` and `;` comments.
struct AWSSharedFiles {
  /// The profile's settings from both files (the credentials file wins).
  let settings: [String: String]

  init(profile: String, environment: [String: String]) {
    let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/root"
    let credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
    let configPath = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
    let configSection = profile == "default" ? "default" : "profile \(profile)"
    var settings = AWSSharedFiles.section(configSection, in: AWSSharedFiles.read(configPath))
    settings.merge(AWSSharedFiles.section(profile, in: AWSSharedFiles.read(credentialsPath))) { $1 }
    self.settings = settings
  }

  subscript(key: String) -> String? { settings[key].flatMap { $0.isEmpty ? nil : $0 } }

  /// The `key = value` pairs of `[name]` in an INI text.
  static func section(_ name: String, in text: String) -> [String: String] {
    var values: [String: String] = [:]
    var inside = false
    for rawLine in text.split(whereSeparator: \.isNewline) {
      let line = rawLine.trimming(while: \.isWhitespace)
      if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
      if line.hasPrefix("[") && line.hasSuffix("]") {
        inside = line.dropFirst().dropLast().trimming(while: \.isWhitespace) == name
        continue
      }
      guard inside, let equals = line.firstIndex(of: "=") else { continue }
      let key = line[..<equals].trimming(while: \.isWhitespace).lowercased()
      values[key] = line[line.index(after: equals)...].trimming(while: \.isWhitespace)
    }
    return values
  }

  private static func read(_ path: String) -> String {
    guard let bytes = try? FileReader.read(path: path, limit: 1 << 20) else { return "" }
    return String(decoding: bytes, as: UTF8.self)
  }
}
