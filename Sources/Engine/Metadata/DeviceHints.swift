// The data directory's record of where the pool's devices were last seen (the pool's UUID, each
// device's UUID and path): how a start finds the metadata areas before it can read the catalog.
// Only a hint: devices are known by the UUIDs in their superblocks, and a lost record is re-made
// from the catalog. Rewritten (to a temporary file, synced, renamed) when membership changes.
import Foundation
import Glibc

struct DeviceHints: Codable, Equatable {
    struct Entry: Codable, Equatable {
        var id: String
        var path: String
    }

    var pool: String
    var devices: [Entry]

    static let fileName = "devices.json"

    static func load(dataDirectory: String) -> DeviceHints? {
        guard let data = FileManager.default.contents(atPath: dataDirectory + "/" + fileName) else { return nil }
        return try? JSONDecoder().decode(DeviceHints.self, from: data)
    }

    func save(dataDirectory: String) throws(EngineError) {
        let path = dataDirectory + "/" + Self.fileName
        let temporary = path + ".new"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { throw .catalog("the device record could not be encoded") }
        do throws(SyscallError) {
            let fd = try Syscalls.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            defer { Syscalls.close(fd) }
            var failure: SyscallError?
            data.withUnsafeBytes { bytes in
                do throws(SyscallError) {
                    _ = try Syscalls.pwrite(fd, bytes, offset: 0)
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            try Syscalls.fdatasync(fd)
        } catch {
            throw .io(call: error.call, path: temporary, errno: error.errno)
        }
        do {
            try Syscalls.rename(temporary, to: path)
        } catch {
            throw .io(call: error.call, path: path, errno: error.errno)
        }
    }
}
