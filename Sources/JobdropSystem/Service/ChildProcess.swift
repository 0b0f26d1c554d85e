#if canImport(Glibc)
  import Glibc
#endif

/// Runs a program to its end (`posix_spawn`, no shell): its exit status and the first 4 KiB of what it
/// wrote to stderr. Standard input is `/dev/null`, standard output is discarded.
package enum ChildProcess {
  package struct Outcome {
    package var status: Int32
    package var stderr: String
  }

  package static func run(_ path: String, _ arguments: [String], environment: [String] = []) -> Outcome {
    var pipe: [Int32] = [0, 0]
    guard Glibc.pipe(&pipe) == 0 else {
      return Outcome(status: -1, stderr: "pipe: \(String(cString: strerror(errno)))")
    }
    _ = fcntl(pipe[0], F_SETFD, FD_CLOEXEC)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
    posix_spawn_file_actions_addclose(&actions, pipe[1])
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer {
      argv.forEach { free($0) }
      envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
    close(pipe[1])
    defer { close(pipe[0]) }
    guard spawned == 0 else {
      return Outcome(status: -1, stderr: "\(path): \(String(cString: strerror(spawned)))")
    }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = read(pipe[0], &buffer, buffer.count)
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { break }
      if output.count < 4096 { output += buffer[0..<min(count, 4096 - output.count)] }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return Outcome(status: code, stderr: String(decoding: output, as: UTF8.self))
  }
}
