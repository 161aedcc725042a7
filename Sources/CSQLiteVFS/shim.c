// See include/CSQLiteVFS.h.
#include "CSQLiteVFS.h"
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sqlite3_file base;
    const char *path;     // NULL for files SQLite opens without a name
    int64_t handle;       // the mirror's handle for a file it serves, else 0
    int kind;             // a mirrored file: 0 the database, 1 the WAL
    char *lock_path;      // a mirrored database: the real file for locks and shared memory
    sqlite3_file *real;   // follows this struct in the same allocation (a mirrored WAL: unused)
} model_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs model_vfs;
static _Atomic(const appliance_vfs_hooks *) current_hooks;
static appliance_vfs_hooks stored_hooks;
static _Atomic(const appliance_vfs_mirror *) current_mirror;
static appliance_vfs_mirror stored_mirror;

static const appliance_vfs_hooks *hooks_for(model_file *f) {
    return f->path ? atomic_load(&current_hooks) : NULL;
}

static int m_close(sqlite3_file *file) {
    model_file *f = (model_file *)file;
    int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    free((void *)f->path);
    f->path = NULL;
    return rc;
}
static int m_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xRead(f->real, buf, amt, off);
}
static int m_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off) {
    model_file *f = (model_file *)file;
    const appliance_vfs_hooks *h = hooks_for(f);
    int64_t token = h ? h->before_write(f->path, buf, amt, off) : 0;
    int rc = f->real->pMethods->xWrite(f->real, buf, amt, off);
    if (h) h->after(token, rc == SQLITE_OK);
    return rc;
}
static int m_truncate(sqlite3_file *file, sqlite3_int64 size) {
    model_file *f = (model_file *)file;
    const appliance_vfs_hooks *h = hooks_for(f);
    int64_t token = h ? h->before_truncate(f->path, size) : 0;
    int rc = f->real->pMethods->xTruncate(f->real, size);
    if (h) h->after(token, rc == SQLITE_OK);
    return rc;
}
static int m_sync(sqlite3_file *file, int flags) {
    model_file *f = (model_file *)file;
    const appliance_vfs_hooks *h = hooks_for(f);
    int64_t token = h ? h->before_sync(f->path) : 0;
    int rc = f->real->pMethods->xSync(f->real, flags);
    if (h) h->after(token, rc == SQLITE_OK);
    return rc;
}
static int m_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xFileSize(f->real, size);
}
static int m_lock(sqlite3_file *file, int level) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xLock(f->real, level);
}
static int m_unlock(sqlite3_file *file, int level) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xUnlock(f->real, level);
}
static int m_check_reserved(sqlite3_file *file, int *out) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}
static int m_file_control(sqlite3_file *file, int op, void *arg) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xFileControl(f->real, op, arg);
}
static int m_sector_size(sqlite3_file *file) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xSectorSize(f->real);
}
static int m_device_characteristics(sqlite3_file *file) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}
static int m_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xShmMap(f->real, page, size, extend, out);
}
static int m_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}
static void m_shm_barrier(sqlite3_file *file) {
    model_file *f = (model_file *)file;
    f->real->pMethods->xShmBarrier(f->real);
}
static int m_shm_unmap(sqlite3_file *file, int delete_flag) {
    model_file *f = (model_file *)file;
    return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}
static int m_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out) {
    model_file *f = (model_file *)file;
    *out = NULL;  // no memory-mapped pages: every write goes through xWrite, where the model sees it
    (void)off; (void)amt;
    return SQLITE_OK;
}
static int m_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p) {
    (void)file; (void)off; (void)p;
    return SQLITE_OK;
}

static const sqlite3_io_methods model_methods = {
    3, m_close, m_read, m_write, m_truncate, m_sync, m_file_size, m_lock, m_unlock, m_check_reserved,
    m_file_control, m_sector_size, m_device_characteristics, m_shm_map, m_shm_lock, m_shm_barrier,
    m_shm_unmap, m_fetch, m_unfetch,
};


// Files the mirror serves: content through its callbacks; a database's locks and shared memory
// through the real lock file.
static const appliance_vfs_mirror *mirror(void) { return atomic_load(&current_mirror); }

static int r_close(sqlite3_file *file) {
    model_file *f = (model_file *)file;
    int rc = (f->real && f->real->pMethods) ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    free((void *)f->path);
    if (f->lock_path) sqlite3_free_filename(f->lock_path);
    f->path = NULL;
    f->lock_path = NULL;
    return rc;
}
static int r_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off) {
    model_file *f = (model_file *)file;
    return mirror()->read(f->handle, f->kind, buf, amt, off);
}
static int r_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off) {
    model_file *f = (model_file *)file;
    return mirror()->write(f->handle, f->kind, buf, amt, off);
}
static int r_truncate(sqlite3_file *file, sqlite3_int64 size) {
    model_file *f = (model_file *)file;
    return mirror()->truncate(f->handle, f->kind, size);
}
static int r_sync(sqlite3_file *file, int flags) {
    model_file *f = (model_file *)file;
    (void)flags;
    return mirror()->sync(f->handle, f->kind);
}
static int r_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    model_file *f = (model_file *)file;
    int64_t out = 0;
    int rc = mirror()->size(f->handle, f->kind, &out);
    *size = out;
    return rc;
}
static int r_has_real(model_file *f) { return f->real && f->real->pMethods; }
static int r_lock(sqlite3_file *file, int level) {
    model_file *f = (model_file *)file;
    return r_has_real(f) ? f->real->pMethods->xLock(f->real, level) : SQLITE_OK;
}
static int r_unlock(sqlite3_file *file, int level) {
    model_file *f = (model_file *)file;
    return r_has_real(f) ? f->real->pMethods->xUnlock(f->real, level) : SQLITE_OK;
}
static int r_check_reserved(sqlite3_file *file, int *out) {
    model_file *f = (model_file *)file;
    if (r_has_real(f)) return f->real->pMethods->xCheckReservedLock(f->real, out);
    *out = 0;
    return SQLITE_OK;
}
static int r_file_control(sqlite3_file *file, int op, void *arg) {
    model_file *f = (model_file *)file;
    // Size hints would grow the lock file; the mirror's regions are fixed.
    if (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE) return SQLITE_OK;
    return r_has_real(f) ? f->real->pMethods->xFileControl(f->real, op, arg) : SQLITE_NOTFOUND;
}
static int r_sector_size(sqlite3_file *file) { (void)file; return 4096; }
static int r_device_characteristics(sqlite3_file *file) {
    (void)file;
    // A write changes no byte outside its range, so the WAL need not pad commits to a sector.
    return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}
static int r_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
    model_file *f = (model_file *)file;
    return r_has_real(f) ? f->real->pMethods->xShmMap(f->real, page, size, extend, out) : SQLITE_IOERR_SHMMAP;
}
static int r_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    model_file *f = (model_file *)file;
    return r_has_real(f) ? f->real->pMethods->xShmLock(f->real, offset, n, flags) : SQLITE_IOERR_SHMLOCK;
}
static void r_shm_barrier(sqlite3_file *file) {
    model_file *f = (model_file *)file;
    if (r_has_real(f)) f->real->pMethods->xShmBarrier(f->real);
}
static int r_shm_unmap(sqlite3_file *file, int delete_flag) {
    model_file *f = (model_file *)file;
    return r_has_real(f) ? f->real->pMethods->xShmUnmap(f->real, delete_flag) : SQLITE_OK;
}

static const sqlite3_io_methods mirrored_methods = {
    3, r_close, r_read, r_write, r_truncate, r_sync, r_file_size, r_lock, r_unlock, r_check_reserved,
    r_file_control, r_sector_size, r_device_characteristics, r_shm_map, r_shm_lock, r_shm_barrier,
    r_shm_unmap, m_fetch, m_unfetch,
};

/// The mirror's handle for `name`, or 0.
static int64_t claimed(const char *name, int *kind) {
    const appliance_vfs_mirror *m = mirror();
    if (!m || !name) return 0;
    return m->claim(name, kind);
}

static int open_mirrored(model_file *f, const char *name, int64_t handle, int kind, int flags, int *out_flags) {
    f->handle = handle;
    f->kind = kind;
    f->path = strdup(name);
    if (kind == 0) {
        // The lock path as SQLite's filename functions expect a name given to xOpen: built by
        // sqlite3_create_filename (4 zero bytes before it, the journal, WAL and URI-parameter
        // lists after it). The unix VFS reads parameters of it (xShmMap: readonly_shm), and a
        // plain string made those reads scan memory before the allocation (a crash under TSan).
        char buffer[4096];
        if (mirror()->lock_path(handle, buffer, (int)sizeof(buffer)) != 0) {
            free((void *)f->path);
            f->path = NULL;
            return SQLITE_CANTOPEN;
        }
        f->lock_path = (char *)sqlite3_create_filename(buffer, "", "", 0, NULL);
        if (!f->lock_path) {
            free((void *)f->path);
            f->path = NULL;
            return SQLITE_NOMEM;
        }
        int rc = real_vfs->xOpen(real_vfs, f->lock_path, f->real, (flags & ~SQLITE_OPEN_URI) | SQLITE_OPEN_CREATE, out_flags);
        if (rc != SQLITE_OK || !f->real->pMethods) {
            free((void *)f->path);
            sqlite3_free_filename(f->lock_path);
            f->path = NULL;
            f->lock_path = NULL;
            f->base.pMethods = NULL;
            return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
        }
    } else {
        f->real->pMethods = NULL;
        if (out_flags) *out_flags = flags;
    }
    f->base.pMethods = &mirrored_methods;
    return SQLITE_OK;
}

static int m_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    model_file *f = (model_file *)file;
    f->real = (sqlite3_file *)(f + 1);
    f->handle = 0;
    f->kind = 0;
    f->lock_path = NULL;
    int kind = 0;
    int64_t handle = claimed(name, &kind);
    if (handle) return open_mirrored(f, name, handle, kind, flags, out_flags);
    f->path = name ? strdup(name) : NULL;
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    f->base.pMethods = f->real->pMethods ? &model_methods : NULL;
    if (!f->real->pMethods) {
        free((void *)f->path);
        f->path = NULL;
    }
    return rc;
}
static int m_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void)vfs;
    int kind = 0;
    int64_t handle = claimed(name, &kind);
    if (handle) return mirror()->remove(handle, kind);
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static int m_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
    int kind = 0;
    int64_t handle = claimed(name, &kind);
    if (handle) {
        *out = flags == SQLITE_ACCESS_EXISTS ? mirror()->exists(handle, kind) : 1;
        return SQLITE_OK;
    }
    return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int m_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static void *m_dlopen(sqlite3_vfs *vfs, const char *name) { (void)vfs; return real_vfs->xDlOpen(real_vfs, name); }
static void m_dlerror(sqlite3_vfs *vfs, int n, char *out) { (void)vfs; real_vfs->xDlError(real_vfs, n, out); }
static void (*m_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void) { (void)vfs; return real_vfs->xDlSym(real_vfs, h, sym); }
static void m_dlclose(sqlite3_vfs *vfs, void *h) { (void)vfs; real_vfs->xDlClose(real_vfs, h); }
static int m_randomness(sqlite3_vfs *vfs, int n, char *out) { (void)vfs; return real_vfs->xRandomness(real_vfs, n, out); }
static int m_sleep(sqlite3_vfs *vfs, int us) { (void)vfs; return real_vfs->xSleep(real_vfs, us); }
static int m_current_time(sqlite3_vfs *vfs, double *out) { (void)vfs; return real_vfs->xCurrentTime(real_vfs, out); }
static int m_last_error(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}
static int m_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static int install(void) {
    if (!real_vfs) {
        int rc = sqlite3_initialize();
        if (rc != SQLITE_OK) return rc;
        real_vfs = sqlite3_vfs_find(NULL);
        if (!real_vfs) return SQLITE_ERROR;
        model_vfs = (sqlite3_vfs){
            .iVersion = 2,
            .szOsFile = (int)sizeof(model_file) + real_vfs->szOsFile,
            .mxPathname = real_vfs->mxPathname,
            .zName = "appliance-model",
            .xOpen = m_open,
            .xDelete = m_delete,
            .xAccess = m_access,
            .xFullPathname = m_full_pathname,
            .xDlOpen = m_dlopen,
            .xDlError = m_dlerror,
            .xDlSym = m_dlsym,
            .xDlClose = m_dlclose,
            .xRandomness = m_randomness,
            .xSleep = m_sleep,
            .xCurrentTime = m_current_time,
            .xGetLastError = m_last_error,
            .xCurrentTimeInt64 = m_current_time_int64,
        };
        rc = sqlite3_vfs_register(&model_vfs, 1);
        if (rc != SQLITE_OK) {
            real_vfs = NULL;
            return rc;
        }
    }
    return SQLITE_OK;
}

int appliance_vfs_set_mirror(const appliance_vfs_mirror *m) {
    int rc = install();
    if (rc != SQLITE_OK) return rc;
    if (m) {
        stored_mirror = *m;
        atomic_store(&current_mirror, &stored_mirror);
    } else {
        atomic_store(&current_mirror, NULL);
    }
    return SQLITE_OK;
}

int appliance_vfs_install(const appliance_vfs_hooks *hooks) {
    int rc = install();
    if (rc != SQLITE_OK) return rc;
    if (hooks) {
        stored_hooks = *hooks;
        atomic_store(&current_hooks, &stored_hooks);
    } else {
        atomic_store(&current_hooks, NULL);
    }
    return SQLITE_OK;
}
