#ifndef BULWARK_CLINUX_SHIM_H
#define BULWARK_CLINUX_SHIM_H

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

/* glibc declares syncfs(2) only under _GNU_SOURCE, which Swift's Glibc module is built without. */
extern int syncfs(int fd);

/* O_DIRECT, which glibc also names only under _GNU_SOURCE; __O_DIRECT is the architecture's value. */
static inline int bulwark_o_direct(void) { return __O_DIRECT; }

/* renameat2(2) with RENAME_EXCHANGE: swaps two names atomically and fails with ENOENT when either is gone, which
   makes "replace this file only if it still exists" one call. glibc declares it only under _GNU_SOURCE. */
extern int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
static inline int bulwark_exchange(const char *a, const char *b) { return renameat2(AT_FDCWD, a, AT_FDCWD, b, 1U << 1); }

#endif
