#define _GNU_SOURCE
#include "CURing.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

const int c_O_DIRECT = O_DIRECT;

int c_blk_getsize64(int fd, uint64_t *out) {
    return ioctl(fd, BLKGETSIZE64, out) == 0 ? 0 : -errno;
}

int c_blk_logical_block_size(int fd, int *out) {
    return ioctl(fd, BLKSSZGET, out) == 0 ? 0 : -errno;
}
