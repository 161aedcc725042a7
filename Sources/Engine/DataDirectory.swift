// The data directory's own files: the directory is 0700 and the catalog (with its -wal and -shm)
// 0600, also when they were created before, by hand or by an older version, with looser modes.
// What lives in it besides (token, keys, lock, default devices) is created 0600 by its owner.
import Glibc

enum DataDirectory {
    /// Creates `path` if needed, makes it 0700 and returns it with symlinks resolved.
    static func prepare(_ path: String) throws(EngineError) -> String {
        do throws(SyscallError) {
            try Syscalls.mkdir(path, mode: 0o700)
            try Syscalls.chmod(path, mode: 0o700)
            return try Syscalls.realpath(path)
        } catch {
            throw .io(call: error.call, path: path, errno: error.errno)
        }
    }

    /// Creates the catalog's lock file 0600 before SQLite opens it (its -shm then takes the same
    /// mode), and makes the lock, -shm and a data-directory copy's files that exist 0600.
    static func restrictCatalogFiles(lockPath: String, catalogPath: String) throws(EngineError) {
        do throws(SyscallError) {
            Syscalls.close(try Syscalls.open(lockPath, flags: O_RDWR | O_CREAT, mode: 0o600))
            let directory = String(lockPath[..<(lockPath.lastIndex(of: "/") ?? lockPath.endIndex)])
            for path in [
                lockPath, lockPath + "-shm", catalogPath, catalogPath + "-wal", catalogPath + "-shm", directory + "/" + DeviceHints.fileName,
            ] {
                do {
                    try Syscalls.chmod(path, mode: 0o600)
                } catch  where error.errno == ENOENT {
                    continue
                }
            }
        } catch {
            throw .io(call: error.call, path: lockPath, errno: error.errno)
        }
    }
}
