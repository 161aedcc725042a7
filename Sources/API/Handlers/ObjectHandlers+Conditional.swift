// Conditional requests: the native API's If-Match / If-None-Match headers as the Engine's
// ReadConditions and WriteConditions (evaluated there). An entity tag matches only in its quoted form, as sent in ETag.
import Engine
import Foundation

extension ObjectHandlers {
    static func quotedETag(_ info: ObjectInfo) -> String { "\"\(info.etag)\"" }

    /// The entity tags listed in an If-Match / If-None-Match header (weak ones as strong); nil for `*`.
    static func entityTags(_ header: String) -> [String]? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return nil }
        return trimmed.split(separator: ",").map { tag in
            var tag = tag.trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag
        }
    }

    /// A header's tags as bare ETags: `*` is any; a quoted tag is its content; with
    /// `unquotedToo`, a bare token is taken as it is (S3 clients send both), else it can match nothing.
    static func tags(_ header: String, unquotedToo: Bool = false) -> ReadConditions.Tags {
        guard let tags = entityTags(header) else { return .any }
        return .list(
            tags.compactMap { tag in
                if tag.count >= 2, tag.hasPrefix("\""), tag.hasSuffix("\"") { return String(tag.dropFirst().dropLast()) }
                return unquotedToo ? tag : nil
            })
    }

    /// The native API's conditions: If-Match and If-None-Match.
    static func conditions(_ request: HTTPRequest) -> ReadConditions {
        ReadConditions(ifMatch: request.header("if-match").map { tags($0) }, ifNoneMatch: request.header("if-none-match").map { tags($0) })
    }

    /// A write's If-Match and If-None-Match (`If-None-Match: *`: create only); with
    /// `unquotedToo`, bare ETags count too (S3 clients send both).
    static func writeConditions(_ request: HTTPRequest, unquotedToo: Bool = false) -> WriteConditions {
        WriteConditions(
            ifMatch: request.header("if-match").map { tags($0, unquotedToo: unquotedToo) },
            ifNoneMatch: request.header("if-none-match").map { tags($0, unquotedToo: unquotedToo) })
    }
}
