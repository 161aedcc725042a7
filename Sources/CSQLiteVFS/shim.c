// See include/CSQLiteVFS.h.
#include "CSQLiteVFS.h"
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sqlite3_file base;
    const char *path;     // NULL for files SQLite opens without a name
    sqlite3_file *real;   // follows this struct in the same allocation
} model_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs model_vfs;
static _Atomic(const appliance_vfs_hooks *) current_hooks;
static appliance_vfs_hooks stored_hooks;

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

static int m_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    model_file *f = (model_file *)file;
    f->real = (sqlite3_file *)(f + 1);
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
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static int m_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
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

int appliance_vfs_install(const appliance_vfs_hooks *hooks) {
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
    if (hooks) {
        stored_hooks = *hooks;
        atomic_store(&current_hooks, &stored_hooks);
    } else {
        atomic_store(&current_hooks, NULL);
    }
    return SQLITE_OK;
}
