import Foundation
import Testing

@testable import JobdropDaemon
@testable import JobdropSystem

@Suite(.timeLimit(.minutes(10))) struct S3TargetTests {
  static let keys = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI"]

  @Test func aBucketAndPrefixAddressAWSVirtualHostedAndAnEndpointPathStyle() throws {
    let aws = try S3Target(parsing: "s3://exports/site/v1/", endpoint: nil, environment: S3TargetTests.keys)
    #expect(aws.description == "s3://exports/site/v1")
    #expect(aws.region == "us-east-1")
    #expect(aws.key(for: "jobs/a.json") == "site/v1/jobs/a.json")
    #expect(aws.path(for: "site/v1/jobs/a.json") == "jobs/a.json")
    #expect(aws.path(for: "site/v10/x") == nil)
    #expect(
      aws.url(key: "site/v1/index.json") == "https://exports.s3.us-east-1.amazonaws.com/site/v1/index.json")
    #expect(
      aws.url(key: nil, query: "list-type=2") == "https://exports.s3.us-east-1.amazonaws.com/?list-type=2")
    var environment = S3TargetTests.keys
    environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9000/"
    environment["AWS_REGION"] = "eu-west-1"
    let local = try S3Target(parsing: "s3://exports", endpoint: nil, environment: environment)
    #expect(local.url(key: "requests/a b%.json") == "http://127.0.0.1:9000/exports/requests/a%20b%25.json")
    #expect(local.url(key: nil, query: "list-type=2") == "http://127.0.0.1:9000/exports?list-type=2")
    #expect(local.signing.scope == "aws:amz:eu-west-1:s3")
    let flag = try S3Target(
      parsing: "s3://exports", endpoint: "https://minio.example", environment: environment)
    #expect(flag.endpoint == "https://minio.example", "the flag wins over AWS_ENDPOINT_URL")
  }

  @Test func badURLsAndEndpointsAreRefusedWithWhatWasExpected() {
    for (url, words) in [
      ("exports", "expected s3://BUCKET[/PREFIX]"), ("s3://Ex", "is not a bucket name"),
      ("s3://ex_ports", "is not a bucket name"), ("s3://exports/a//b", "empty folder name"),
    ] {
      #expect {
        try S3Target(parsing: url, endpoint: nil, environment: S3TargetTests.keys)
      } throws: { ($0 as? ConfigurationError)?.message.contains(words) == true }
    }
    #expect {
      try S3Target(parsing: "s3://exports", endpoint: "ftp://x", environment: S3TargetTests.keys)
    } throws: { ($0 as? ConfigurationError)?.message.contains("expected an http:// or https:// URL") == true }
  }

  @Test func credentialsComeFromTheVariablesOrTheProfileInTheSharedFilesAndAreNeverPrinted() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("aws-\(UUID().uuidString)")
      .path
    try FileManager.default.createDirectory(atPath: folder + "/.aws", withIntermediateDirectories: true)
    try """
    [default]
    aws_access_key_id = DEFAULTKEY
    aws_secret_access_key = defaultsecret
    # a comment
    [publisher]
    aws_access_key_id=PUBKEY
    aws_secret_access_key = pub/secret+x
    aws_session_token = token123
    """.write(toFile: folder + "/.aws/credentials", atomically: true, encoding: .utf8)
    try """
    [profile publisher]
    region = ap-southeast-2
    endpoint_url = http://127.0.0.1:4566
    """.write(toFile: folder + "/.aws/config", atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let target = try S3Target(
      parsing: "s3://exports", endpoint: nil, environment: ["HOME": folder, "AWS_PROFILE": "publisher"])
    #expect(target.signing.user == "PUBKEY:pub/secret+x")
    #expect(target.credentialHeaders == ["x-amz-security-token: token123"])
    #expect(target.region == "ap-southeast-2")
    #expect(target.endpoint == "http://127.0.0.1:4566")
    #expect(!"\(target)".contains("secret"))
    let defaults = try S3Target(parsing: "s3://exports", endpoint: nil, environment: ["HOME": folder])
    #expect(defaults.signing.user == "DEFAULTKEY:defaultsecret")
    let none = try S3Target(
      parsing: "s3://exports", endpoint: nil, environment: ["HOME": folder + "/nowhere"])
    #expect {
      try none.checkCredentials()
    } throws: { ($0 as? ConfigurationError)?.message.contains("no AWS credentials") == true }
  }

  @Test func aListingPageIsReadWithItsEntitiesAndNextToken() throws {
    let xml = """
      <?xml version="1.0" encoding="UTF-8"?>
      <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
      <IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
      <Contents><Key>site/requests/a&amp;b.json</Key><LastModified>2026-12-02T10:00:00.000Z</LastModified>
      <ETag>&quot;b1946ac92492d2347c6235b4d2611184&quot;</ETag><Size>6</Size></Contents>
      <Contents><Key>site/index.json</Key><ETag>"9b2cf535f27731c974343645a3985328"</ETag><Size>12</Size></Contents>
      </ListBucketResult>
      """
    let page = try #require(S3Listing(xml: Array(xml.utf8)))
    #expect(
      page.objects == [
        .init(key: "site/requests/a&b.json", size: 6, etag: "b1946ac92492d2347c6235b4d2611184"),
        .init(key: "site/index.json", size: 12, etag: "9b2cf535f27731c974343645a3985328"),
      ])
    #expect(page.nextToken == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
    #expect(S3Listing(xml: Array("<Error><Code>AccessDenied</Code></Error>".utf8)) == nil)
    #expect(S3Listing.decode("a&#38;b&#x3C;&lt;&bogus;") == "a&b<<&bogus;")
  }

  @Test func headersFollowTheNginxConfigurationAndUploadsGoFilesFirstIndexLast() {
    for (extensionName, type) in SiteHeaders.contentTypes {
      let mime = String(type.prefix { $0 != ";" })
      #expect(
        NginxSite.common.split(separator: "\n").contains {
          $0.split(separator: " ").first.map(String.init) == mime && $0.hasSuffix(" \(extensionName);")
        }, "\(mime) \(extensionName) is in nginx's types")
      if type.hasSuffix("charset=utf-8") && mime != "text/html" {
        #expect(NginxSite.common.contains("charset_types") && NginxSite.common.contains(mime))
      }
    }
    #expect(SiteHeaders.contentType(for: "files/x/order_export.csv.gz") == "application/gzip")
    #expect(SiteHeaders.contentType(for: "acme/files/x/a.xlsx").hasPrefix("application/vnd.openxmlformats"))
    #expect(SiteHeaders.contentType(for: "files/x/README") == "application/octet-stream")
    #expect(SiteHeaders.cacheControl(for: "files/x/a.csv") == "public, max-age=604800, immutable")
    #expect(SiteHeaders.cacheControl(for: "acme/files/x/a.csv") == "public, max-age=604800, immutable")
    #expect(SiteHeaders.cacheControl(for: "acme/errors/404.json") == "no-store")
    #expect(SiteHeaders.cacheControl(for: "acme/index.json") == "no-cache")
    #expect(SiteHeaders.cacheControl(for: "requests/files") == "no-cache")
    #expect(BucketMirror.rank(of: "files/x/a.csv") == 0)
    #expect(BucketMirror.rank(of: "acme/files/x/a.csv") == 0)
    #expect(BucketMirror.rank(of: "jobs/x.json") == 1)
    #expect(BucketMirror.rank(of: "requests/index.json") == 1)
    #expect(BucketMirror.rank(of: "acme/requests/files") == 1)
    #expect(BucketMirror.rank(of: "acme/index.json") == 2)
    #expect(BucketMirror.rank(of: "index.html") == 3)
  }
}
