import Foundation
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

/// The job document is written by hand (``JSONText``); Foundation's `JSONEncoder`, with the options the
/// outbox used, is the reference it is held to, byte for byte.
@Suite(.timeLimit(.minutes(10))) struct JobDocumentTests {
  static let requests: [String] = [
    // The corpus's accepted requests, both dialects.
    #"{"data": {"type": "job", "job_type": "order_export", "reference": "r", "columns": ["id", "tax"], "format": "csv.gz"}}"#,
    #"{"jobType": "product", "exportFilters": {"skuStyleCodeEanDropdown": "styleCode", "skuStyleCodeEanDropdownValue": "STY-0001,STY-0002"}}"#,
    #"{"data": {"type": "job", "job_type": "order_export", "filter": "gt(created_at,2018-09-01):lt(created_at,2018-10-01):eq(payment,refunded)"}}"#,
    #"{"jobType": "order_return", "channelId": "0", "fileType": "CSV", "userId": "70", "exportFilters": {"orderCreatedDateRange": "{\"start\":\"2019-12-01\",\"end\":\"2019-12-19\"}", "paymentMethod": "COD", "status": "CREATED", "sku": ""}}"#,
    // Every escape, characters outside ASCII, CSV options and an idempotency key.
    #"{"data": {"type": "job", "job_type": "order_export", "reference": "Müller \"q\" \\ / \b\f\n\r\t\u0001\u001f\u007f é Ω ～ 😀", "delimiter": ";", "bom": true, "idempotency_key": "k-ü/1"}}"#,
    #"{"data": {"type": "job", "job_type": "order_export", "format": "csv", "delimiter": "\t", "bom": false}}"#,
    #"{"jobType": "order_return", "exportFilters": {"warehouseName": "é", "brand": "😀", "styleCode": "～", "ean": "\n", "orderItemID": "1", "paymentMethod": "COD"}}"#,
  ]

  static func jobs() throws -> [Job] {
    var jobs: [Job] = []
    for (number, text) in requests.enumerated() {
      let request = try RequestParser(catalog: .builtIn).parse(Array(text.utf8))
      for state in JobState.allCases {
        var record = JobRecord(
          id: JobID.make(), requestFile: "r\(number)/ü \"x\".json", jobType: request.jobType,
          request: request,
          createdAt: Timestamp(milliseconds: 1_764_000_000_123 + Int64(number)),
          error: state == .failed ? "no such column: \"x\"\nline 2\t\u{1}" : nil,
          partner: number % 2 == 0 ? "acme" : nil)
        record.updatedAt = record.createdAt.adding(seconds: 61)
        if state == .success {
          record.rows = 59_997
          record.bytes = 14_179_288
          record.sha256 = String(repeating: "ab", count: 32)
          record.fileName = "order_export-20261203T120435Z.csv"
        }
        if number % 2 == 1 {
          // A schedule's run, with its window.
          record.scheduleID = JobID.derived("schedule", "acme", "feed.json")
          record.window = RunWindow(
            field: "updated_at", from: Timestamp(seconds: 1_764_000_000),
            to: Timestamp(seconds: 1_764_000_060))
        }
        switch number % 3 {
        case 0: record.webhook = WebhookStatus(deliveredAt: record.updatedAt, attempts: 1)
        case 1: record.webhook = WebhookStatus(attempts: 7, lastError: "HTTP 503 \"busy\"", gaveUp: true)
        default: break
        }
        jobs.append(Job(record: record, state: state))
      }
    }
    // A job without its request (one recovered from a status file of an older version).
    jobs.append(
      Job(
        record: JobRecord(
          id: JobID.make(), requestFile: "old.json", jobType: "order_export", request: nil,
          createdAt: Timestamp(milliseconds: 0)),
        state: .pending))
    return jobs
  }

  @Test func theHandWrittenDocumentIsWhatJSONEncoderWrites() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let jobs = try JobDocumentTests.jobs()
    #expect(jobs.count == 29)
    for links in [OutboxLinks(baseURL: nil), OutboxLinks(baseURL: "https://exports.example.com/acme")] {
      for job in jobs {
        let document = JobDocument(job: job, links: links, ttl: 604_800)
        let reference = String(decoding: try encoder.encode(document), as: UTF8.self)
        #expect(String(decoding: document.json, as: UTF8.self) == reference)
      }
    }
  }
}
