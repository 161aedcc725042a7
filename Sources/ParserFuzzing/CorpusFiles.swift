// The inputs of a corpus: a file, or every regular file under a directory (sorted, for a
// replay in the same order each time).
import Foundation

extension ParserFuzzing {
    package static func corpusFiles(at path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        guard isDirectory.boolValue else { return [path] }
        return try FileManager.default.subpathsOfDirectory(atPath: path).sorted()
            .map { path + "/" + $0 }
            .filter { (try? FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType) == .typeRegular }
    }
}
