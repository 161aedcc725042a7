import Foundation
import Testing

// The operation label of `appliance_s3_requests_total`: each request shape, routed by the real S3
// route table (so a template that changes fails here), named as AWS names the operation.
@testable import API
@testable import Engine

@Suite struct S3OperationTests {
    @Test func everyRequestShapeIsNamedAsAWSNamesIt() throws {
        let fixture = try ListingEngine()
        defer {
            fixture.engine.shutdown()
            try? FileManager.default.removeItem(at: fixture.directory)
        }
        let router = try S3ListHandlersTests.router(fixture)
        let cases: [(String, String, String, [String: String], String)] = [
            ("GET", "/", "", [:], "ListBuckets"),
            ("HEAD", "/bkt", "", [:], "HeadBucket"),
            ("GET", "/bkt", "location", [:], "GetBucketLocation"),
            ("GET", "/bkt", "versioning", [:], "GetBucketVersioning"),
            ("GET", "/bkt/", "acl", [:], "GetBucketAcl"),
            ("GET", "/bkt", "uploads", [:], "ListMultipartUploads"),
            ("GET", "/bkt", "versions", [:], "ListObjectVersions"),
            ("GET", "/bkt", "list-type=2&prefix=a", [:], "ListObjectsV2"),
            ("GET", "/bkt", "prefix=a", [:], "ListObjects"),
            ("PUT", "/bkt", "", [:], "CreateBucket"),
            ("DELETE", "/bkt", "", [:], "DeleteBucket"),
            ("POST", "/bkt", "delete", [:], "DeleteObjects"),
            ("GET", "/bkt/a/b.txt", "", [:], "GetObject"),
            ("HEAD", "/bkt/a/b.txt", "", [:], "HeadObject"),
            ("GET", "/bkt/k", "uploadId=u", [:], "ListParts"),
            ("GET", "/bkt/k", "acl", [:], "GetObjectAcl"),
            ("PUT", "/bkt/k", "", [:], "PutObject"),
            ("PUT", "/bkt/k", "", ["x-amz-copy-source": "/bkt/j"], "CopyObject"),
            ("PUT", "/bkt/k", "partNumber=1&uploadId=u", [:], "UploadPart"),
            ("PUT", "/bkt/k", "partNumber=1&uploadId=u", ["x-amz-copy-source": "/bkt/j"], "UploadPartCopy"),
            ("DELETE", "/bkt/k", "", [:], "DeleteObject"),
            ("DELETE", "/bkt/k", "uploadId=u", [:], "AbortMultipartUpload"),
            ("POST", "/bkt/k", "uploads", [:], "CreateMultipartUpload"),
            ("POST", "/bkt/k", "uploadId=u", [:], "CompleteMultipartUpload"),
            ("PATCH", "/bkt/k", "", [:], "Unknown"),
        ]
        for (method, path, query, headers, want) in cases {
            let parsed = query.split(separator: "&").map { part -> (name: String, value: String?) in
                let pieces = part.split(separator: "=", maxSplits: 1).map(String.init)
                return (pieces[0], pieces.count > 1 ? pieces[1] : nil)
            }
            let request = HTTPRequest(method: method, path: path, query: parsed, headers: headers)
            let route = router.resolve(method: method, path: path).template
            #expect(S3Operation.name(request, route: route) == want, "\(method) \(path)?\(query) (route \(route))")
        }
    }
}
