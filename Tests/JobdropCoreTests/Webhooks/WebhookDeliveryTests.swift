import Foundation
import Testing

@testable import JobdropState
@testable import JobdropSystem

/// A delivery's file is written by hand (``JSONText``); Foundation's `JSONEncoder`, with the options the
/// queue used, is the reference it is held to, byte for byte, and `JSONDecoder` reads it back.
@Suite(.timeLimit(.minutes(10))) struct WebhookDeliveryTests {
  @Test func theHandWrittenDeliveryIsWhatJSONEncoderWritesAndReadsBack() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let jobs = try JobDocumentTests.jobs().filter(\.state.isFinal)
    #expect(jobs.count == 14)
    for (index, job) in jobs.enumerated() {
      let document = Outbox.json(for: job, links: OutboxLinks(baseURL: "https://x.example/a b"), ttl: 60)
      var delivery = WebhookDelivery(
        job: job, document: document, now: Timestamp(milliseconds: 1_764_000_000_001))
      if index % 2 == 1 {
        delivery.attempts = index
        delivery.lastError = "HTTP 500: \"boom\"\n\u{1}é"
        delivery.nextAttemptAt = delivery.createdAt.adding(seconds: 30)
      }
      let reference = String(decoding: try encoder.encode(delivery), as: UTF8.self)
      #expect(String(decoding: delivery.json, as: UTF8.self) == reference)
      #expect(try JSONDecoder().decode(WebhookDelivery.self, from: Data(delivery.json)) == delivery)
    }
  }
}
