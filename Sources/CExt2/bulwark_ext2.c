#include "bulwark_ext2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <et/com_err.h>

/* The channel's private data: the source it reads. */
struct bulwark_channel {
    struct bulwark_ext2_source *source;
};

static struct struct_io_manager bulwark_manager;

static errcode_t bulwark_open(const char *name, int flags, io_channel *channel) {
    struct bulwark_ext2_source *source = NULL;
    if (name == NULL || sscanf(name, "bulwark:%p", (void **)&source) != 1 || source == NULL) return EXT2_ET_BAD_DEVICE_NAME;
    if (flags & IO_FLAG_RW) return EROFS;
    io_channel io = calloc(1, sizeof(struct struct_io_channel));
    struct bulwark_channel *data = calloc(1, sizeof(struct bulwark_channel));
    char *copy = strdup(name);
    if (io == NULL || data == NULL || copy == NULL) {
        free(io);
        free(data);
        free(copy);
        return EXT2_ET_NO_MEMORY;
    }
    data->source = source;
    io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    io->manager = &bulwark_manager;
    io->name = copy;
    io->block_size = 1024;
    io->refcount = 1;
    io->private_data = data;
    *channel = io;
    return 0;
}

static errcode_t bulwark_close(io_channel channel) {
    if (--channel->refcount > 0) return 0;
    free(channel->private_data);
    free(channel->name);
    free(channel);
    return 0;
}

static errcode_t bulwark_set_blksize(io_channel channel, int blksize) {
    channel->block_size = blksize;
    return 0;
}

static errcode_t bulwark_read64(io_channel channel, unsigned long long block, int count, void *data) {
    struct bulwark_channel *private = channel->private_data;
    /* A negative count is a byte count (libext2fs's convention for partial blocks). */
    unsigned long long length = count < 0 ? (unsigned long long)(-count) : (unsigned long long)count * channel->block_size;
    unsigned long long offset = block * channel->block_size;
    if (offset > private->source->size || length > private->source->size - offset) return EXT2_ET_SHORT_READ;
    int error = private->source->read(private->source->context, offset, (unsigned long)length, data);
    return error == 0 ? 0 : (errcode_t)error;
}

static errcode_t bulwark_read(io_channel channel, unsigned long block, int count, void *data) {
    return bulwark_read64(channel, block, count, data);
}

static errcode_t bulwark_write(io_channel channel, unsigned long block, int count, const void *data) {
    (void)channel; (void)block; (void)count; (void)data;
    return EROFS;
}

static errcode_t bulwark_write64(io_channel channel, unsigned long long block, int count, const void *data) {
    (void)channel; (void)block; (void)count; (void)data;
    return EROFS;
}

static errcode_t bulwark_write_byte(io_channel channel, unsigned long offset, int count, const void *data) {
    (void)channel; (void)offset; (void)count; (void)data;
    return EROFS;
}

static errcode_t bulwark_flush(io_channel channel) {
    (void)channel;
    return 0;
}

static errcode_t bulwark_set_option(io_channel channel, const char *option, const char *arg) {
    (void)channel; (void)option; (void)arg;
    return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager bulwark_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "Bulwark recovery point I/O manager",
    .open = bulwark_open,
    .close = bulwark_close,
    .set_blksize = bulwark_set_blksize,
    .read_blk = bulwark_read,
    .write_blk = bulwark_write,
    .flush = bulwark_flush,
    .write_byte = bulwark_write_byte,
    .set_option = bulwark_set_option,
    .read_blk64 = bulwark_read64,
    .write_blk64 = bulwark_write64,
};

errcode_t bulwark_ext2_open(struct bulwark_ext2_source *source, ext2_filsys *fs) {
    char name[64];
    snprintf(name, sizeof name, "bulwark:%p", (void *)source);
    /* No journal replay, no writes: the point is read as it was written. */
    return ext2fs_open2(name, NULL, EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS, 0, 0, &bulwark_manager, fs);
}

const char *bulwark_ext2_message(errcode_t code) {
    return error_message(code);
}
