// A pass-through SQLite VFS over the default ("unix") one that reports each write, truncate and
// sync of a named file to hooks, before and after the real call. The power-cut model
// (Engine/Ring/DurabilityModel.swift) uses it so that the catalog's WAL and database are cut at the
// same instant as the devices. No logic lives here beyond forwarding.
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

/// Registers the VFS "appliance-model" as the default, wrapping the default at the time of the
/// first call, and sets (or with NULL clears) the hooks. Returns an SQLite result code.
int appliance_vfs_install(const appliance_vfs_hooks *hooks);
