// Virtual-host-style addressing: which Host headers name a bucket under the domain, and the path
// the request is routed by; every other host (the domain itself, an address, another name, a name
// no bucket could have) leaves the path as sent.
import Testing

@testable import API

@Suite struct S3VirtualHostTests {
    @Test(arguments: [
        ("photos.s3.example.com", "/a/b.jpg", "/photos/a/b.jpg"),
        ("photos.s3.example.com:9000", "/a", "/photos/a"),
        ("PHOTOS.S3.Example.COM", "/", "/photos/"),
        ("photos.s3.example.com.", "/k", "/photos/k"),
        ("my.dotted.bucket.s3.example.com", "/k", "/my.dotted.bucket/k"),
    ])
    func aBucketsHostIsRoutedAsPathStyle(host: String, path: String, routed: String) {
        #expect(S3VirtualHost.path(path, host: host, domain: "s3.example.com") == routed)
    }

    @Test(arguments: [
        "s3.example.com", "s3.example.com:9000", ".s3.example.com", "127.0.0.1:9000", "[::1]:9000", "example.com", "photos.other.com",
        "x/y.s3.example.com", "a%2Fb.s3.example.com", "a b.s3.example.com", "bücket.s3.example.com", "",
    ])
    func anyOtherHostKeepsThePathAsSent(host: String) {
        #expect(S3VirtualHost.path("/bucket/key", host: host, domain: "s3.example.com") == nil, "\(host)")
    }

    @Test func noHostHeaderKeepsThePath() {
        #expect(S3VirtualHost.path("/bucket/key", host: nil, domain: "s3.example.com") == nil)
    }
}
