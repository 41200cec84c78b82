#ifndef BULWARK_GUESTFS_H
#define BULWARK_GUESTFS_H

/* libguestfs, loaded when it is there: item-level recovery reads LVM, XFS and NTFS through it on hosts where it is
   installed, and Bulwark runs without it elsewhere. Only the header is needed to build; the library is opened with
   dlopen at first use, so the binaries do not depend on libguestfs0 (and the QEMU and kernel it brings). The
   function types come from libguestfs's own header, so a mismatch fails the build, not a call. */

#include <guestfs.h>

struct bulwark_guestfs_api {
    __typeof__(guestfs_create) *create;
    __typeof__(guestfs_close) *close;
    __typeof__(guestfs_last_error) *last_error;
    __typeof__(guestfs_last_errno) *last_errno;
    __typeof__(guestfs_set_error_handler) *set_error_handler;
    __typeof__(guestfs_set_backend) *set_backend;
    __typeof__(guestfs_set_path) *set_path;
    __typeof__(guestfs_config) *config;
    __typeof__(guestfs_add_drive_opts_argv) *add_drive_opts_argv;
    __typeof__(guestfs_launch) *launch;
    __typeof__(guestfs_shutdown) *shutdown;
    __typeof__(guestfs_is_ready) *is_ready;
    __typeof__(guestfs_get_pid) *get_pid;
    __typeof__(guestfs_list_filesystems) *list_filesystems;
    __typeof__(guestfs_vfs_label) *vfs_label;
    __typeof__(guestfs_vfs_type) *vfs_type;
    __typeof__(guestfs_lvs) *lvs;
    __typeof__(guestfs_blockdev_getsize64) *blockdev_getsize64;
    __typeof__(guestfs_mount_ro) *mount_ro;
    __typeof__(guestfs_umount_all) *umount_all;
    __typeof__(guestfs_ls) *ls;
    __typeof__(guestfs_lstatns) *lstatns;
    __typeof__(guestfs_lstatnslist) *lstatnslist;
    __typeof__(guestfs_readlinklist) *readlinklist;
    __typeof__(guestfs_readlink) *readlink;
    __typeof__(guestfs_pread) *pread;
    __typeof__(guestfs_free_statns) *free_statns;
    __typeof__(guestfs_free_statns_list) *free_statns_list;
};

/* The library's functions, loaded once (thread-safe); NULL when libguestfs.so.0 cannot be opened or lacks one of
   them, with the reason in *error (a static string, or one that lives as long as the process). */
const struct bulwark_guestfs_api *bulwark_guestfs_load(const char **error);

/* The add_drive options Bulwark uses: a read-only raw NBD export on a unix socket. `server` is "unix:/path". */
struct guestfs_add_drive_opts_argv bulwark_guestfs_nbd_drive(char *const *server);

/* Frees a NULL-terminated string list libguestfs returned. */
void bulwark_guestfs_free_strings(char **strings);

#endif
