import Foundation
import JobdropModel
import JobdropState
import JobdropSystem
import Testing

/// The shared job table on a real PostgreSQL server, two nodes' handles side by side: claims and the
/// partners' limits, the fair next claim, leases and fencing tokens, cancels a reaper honours, and the
/// change feed every node follows.
@Suite(.serialized, .timeLimit(.minutes(10))) struct PostgresSpoolTests {
  /// A server and two nodes' handles on its table.
  struct Setup {
    let sandbox: Sandbox
    let server: PostgresServer
    let first: PostgresSpool
    let second: PostgresSpool

    init(leaseSeconds: Int = 30) throws {
      sandbox = try Sandbox(orders: 10)
      server = try PostgresServer(directory: sandbox.root)
      first = try PostgresSpool(url: server.url, node: "first", leaseSeconds: leaseSeconds)
      second = try PostgresSpool(url: server.url, node: "second", leaseSeconds: leaseSeconds)
    }

    /// A pending job's claim, created `offset` milliseconds after now.
    static func claim(_ partner: String? = nil, offset: Int64 = 0) -> PostgresSpool.Claim {
      var record = JobRecord(
        id: JobID.make(), requestFile: "\(partner ?? "a").json", jobType: "order_export", request: nil,
        createdAt: Timestamp(milliseconds: Timestamp.now().milliseconds + offset))
      record.partner = partner
      return .init(record: record, state: .pending, bytes: Array("{}".utf8))
    }
  }

  @Test func aCancelOfAJobWhoseNodeDiedEndsItFailedCancelledNotRunAgain() throws {
    let setup = try Setup()
    try setup.first.claim([Setup.claim()])
    let started = try #require(try setup.first.claimNext(now: .now()) { $0 })
    try setup.second.requestCancel(id: started.id)
    // The first node dies with the job; its lease lapses and the second node reaps it.
    try setup.server.psql("UPDATE jobdrop_jobs SET lease_until = now() - interval '1 second'")
    let reaped = try setup.second.reapLapsedLeases(now: .now())
    #expect(reaped.map(\.state) == [.failed])
    #expect(reaped.first?.record.error == JobTransitions.cancelled)
    #expect(try setup.second.claimNext(now: .now()) { $0 } == nil, "a cancelled job never runs again")
    #expect(try setup.first.job(id: started.id)?.state == .failed)
    setup.server.stop()
  }

  @Test func theChangeFeedListsEachChangeOnceInOrderAndItsCancels() throws {
    let setup = try Setup()
    var position = PostgresSpool.FeedPosition.start
    let claimed = try setup.first.claim([Setup.claim(offset: 0), Setup.claim(offset: 1)])
    let (jobs, cancelled, next) = try setup.second.changes(after: position)
    #expect(Set(jobs.map(\.id)) == Set(claimed.map(\.id)) && jobs.allSatisfy { $0.state == .pending })
    #expect(cancelled.isEmpty)
    position = next
    #expect(try setup.second.changes(after: position).jobs.isEmpty, "nothing new, nothing read again")
    let started = try #require(try setup.first.claimNext(now: .now()) { $0 })
    #expect(try setup.first.changes(after: position).jobs.isEmpty, "a node's own writes are passed over")
    try setup.second.requestCancel(id: started.id)
    let later = try setup.first.changes(after: position)
    #expect(later.jobs.map(\.id) == [started.id] && later.jobs.first?.state == .started)
    #expect(later.cancelled == [started.id], "the node running it learns of the cancel from the feed")
    #expect(try setup.second.changes(after: position).jobs.map(\.id) == [], "the cancel is the second's own")
    // A read cut at its limit goes on where it stopped; `all` reads a node's own writes too.
    let firstOne = try setup.second.changes(after: .start, limit: 1, all: true)
    let rest = try setup.second.changes(after: firstOne.next, limit: 10, all: true)
    #expect(firstOne.jobs.count == 1 && rest.jobs.count == 1 && firstOne.jobs[0].id != rest.jobs[0].id)
    setup.server.stop()
  }

  @Test func theClaimItselfCountsAPartnersJobsInProgressOnEveryNode() throws {
    let sandbox = try Sandbox(orders: 10)
    let server = try PostgresServer(directory: sandbox.root)
    let first = try PostgresSpool(url: server.url, node: "first", leaseSeconds: 3)
    let second = try PostgresSpool(url: server.url, node: "second", leaseSeconds: 3)
    let limit = PostgresSpool.PartnerLimit(maximum: 2, error: "too many jobs in progress (limit 2)")
    func claim(_ partner: String) -> PostgresSpool.Claim {
      var record = JobRecord(
        id: JobID.make(), requestFile: "a.json", jobType: "order_export", request: nil, createdAt: .now())
      record.partner = partner
      return .init(record: record, state: .pending, bytes: Array("{}".utf8), limit: limit)
    }
    // The first node's group takes acme's two places; the second node's claim, which its own count let
    // through, is refused by the table; another partner is not affected.
    #expect(try first.claim([claim("acme"), claim("acme")]).map(\.state) == [.pending, .pending])
    let refused = try second.claim([claim("acme"), claim("globex")])
    #expect(refused.map(\.state) == [.failed, .pending])
    #expect(refused.first?.record.error == "too many jobs in progress (limit 2)")
    #expect(try second.job(id: refused[0].id)?.state == .failed)
    // A finished job frees its place.
    let started = try #require(try first.claimNext(now: .now()) { $0 })
    try first.move(started, to: .success, record: started.record)
    #expect(try second.claim([claim("acme")]).map(\.state) == [.pending])
    server.stop()
  }

  /// Both ways of starting: `durable` (the started record written) and inside a group (one pipelined
  /// statement; the record is written at the job's first progress or its outcome).
  @Test(arguments: [true, false])
  func theNextClaimOnAnyNodeGoesToThePartnerWithFewestJobsRunningAnywhere(durable: Bool) throws {
    let sandbox = try Sandbox(orders: 10)
    let server = try PostgresServer(directory: sandbox.root)
    let first = try PostgresSpool(url: server.url, node: "first", leaseSeconds: 30)
    let second = try PostgresSpool(url: server.url, node: "second", leaseSeconds: 30)
    var created = Timestamp.now().milliseconds
    func claim(_ partner: String) -> PostgresSpool.Claim {
      created += 1
      var record = JobRecord(
        id: JobID.make(), requestFile: "\(partner).json", jobType: "order_export", request: nil,
        createdAt: Timestamp(milliseconds: created))
      record.partner = partner
      return .init(record: record, state: .pending, bytes: Array("{}".utf8))
    }
    func started(_ record: JobRecord) -> JobRecord {
      var record = record
      record.attempts += 1
      return record
    }
    // acme's backlog is older than globex's one request.
    try first.claim([claim("acme"), claim("acme"), claim("acme"), claim("globex")])
    let a = try #require(try first.claimNext(now: .now(), durable: durable, change: started))
    #expect(a.record.partner == "acme", "the oldest first while no partner runs a job")
    // acme now runs a job on the first node: the second node's next claim is globex's, though newer.
    let b = try #require(try second.claimNext(now: .now(), durable: durable, change: started))
    #expect(b.record.partner == "globex")
    let c = try #require(try second.claimNext(now: .now(), durable: durable, change: started))
    #expect(c.record.partner == "acme")
    // The claim is the table's: no other node takes a started job, and the lease is held.
    #expect(try first.claimNext(now: .now(), durable: durable, change: started)?.record.partner == "acme")
    #expect(
      try second.claimNext(now: .now(), durable: durable, change: started) == nil, "four jobs, four claims")
    let held = try SeveralNodesTests.rows(
      server, "SELECT node, fence FROM jobdrop_jobs WHERE state = 'started' ORDER BY node, created_at")
    #expect(held == [["first", "1"], ["first", "1"], ["second", "1"], ["second", "1"]])
    // One attempt more in the record the node holds; the table has it once durable.
    #expect(c.record.attempts == 1)
    let stored = try #require(try second.job(id: c.id))
    #expect(stored.state == .started && stored.record.attempts == (durable ? 1 : 0))
    let finished = try second.move(c, to: .success, record: c.record)
    #expect(try second.job(id: c.id) == finished)
    server.stop()
  }

  @Test func aNodeWhoseLeaseLapsedCannotRecordAResult() throws {
    let sandbox = try Sandbox(orders: 10)
    let server = try PostgresServer(directory: sandbox.root)
    let first = try PostgresSpool(url: server.url, node: "first", leaseSeconds: 3)
    let second = try PostgresSpool(url: server.url, node: "second", leaseSeconds: 3)
    let record = JobRecord(
      id: JobID.make(), requestFile: "a.json", jobType: "order_export", request: nil, createdAt: .now())
    try first.claim([.init(record: record, state: .pending, bytes: Array("{}".utf8))])
    let started = try #require(try first.claimNext(now: .now()) { $0 })
    #expect(try second.claimNext(now: .now()) { $0 } == nil, "a started job was claimed twice")
    // The first node goes quiet: its lease lapses, the second reaps the job and runs it.
    try server.psql("UPDATE jobdrop_jobs SET lease_until = now() - interval '1 second'")
    #expect(try second.reapLapsedLeases(now: .now()).map(\.id) == [record.id])
    let again = try #require(try second.claimNext(now: .now()) { $0 })
    #expect(throws: LeaseLost.self) { try first.move(started, to: .success, record: started.record) }
    #expect(throws: LeaseLost.self) { try first.update(started) }
    let finished = try second.move(again, to: .success, record: again.record)
    #expect(try first.job(id: record.id)?.state == .success)
    // A finished job never moves again, whoever asks.
    #expect(throws: IllegalTransition.self) { try second.move(finished, to: .started, record: again.record) }
    #expect(throws: LeaseLost.self) { try second.move(again, to: .failed, record: again.record) }
    server.stop()
  }
}
