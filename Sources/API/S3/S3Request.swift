// What S3 handlers share: query and header reading, permission checks, stored headers and user
// metadata, timestamps as S3 shows them.
import Catalog
import Engine
import Foundation
import Glibc

extension S3Handlers {
    /// A query parameter's decoded value ("" for `?name` alone); nil when absent.
    package static func query(_ request: HTTPRequest, _ name: String) throws(S3Error) -> String? {
        guard let entry = request.query.last(where: { $0.name == name }) else { return nil }
        guard let value = PercentDecoding.decode(entry.value ?? "") else {
            throw .invalidArgument("query parameter \(name) is not valid percent-encoded UTF-8")
        }
        return value
    }

    /// A count parameter (max-keys, max-parts, part-number-marker…): an integer in S3's range
    /// (0 to 2^31-1, as S3 takes them), at most `cap` once parsed; nil when absent.
    package static func count(_ request: HTTPRequest, _ name: String, cap: Int) throws(S3Error) -> Int? {
        guard let raw = try query(request, name) else { return nil }
        guard let value = WireNumber.bounded(raw, limit: Int64(Int32.max)) else {
            throw .invalidArgument("Provided \(name) not an integer or within integer range (0 to \(Int32.max))")
        }
        return min(Int(value), cap)
    }

    static func has(_ request: HTTPRequest, _ name: String) -> Bool { request.query.contains { $0.name == name } }

    /// The first subresource of the query that this server does not serve, if any.
    static func unsupportedSubresource(_ request: HTTPRequest, served: Set<String>) -> String? {
        request.query.lazy.map(\.name).first { knownSubresources.contains($0) && !served.contains($0) }
    }

    private static let knownSubresources: Set<String> = [
        "acl", "policy", "cors", "lifecycle", "tagging", "encryption", "object-lock", "website", "logging", "notification",
        "replication", "ownershipControls", "publicAccessBlock", "requestPayment", "accelerate", "analytics", "inventory",
        "metrics", "intelligent-tiering", "legal-hold", "retention", "torrent", "restore", "select", "attributes",
        "versioning", "location", "uploads", "versions", "delete", "uploadId", "policyStatus", "versionId",
    ]

    /// `?versionId=`: a version's id or `null`; nil when not given.
    static func versionID(_ request: HTTPRequest) throws -> VersionID? {
        try query(request, "versionId").map(versionID(parsing:))
    }

    /// A version id as S3 clients send it (a query value, a copy source's, a DeleteObjects entry's).
    static func versionID(parsing raw: String) throws(S3Error) -> VersionID {
        guard let version = VersionID(parsing: raw) else { throw .invalidArgument("Invalid version id specified") }
        return version
    }

    func principal(_ context: RequestContext) throws(S3Error) -> S3Principal {
        guard let principal = context.s3 else { throw .accessDenied("the request is not signed") }
        return principal
    }

    /// The signer may do `needed` in `bucket`. A bucket that does not exist is NoSuchBucket to
    /// any valid key, as S3 answers (bucket names are public there); AccessDenied is for a bucket
    /// that exists and the key may not use.
    @discardableResult
    func require(_ needed: AccessKey.Permission, _ bucket: String, _ context: RequestContext) throws -> S3Principal {
        let principal = try principal(context)
        // On an event loop only memory is asked: a name it does not hold is looked up by a worker.
        guard let exists = try engine.volumeExists(named: bucket, mayWait: context.mayBlock) else { throw NeedsWorker() }
        guard exists else { throw EngineError.volumeNotFound(name: bucket) }
        let current = keys.key(id: principal.key.id) ?? principal.key
        guard let granted = current.permission(on: bucket), granted >= needed else {
            throw S3Error.accessDenied(
                "Access Denied: access key \(current.id) may not \(needed == .read ? "read" : needed == .write ? "write" : "manage") bucket \(bucket)"
            )
        }
        return principal
    }

    /// A PutObject's or Complete's If-Match / If-None-Match (ETags quoted or bare); If-Match on a
    /// key that has no object is NoSuchKey, as S3 answers.
    static func writeConditions(_ request: HTTPRequest) -> WriteConditions {
        var conditions = ObjectHandlers.writeConditions(request, unquotedToo: true)
        conditions.absentIsNotFound = true
        return conditions
    }

    /// Headers stored with an object and returned by GET/HEAD.
    static let storedHeaders = ["cache-control", "content-disposition", "content-encoding", "content-language", "expires"]
    static let maxMetadataBytes = 2048

    /// The stored headers and `x-amz-meta-*` of an upload (names lower-cased), values as sent: a
    /// header sent twice keeps both values in order (joined by ",", as HTTP joins them), user
    /// metadata with an empty value is kept (an empty standard header says nothing and is not).
    static func metadata(from request: HTTPRequest) throws(S3Error) -> [String: String] {
        var metadata: [String: String] = [:]
        for (name, value) in request.headers where name.hasPrefix("x-amz-meta-") || storedHeaders.contains(name) {
            metadata[name] = metadata[name].map { $0 + "," + value } ?? value
        }
        if let encoding = metadata["content-encoding"] {
            // aws-chunked is how the body was sent, not what the object is: only it is taken out.
            let codings = encoding.split(separator: ",", omittingEmptySubsequences: false)
            let chunked = { (coding: Substring) in coding.trimmingCharacters(in: .whitespaces).lowercased() == "aws-chunked" }
            if codings.contains(where: chunked) {
                metadata["content-encoding"] = codings.filter { !chunked($0) }.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ",")
            }
        }
        for name in storedHeaders where metadata[name]?.trimmingCharacters(in: .whitespaces).isEmpty == true { metadata[name] = nil }
        let size = metadata.filter { $0.key.hasPrefix("x-amz-meta-") }.reduce(0) { $0 + $1.key.utf8.count - 11 + $1.value.utf8.count }
        guard size <= maxMetadataBytes else {
            throw S3Error("MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size (\(maxMetadataBytes) bytes).")
        }
        return metadata
    }

    static func contentType(_ request: HTTPRequest) -> String {
        request.header("content-type").flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } ?? ObjectHandlers.defaultContentType
    }

    /// `2009-10-12T17:50:30.000Z`.
    /// `2026-12-07T02:14:08.123Z`: `RFC3339`, or `iso8601ByFormat` for years outside 1000-9999.
    static func iso8601(_ date: Date) -> String {
        RFC3339.format(date, milliseconds: true, years: 1000...9999) ?? iso8601ByFormat(date)
    }

    static func iso8601ByFormat(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int((date.timeIntervalSince1970 - Double(seconds)) * 1000)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }

    static func quoted(_ etag: String) -> String { "\"\(etag)\"" }

    /// The owner element S3 answers carry: the signing key.
    static func owner(_ xml: inout S3XML, _ principal: S3Principal, tag: String = "Owner") {
        xml.open(tag)
        xml.element("ID", principal.key.id)
        xml.element("DisplayName", principal.key.name)
        xml.close(tag)
    }

    /// Validates a bucket name for creation: S3's rules as the volume names take them.
    static func validateBucketName(_ name: String) throws(S3Error) {
        let bytes = Array(name.utf8)
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        guard (3...63).contains(bytes.count), bytes.allSatisfy({ alnum($0) || $0 == 0x2D }), alnum(bytes.first!), alnum(bytes.last!) else {
            throw S3Error(
                "InvalidBucketName", 400,
                "The specified bucket is not valid: 3 to 63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit (dots are not supported)"
            )
        }
    }
}

extension HTTPDate {
    /// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); nil when malformed.
    static func parse(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        // Every field bounded before the calendar sees it (the header comes before authentication).
        guard parts.count == 6, parts[5] == "GMT", let day = WireNumber.bounded(parts[1], limit: 31).map(Int.init), day >= 1,
            let month = months.firstIndex(of: String(parts[2])), let year = WireNumber.bounded(parts[3], limit: 9999).map(Int.init), year >= 1
        else { return nil }
        let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false).compactMap { WireNumber.bounded($0, limit: 60).map(Int.init) }
        guard clock.count == 3, clock[0] < 24, clock[1] < 60 else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (year, month + 1, day)
        (components.hour, components.minute, components.second) = (clock[0], clock[1], clock[2])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)
    }
}
