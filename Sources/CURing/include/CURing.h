// Thin C shim for the Engine: liburing plus the few constants and ioctls Swift cannot reach.
// No logic lives here; Engine/Ring/Syscalls.swift is the only Swift file that calls into it.
#pragma once
#include <features.h>   // must precede liburing.h (it defines _GNU_SOURCE)
#include <liburing.h>
#include <stdint.h>

extern const int c_O_DIRECT;

/// BLKGETSIZE64 on a block device; returns 0 or -errno.
int c_blk_getsize64(int fd, uint64_t *out);
/// BLKSSZGET (logical block size) on a block device; returns 0 or -errno.
int c_blk_logical_block_size(int fd, int *out);
/// pthread_setname_np / pthread_getname_np on the calling thread (names up to 15 bytes).
int c_set_thread_name(const char *name);
int c_get_thread_name(char *name, size_t size);
