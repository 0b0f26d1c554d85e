/// A file already renamed into place without a sync (an export file published inside a group), which a
/// group commit makes durable before anything that points to it: the file `name` in `folder`, and the
/// entries leading to it (`folders`: its own folder, and that folder's parent when the folder is new).
public struct UnsyncedFile: Sendable {
  public let folder: DirectoryHandle
  public let name: FileName
  public let folders: [DirectoryHandle]

  public init(folder: DirectoryHandle, name: FileName, folders: [DirectoryHandle]) {
    self.folder = folder
    self.name = name
    self.folders = folders
  }
}
