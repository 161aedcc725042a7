// Conditional requests: If-None-Match (→ 304 for GET/HEAD) and If-Match (→ 412).
import Engine

extension ObjectHandlers {
    static func quotedETag(_ info: ObjectInfo) -> String { "\"\(info.etag)\"" }

    /// The entity tags listed in an If-Match / If-None-Match header; nil for `*`.
    static func entityTags(_ header: String) -> [String]? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return nil }
        return trimmed.split(separator: ",").map { tag in
            var tag = tag.trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag
        }
    }

    enum Precondition: Equatable {
        case proceed
        case notModified
        case failed
    }

    /// Evaluates preconditions for reading the current version (`info`).
    static func evaluate(_ request: HTTPRequest, current info: ObjectInfo) -> Precondition {
        let etag = quotedETag(info)
        if let ifMatch = request.header("if-match") {
            if let tags = entityTags(ifMatch), !tags.contains(etag) { return .failed }
        }
        if let ifNoneMatch = request.header("if-none-match") {
            let tags = entityTags(ifNoneMatch)
            if tags == nil || tags!.contains(etag) { return .notModified }
        }
        return .proceed
    }
}

import Foundation
