// An opened version of an object, read by the front ends: through the cache (BufferedReader) or
// past it (ObjectReader). Reads return what that version held when it was opened.
package import Catalog

package protocol ObjectSource: AnyObject {
    var info: ObjectInfo { get }
    func read(at offset: Int64, into destination: UnsafeMutableRawBufferPointer) throws(EngineError) -> Int
    func close()
}

extension ObjectReader: ObjectSource {}
extension BufferedReader: ObjectSource {}

extension Engine {
    /// Opens `key` for reading through the cache (buffered) or past it (direct, after writing
    /// back the dirty pages of the object). With `mayWait` false (an event loop), only from
    /// memory: nil when that is not enough (not cached, busy, or a direct read). A `version`
    /// other than the current one's, or a snapshot's object, is read past the cache (the cache holds current versions).
    package func openRead(
        volume: String, key: String, version: VersionID? = nil, snapshot: String? = nil, io: ObjectIO, mayWait: Bool
    ) throws(EngineError) -> (any ObjectSource)? {
        if let snapshot {
            return mayWait ? try openObject(volume: volume, key: key, snapshot: snapshot) : nil
        }
        if let version {
            return mayWait ? try openObject(volume: volume, key: key, version: version) : nil
        }
        guard mayWait else { return io == .buffered ? try openBufferedIfCached(volume: volume, key: key) : nil }
        return switch io {
        case .buffered: try openBuffered(volume: volume, key: key)
        case .direct: try openObject(volume: volume, key: key)
        }
    }
}
