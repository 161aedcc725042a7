// The conditions of a read or a copy (If-Match, If-None-Match, If-Unmodified-Since,
// If-Modified-Since), evaluated once, here, in RFC 9110 §13.2.2's order: If-Match, or else
// If-Unmodified-Since, decides failure; then If-None-Match, or else If-Modified-Since, decides
// "not modified". A front end parses its headers into this; the ETags are bare (no quotes).
package import Foundation

package struct ReadConditions: Sendable, Equatable {
    package enum Tags: Sendable, Equatable {
        /// `*`: any version.
        case any
        case list([String])

        func matches(_ etag: String) -> Bool {
            switch self {
            case .any: true
            case .list(let tags): tags.contains(etag)
            }
        }
    }

    package enum Outcome: Sendable, Equatable {
        case proceed
        /// A GET or HEAD answers 304; a copy does not proceed.
        case notModified
        /// 412.
        case failed
    }

    package var ifMatch: Tags?
    package var ifNoneMatch: Tags?
    package var ifUnmodifiedSince: Date?
    package var ifModifiedSince: Date?

    package init(ifMatch: Tags? = nil, ifNoneMatch: Tags? = nil, ifUnmodifiedSince: Date? = nil, ifModifiedSince: Date? = nil) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifUnmodifiedSince = ifUnmodifiedSince
        self.ifModifiedSince = ifModifiedSince
    }

    package static let none = ReadConditions()

    /// The outcome for the version `info` (dates compared to the whole second, as HTTP dates are).
    package func evaluate(_ info: ObjectInfo) -> Outcome {
        let modified = info.modifiedAt.timeIntervalSince1970.rounded(.down)
        if let ifMatch {
            if !ifMatch.matches(info.etag) { return .failed }
        } else if let since = ifUnmodifiedSince, modified > since.timeIntervalSince1970 {
            return .failed
        }
        if let ifNoneMatch {
            if ifNoneMatch.matches(info.etag) { return .notModified }
        } else if let since = ifModifiedSince, modified <= since.timeIntervalSince1970 {
            return .notModified
        }
        return .proceed
    }
}
