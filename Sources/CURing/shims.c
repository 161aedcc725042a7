#define _GNU_SOURCE
#include "CURing.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sys/ioctl.h>

const int c_O_DIRECT = O_DIRECT;

int c_blk_getsize64(int fd, uint64_t *out) {
    return ioctl(fd, BLKGETSIZE64, out) == 0 ? 0 : -errno;
}

int c_blk_logical_block_size(int fd, int *out) {
    return ioctl(fd, BLKSSZGET, out) == 0 ? 0 : -errno;
}

int c_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

int c_get_thread_name(char *name, size_t size) {
    return pthread_getname_np(pthread_self(), name, size);
}
