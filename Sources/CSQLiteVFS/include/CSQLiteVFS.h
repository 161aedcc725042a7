// The appliance's SQLite VFS, over the default ("unix") one. Two jobs, no logic beyond forwarding:
// - files a mirror claims (the catalog's database and WAL, kept on the devices' metadata areas by
//   Engine/Metadata/CatalogMirror.swift) have their reads, writes, truncates, syncs and sizes
//   served by the mirror's callbacks; the database's locks and shared memory stay on a real lock
//   file in the data directory, which the mirror names;
// - every other named file passes through, each write, truncate and sync reported to hooks before
//   and after the real call (the power-cut model, Engine/Ring/DurabilityModel.swift).
#pragma once
#include <stdint.h>

typedef struct {
    /// Before a write of `amount` bytes at `offset` to `path`; the token goes to `after`.
    int64_t (*before_write)(const char *path, const void *bytes, int amount, int64_t offset);
    /// Before `path` is truncated to `size` bytes.
    int64_t (*before_truncate)(const char *path, int64_t size);
    /// Before `path` is synced.
    int64_t (*before_sync)(const char *path);
    /// After the call that `token` announced; `ok` is 1 when it succeeded.
    void (*after)(int64_t token, int ok);
} appliance_vfs_hooks;

/// What a mirror serves. `claim` answers for a full path SQLite names: a handle (non-zero) and the
/// kind of file (0 the database, 1 its WAL), or 0 for a file it does not serve. The other calls
/// return SQLite result codes (a short read zero-fills the rest and returns SQLITE_IOERR_SHORT_READ).
typedef struct {
    int64_t (*claim)(const char *path, int *kind);
    int (*read)(int64_t handle, int kind, void *buffer, int amount, int64_t offset);
    int (*write)(int64_t handle, int kind, const void *buffer, int amount, int64_t offset);
    int (*truncate)(int64_t handle, int kind, int64_t size);
    int (*sync)(int64_t handle, int kind);
    int (*size)(int64_t handle, int kind, int64_t *size);
    /// 1 when the file exists (has content), else 0.
    int (*exists)(int64_t handle, int kind);
    /// The file is deleted: its content is gone.
    int (*remove)(int64_t handle, int kind);
    /// Writes into `out` (a buffer of `capacity` bytes) the path of the real file that carries the
    /// database's locks and shared memory; returns 0, or non-zero if it does not fit.
    int (*lock_path)(int64_t handle, char *out, int capacity);
} appliance_vfs_mirror;

/// Sets (or with NULL clears) the mirror. Installs the VFS as `appliance_vfs_install` does.
int appliance_vfs_set_mirror(const appliance_vfs_mirror *mirror);

/// Registers the VFS "appliance-model" as the default, wrapping the default at the time of the
/// first call, and sets (or with NULL clears) the hooks. Returns an SQLite result code.
int appliance_vfs_install(const appliance_vfs_hooks *hooks);
