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

    /// Creates the catalog file 0600 before SQLite does (its -wal and -shm then take the same
    /// mode), and makes those of the three that exist 0600.
    static func restrictCatalogFiles(_ catalogPath: String) throws(EngineError) {
        do throws(SyscallError) {
            Syscalls.close(try Syscalls.open(catalogPath, flags: O_RDWR | O_CREAT, mode: 0o600))
            for suffix in ["", "-wal", "-shm"] {
                do {
                    try Syscalls.chmod(catalogPath + suffix, mode: 0o600)
                } catch where error.errno == ENOENT {
                    continue
                }
            }
        } catch {
            throw .io(call: error.call, path: catalogPath, errno: error.errno)
        }
    }
}
