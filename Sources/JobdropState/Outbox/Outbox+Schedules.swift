import JobdropModel
import JobdropSystem

extension Outbox {
  /// Writes this site's `schedules.json` (`{"data": [Schedule…]}`), each `schedules/<id>.json`, and each
  /// schedule's `requests/<name>`; removes the documents of schedules that ended. Call under the store's
  /// lock. A site that never had a schedule gets none of these documents.
  func publishSchedules(
    _ schedules: [(record: ScheduleRecord, request: ExportRequest)], changed: Set<String>? = nil
  ) throws {
    let existing = try? root.subdirectory("schedules", create: false)
    if schedules.isEmpty && existing == nil { return }
    let folder = try existing ?? root.subdirectory("schedules", create: true)
    var list: [UInt8] = Array(#"{"data":["#.utf8)
    var kept = Set<FileName>()
    for (index, schedule) in schedules.enumerated() {
      let document = ScheduleDocument(record: schedule.record, request: schedule.request, links: links)
      let json = document.json
      if index > 0 { list.append(0x2C) }
      list += json
      let file = FileName("\(schedule.record.id).json")
      kept.insert(file)
      if let changed, !changed.contains(schedule.record.id) { continue }
      try AtomicWriter.write(document.document, to: file, in: folder, syncDirectory: false)
      claimRequestName(schedule.record.name, for: schedule.record.id)
      let request = Outbox.requestDocumentName(schedule.record.name)
      try AtomicWriter.write(document.document, to: request, in: requestsFolder, syncDirectory: false)
      notifyChanged("schedules/" + file.display)
      notifyChanged("requests/" + request.display)
    }
    list += Array("]}\n".utf8)
    scheduleSection = ScheduleDocument.section(schedules)
    // (Only a whole publication removes the documents of schedules that ended.)
    for name in changed == nil ? try folder.entries() : []
    where !kept.contains(name) && !name.hasPrefix(AtomicWriter.temporaryPrefix) {
      try? folder.remove(name)
      notifyChanged("schedules/" + name.display)
    }
    try AtomicWriter.write(list, to: FileName("schedules.json"), in: root, syncDirectory: false)
    notifyChanged("schedules.json")
  }

  /// Removes an ended schedule's `requests/<name>` (when it still shows the schedule).
  func withdrawSchedule(_ record: ScheduleRecord) {
    guard releaseRequestName(record.name, from: record.id) else { return }
    let request = Outbox.requestDocumentName(record.name)
    try? requestsFolder.remove(request)
    notifyChanged("requests/" + request.display)
  }
}
