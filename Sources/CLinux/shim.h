#ifndef BULWARK_CLINUX_SHIM_H
#define BULWARK_CLINUX_SHIM_H

#include <unistd.h>

/* glibc declares syncfs(2) only under _GNU_SOURCE, which Swift's Glibc module is built without. */
extern int syncfs(int fd);

#endif
