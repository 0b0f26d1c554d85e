import Foundation
import Testing

@testable import JobdropDemo
@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct IndexEntriesTests {
  /// A job as the index lists it, for the model the blocks are checked against.
  struct Listed: Equatable {
    var id: String
    var created: Int64
    var state: JobState
  }

  func json(_ job: Listed) -> [UInt8] {
    // Lengths vary with the job, as real documents' do.
    Array(
      #"{"id":"\#(job.id)","status":"\#(job.state.rawValue)","pad":"\#(String(repeating: "x", count: job.id.count % 7))"}"#
        .utf8)
  }

  func listed(_ entries: IndexEntries) throws -> [Listed] {
    let bytes = entries.json().flatMap { $0 }
    #expect(bytes.last == 0x0A)
    let object = try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
    return (object["data"] as! [[String: Any]]).map {
      Listed(id: $0["id"] as! String, created: 0, state: JobState(rawValue: $0["status"] as! String)!)
    }
  }

  @Test func blocksListWhatASortedListWouldAfterThousandsOfChangesInAnyOrder() throws {
    var entries = IndexEntries(blockSize: 4)
    var model: [String: Listed] = [:]
    // A fixed sequence (the demo data's generator), so a failure can be replayed.
    var numbers = SplitMix64(seed: 19)
    #expect(try listed(entries) == [])
    for step in 0..<3_000 {
      let choice = Int.random(in: 0..<10, using: &numbers)
      if choice < 4 || model.isEmpty {
        // Mostly the newest job, sometimes one created earlier (another node's, or recovered late).
        let created = choice == 0 ? Int64.random(in: 0...Int64(step), using: &numbers) : Int64(step)
        let job = Listed(id: "job-\(step)", created: created, state: .pending)
        model[job.id] = job
        entries.put(
          id: job.id, created: Timestamp(milliseconds: created), state: .pending, json: json(job), row: [])
      } else if choice < 8 {
        var job = model.values.randomElement(using: &numbers)!
        job.state = [JobState.started, .success, .failed].randomElement(using: &numbers)!
        model[job.id] = job
        entries.put(
          id: job.id, created: Timestamp(milliseconds: job.created), state: job.state, json: json(job),
          row: [])
      } else {
        let job = model.values.randomElement(using: &numbers)!
        model[job.id] = nil
        entries.remove(id: job.id, created: Timestamp(milliseconds: job.created))
        entries.remove(id: job.id, created: Timestamp(milliseconds: job.created))  // twice: nothing more
      }
      if step % 97 == 0 || step == 2_999 {
        let expected = model.values.sorted { ($0.created, $0.id) > ($1.created, $1.id) }
        let actual = try listed(entries)
        #expect(actual.map(\.id) == expected.map(\.id), "after step \(step)")
        #expect(actual.map(\.state) == expected.map(\.state), "after step \(step)")
        #expect(entries.count == expected.count)
        for state in [JobState.pending, .started, .success, .failed] {
          #expect(entries.counts[state, default: 0] == expected.filter { $0.state == state }.count)
        }
      }
    }
    // Removing every job leaves an empty index.
    for job in model.values { entries.remove(id: job.id, created: Timestamp(milliseconds: job.created)) }
    #expect(try listed(entries) == [])
    #expect(entries.count == 0)
  }

  @Test func onlyTheNewestJobsKeepTheirPageRows() {
    var entries = IndexEntries(blockSize: 3)
    var made: [String] = []
    for number in 0..<20 {
      entries.put(
        id: "j\(number)", created: Timestamp(milliseconds: Int64(number)), state: .pending, json: [0x30],
        row: Array("row \(number)".utf8))
    }
    let rows = entries.newestRows(5) { id in
      made.append(id)
      return nil
    }
    #expect(rows.map { String(decoding: $0, as: UTF8.self) } == (15..<20).reversed().map { "row \($0)" })
    #expect(made.isEmpty)
    // The older jobs' rows were dropped: asked for more rows, the page must make them again.
    let more = entries.newestRows(7) { id in
      made.append(id)
      return Array("new \(id)".utf8)
    }
    #expect(made == ["j14", "j13"])
    #expect(more.suffix(2).map { String(decoding: $0, as: UTF8.self) } == ["new j14", "new j13"])
  }
}
