// One process at a time per data directory: `serve` and `check` hold an exclusive flock on
// `<data-dir>/lock` for as long as they run (the kernel drops it when the process ends, however).
import Foundation
import Glibc

struct DataDirectoryInUse: Error, CustomStringConvertible {
    let directory: String
    var description: String { "the data directory \(directory) is in use by another appliance process (its lock file is held)" }
}

enum DataDirectoryLock {
    /// Takes the lock, creating the directory if needed; the descriptor stays open until exit.
    static func acquire(_ directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let fd = open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw DataDirectoryInUse(directory: directory)
        }
    }
}
