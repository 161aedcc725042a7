// The conditions of a write (If-Match, If-None-Match on a PUT or a Complete): whether it may
// replace the version there is. Checked when the write opens (so a doomed body is not taken) and
// again where the new version becomes visible, under the lock that orders writes of the key (the
// cache entry's, or the key held across the catalog commit): two create-only writes racing, one wins.
package struct WriteConditions: Sendable, Equatable {
    /// The current version's ETag must be one of these (`*`: some version must exist).
    package var ifMatch: ReadConditions.Tags?
    /// The current version's ETag must not be one of these (`*`: no version may exist).
    package var ifNoneMatch: ReadConditions.Tags?

    /// If-Match on a key with no version is `objectNotFound` (S3's 404 NoSuchKey) rather than a
    /// failed condition (HTTP's 412).
    package var absentIsNotFound: Bool

    package init(ifMatch: ReadConditions.Tags? = nil, ifNoneMatch: ReadConditions.Tags? = nil, absentIsNotFound: Bool = false) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.absentIsNotFound = absentIsNotFound
    }

    package static let none = WriteConditions()

    package var isEmpty: Bool { ifMatch == nil && ifNoneMatch == nil }

    /// Whether the write may replace the version whose ETag is `current` (nil: there is none).
    package func allow(current: String?) -> Bool {
        if let ifMatch {
            guard let current, ifMatch.matches(current) else { return false }
        }
        if let ifNoneMatch, let current, ifNoneMatch.matches(current) { return false }
        return true
    }

    /// Throws `conditionNotMet` naming what failed when the write may not replace `current`.
    func check(current: String?, volume: String, key: String) throws(EngineError) {
        guard !allow(current: current) else { return }
        if current == nil, absentIsNotFound { throw .objectNotFound(volume: volume, key: key) }
        let reason =
            if let current {
                ifMatch.map { !$0.matches(current) } ?? false
                    ? "the current version's ETag is \"\(current)\"" : "an object exists (ETag \"\(current)\")"
            } else {
                "no object exists"
            }
        throw .conditionNotMet("the write's condition does not hold for \(volume)/\(key): \(reason)")
    }
}
