#ifndef BULWARK_EXT2_H
#define BULWARK_EXT2_H

/* libext2fs (e2fsprogs) reading a file system that lives in a recovery point: an io_manager whose reads are
   answered by the caller (Bulwark reads the datastore's chunks), so nothing is mounted and no device is needed. */

#include <ext2fs/ext2fs.h>

/* Reads `length` bytes at `offset` of the file system (relative to its first byte) into `buffer`; 0 on success, an
   errno value otherwise. */
typedef int (*bulwark_ext2_read_fn)(void *context, unsigned long long offset, unsigned long length, void *buffer);

struct bulwark_ext2_source {
    void *context;
    bulwark_ext2_read_fn read;
    /* The file system's size in bytes: reads beyond it fail. */
    unsigned long long size;
};

/* Opens the ext2/3/4 file system `source` reads, read-only. The source must outlive the file system. */
errcode_t bulwark_ext2_open(struct bulwark_ext2_source *source, ext2_filsys *fs);

/* The message com_err has for an ext2fs error code. */
const char *bulwark_ext2_message(errcode_t code);

#endif
