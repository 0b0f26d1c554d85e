import Foundation
import Testing

@testable import JobdropModel
@testable import JobdropState
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct JobPageTests {
  func job(_ name: String, created: Int64, state: JobState, error: String? = nil) -> Job {
    var record = JobRecord(
      id: JobID.make(), requestFile: name, jobType: "order_export", request: nil,
      createdAt: Timestamp(milliseconds: created))
    record.error = error
    if state == .success {
      record.rows = 1_234_567
      record.bytes = 12_345_678
      record.fileName = "order export.csv"
    }
    return Job(record: record, state: state)
  }

  @Test func thePageListsTheNewestJobsFirstWithTheirStatusRowsSizeErrorAndLink() throws {
    let directory = TemporaryDirectory()
    let outbox = try Outbox(path: directory.path, links: OutboxLinks(baseURL: "https://x.example"), ttl: 60)
    let done = job("done.json", created: 2_000, state: .success)
    let broken = job("broken.json", created: 1_000, state: .failed, error: "filter: 'x' is not a field")
    try outbox.publish(broken)
    try outbox.publish(done)
    try outbox.publishIndex()
    let page = try #require(directory.read("index.html"))
    #expect(page.contains("2 jobs: 0 pending, 0 started, 1 success, 1 failed."))
    let doneRow = try #require(page.range(of: "done.json"))
    let brokenRow = try #require(page.range(of: "broken.json"))
    #expect(doneRow.lowerBound < brokenRow.lowerBound, "newest first")
    #expect(page.contains("✓ success</span>") && page.contains("✗ failed</span>"))
    #expect(page.contains(#"<td class="number">1,234,567</td>"#))
    #expect(page.contains(#"title="12,345,678 bytes">12.3 MB</td>"#))
    // The page's link is relative, so it works opened as a file and under any host.
    #expect(page.contains(#"<a href="files/\#(done.id)/order%20export.csv" download>order export.csv</a>"#))
    #expect(page.contains("filter: &#39;x&#39; is not a field"))
    #expect(page.contains(#"<time datetime="1970-01-01T00:00:02Z">1970-01-01 00:00:02</time>"#))
  }

  @Test func whatAPartnerWroteIsEscaped() throws {
    let row = String(
      decoding: JobPage.row(
        for: job(#"<script>alert("x")</script>&.json"#, created: 0, state: .failed, error: "<b>'no'</b>")),
      as: UTF8.self)
    #expect(!row.contains("<script>") && !row.contains("<b>"))
    #expect(row.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;.json"))
    #expect(row.contains("&lt;b&gt;&#39;no&#39;&lt;/b&gt;"))
  }

  @Test func thePageHoldsTheNewest500AndSaysWhereTheRestIs() throws {
    let directory = TemporaryDirectory()
    let outbox = try Outbox(path: directory.path, links: OutboxLinks(baseURL: nil), ttl: 60, partner: "acme")
    for index in 0..<520 { try outbox.publish(job("r\(index).json", created: Int64(index), state: .pending)) }
    let page = String(decoding: outbox.indexDocuments().page, as: UTF8.self)
    #expect(page.components(separatedBy: "<tr data-status=").count - 1 == 500)
    #expect(page.contains(">r519.json<") && page.contains(">r20.json<") && !page.contains(">r19.json<"))
    #expect(page.contains("Showing the newest 500 of 520 jobs"))
    #expect(page.contains("<h1>Jobs of acme</h1>"))
  }

  @Test func anEmptySiteSaysHowToStart() throws {
    let directory = TemporaryDirectory()
    let outbox = try Outbox(path: directory.path, links: OutboxLinks(baseURL: nil), ttl: 60)
    let page = String(decoding: outbox.indexDocuments().page, as: UTF8.self)
    #expect(page.contains("No jobs yet: drop a request into the inbox."))
    #expect(page.contains("0 jobs: 0 pending, 0 started, 0 success, 0 failed."))
  }

  @Test func sizesAndNumbersReadAsPeopleWriteThem() {
    #expect(JobPage.size(999) == "999 B")
    #expect(JobPage.size(1_000) == "1.0 KB")
    #expect(JobPage.size(999_949) == "999.9 KB")
    #expect(JobPage.size(999_950) == "1.0 MB")
    #expect(JobPage.size(2_500_000_000) == "2.5 GB")
    #expect(JobPage.grouped(0) == "0")
    #expect(JobPage.grouped(1_000) == "1,000")
    #expect(JobPage.grouped(-12_345) == "-12,345")
  }
}
