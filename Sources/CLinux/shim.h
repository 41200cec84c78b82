#ifndef BULWARK_CLINUX_SHIM_H
#define BULWARK_CLINUX_SHIM_H

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

/* glibc declares syncfs(2) only under _GNU_SOURCE, which Swift's Glibc module is built without. */
extern int syncfs(int fd);

/* O_DIRECT, which glibc also names only under _GNU_SOURCE; __O_DIRECT is the architecture's value. */
static inline int bulwark_o_direct(void) { return __O_DIRECT; }

#endif
