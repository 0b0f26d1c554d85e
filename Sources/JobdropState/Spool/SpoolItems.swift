import FoundationEssentials
import JobdropSystem

/// The items a spool folder holds as one JSON file each (webhook events, deliveries): every one that
/// reads back; temp files a crash left and files that cannot be read are removed (the damaged ones
/// named, for the log), unless `tidying` is off (a reader beside the daemon, `jobdrop status`, passes
/// over them). Entries in `skipping` (a working folder) are left alone.
enum SpoolItems {
  static func load<Item: Decodable>(
    _ type: Item.Type, from folder: DirectoryHandle, limit: Int, skipping: Set<String> = [],
    tidying: Bool = true
  ) -> (items: [Item], damaged: [String]) {
    var items: [Item] = []
    var damaged: [String] = []
    for name in (try? folder.entries()) ?? [] where !skipping.contains(name.display) {
      if name.hasPrefix(AtomicWriter.temporaryPrefix) {
        if tidying { try? folder.remove(name) }
        continue
      }
      guard let bytes = try? FileReader.read(name, in: folder, limit: limit),
        let item = try? JSONDecoder().decode(Item.self, from: Data(bytes))
      else {
        damaged.append(name.display)
        if tidying { try? folder.remove(name) }
        continue
      }
      items.append(item)
    }
    return (items, damaged)
  }
}
