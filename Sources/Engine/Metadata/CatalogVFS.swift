// The bridge from the SQLite VFS in CSQLiteVFS to the catalog mirrors: which paths a mirror serves
// (its database and "-wal"), and SQLite's file calls forwarded to it. One registry per process;
// each open engine registers its mirror before it opens the catalog and removes it after closing.
import CSQLiteVFS
import Foundation
import Synchronization

enum CatalogVFS {
    private struct Registry {
        var next: Int64 = 1
        var byHandle: [Int64: CatalogMirror] = [:]
        var byPath: [String: Int64] = [:]
    }

    private static let registry = Mutex(Registry())
    private static let installed = Mutex(false)

    /// Serves `mirror.path` (and its WAL) from `mirror` from now on.
    static func register(_ mirror: CatalogMirror) throws(EngineError) {
        try install()
        registry.withLock { registry in
            let handle = registry.next
            registry.next += 1
            registry.byHandle[handle] = mirror
            registry.byPath[mirror.path] = handle
        }
    }

    static func unregister(_ mirror: CatalogMirror) {
        registry.withLock { registry in
            guard let handle = registry.byPath[mirror.path], registry.byHandle[handle] === mirror else { return }
            registry.byPath[mirror.path] = nil
            registry.byHandle[handle] = nil
        }
    }

    private static func mirror(_ handle: Int64) -> CatalogMirror? {
        registry.withLock { $0.byHandle[handle] }
    }

    private static func install() throws(EngineError) {
        let rc = installed.withLock { done -> Int32 in
            guard !done else { return 0 }
            var calls = appliance_vfs_mirror(
                claim: { path, kind in
                    guard let path else { return 0 }
                    let name = String(cString: path)
                    return CatalogVFS.registry.withLock { registry in
                        if let handle = registry.byPath[name] {
                            kind?.pointee = CatalogMirror.File.database.rawValue
                            return handle
                        }
                        if name.hasSuffix("-wal"), let handle = registry.byPath[String(name.dropLast(4))] {
                            kind?.pointee = CatalogMirror.File.wal.rawValue
                            return handle
                        }
                        return 0
                    }
                },
                read: { handle, kind, buffer, amount, offset in
                    guard let mirror = CatalogVFS.mirror(handle), let file = CatalogMirror.File(rawValue: kind), let buffer else {
                        return CatalogMirror.Result.ioRead
                    }
                    return mirror.read(file, into: UnsafeMutableRawBufferPointer(start: buffer, count: Int(amount)), at: offset)
                },
                write: { handle, kind, buffer, amount, offset in
                    guard let mirror = CatalogVFS.mirror(handle), let file = CatalogMirror.File(rawValue: kind), let buffer else {
                        return CatalogMirror.Result.ioWrite
                    }
                    return mirror.write(file, UnsafeRawBufferPointer(start: buffer, count: Int(amount)), at: offset)
                },
                truncate: { handle, kind, size in
                    guard let mirror = CatalogVFS.mirror(handle), let file = CatalogMirror.File(rawValue: kind) else {
                        return CatalogMirror.Result.ioTruncate
                    }
                    return mirror.truncate(file, to: size)
                },
                sync: { handle, kind in
                    guard let mirror = CatalogVFS.mirror(handle), let file = CatalogMirror.File(rawValue: kind) else {
                        return CatalogMirror.Result.ioSync
                    }
                    return mirror.sync(file)
                },
                size: { handle, kind, size in
                    guard let mirror = CatalogVFS.mirror(handle), let file = CatalogMirror.File(rawValue: kind) else {
                        return CatalogMirror.Result.ioRead
                    }
                    size?.pointee = mirror.size(file)
                    return CatalogMirror.Result.ok
                },
                exists: { handle, kind in
                    guard let mirror = CatalogVFS.mirror(handle), let file = CatalogMirror.File(rawValue: kind) else { return 0 }
                    return mirror.size(file) > 0 ? 1 : 0
                },
                remove: { handle, kind in
                    guard let mirror = CatalogVFS.mirror(handle), let file = CatalogMirror.File(rawValue: kind) else {
                        return CatalogMirror.Result.ioWrite
                    }
                    return mirror.remove(file)
                },
                lock_path: { handle, out, capacity in
                    guard let mirror = CatalogVFS.mirror(handle), let out else { return 1 }
                    let bytes = Array(mirror.lockPath.utf8)
                    guard bytes.count + 1 <= Int(capacity) else { return 1 }
                    bytes.withUnsafeBufferPointer { src in
                        out.withMemoryRebound(to: UInt8.self, capacity: bytes.count + 1) { dst in
                            dst.update(from: src.baseAddress!, count: bytes.count)
                            dst[bytes.count] = 0
                        }
                    }
                    return 0
                })
            let rc = appliance_vfs_set_mirror(&calls)
            if rc == 0 { done = true }
            return rc
        }
        if rc != 0 { throw .catalog("the catalog's SQLite VFS could not be installed (SQLite error \(rc))") }
    }
}
