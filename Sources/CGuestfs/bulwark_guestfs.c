#include "bulwark_guestfs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static struct bulwark_guestfs_api api;
static const struct bulwark_guestfs_api *loaded;
static const char *load_error;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char message[512];

static void load(void) {
    void *library = dlopen("libguestfs.so.0", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(message, sizeof message, "%s", dlerror());
        load_error = message;
        return;
    }
#define BULWARK_RESOLVE(field)                                                                          \
    do {                                                                                                \
        *(void **)(&api.field) = dlsym(library, "guestfs_" #field);                                     \
        if (api.field == NULL) {                                                                        \
            snprintf(message, sizeof message, "libguestfs.so.0 has no guestfs_%s; it is too old", #field); \
            load_error = message;                                                                       \
            return;                                                                                     \
        }                                                                                               \
    } while (0)
    BULWARK_RESOLVE(create);
    BULWARK_RESOLVE(close);
    BULWARK_RESOLVE(last_error);
    BULWARK_RESOLVE(last_errno);
    BULWARK_RESOLVE(set_error_handler);
    BULWARK_RESOLVE(set_backend);
    BULWARK_RESOLVE(set_path);
    BULWARK_RESOLVE(config);
    BULWARK_RESOLVE(add_drive_opts_argv);
    BULWARK_RESOLVE(launch);
    BULWARK_RESOLVE(shutdown);
    BULWARK_RESOLVE(is_ready);
    BULWARK_RESOLVE(get_pid);
    BULWARK_RESOLVE(list_filesystems);
    BULWARK_RESOLVE(vfs_label);
    BULWARK_RESOLVE(vfs_type);
    BULWARK_RESOLVE(lvs);
    BULWARK_RESOLVE(blockdev_getsize64);
    BULWARK_RESOLVE(mount_ro);
    BULWARK_RESOLVE(umount_all);
    BULWARK_RESOLVE(ls);
    BULWARK_RESOLVE(lstatns);
    BULWARK_RESOLVE(lstatnslist);
    BULWARK_RESOLVE(readlinklist);
    BULWARK_RESOLVE(readlink);
    BULWARK_RESOLVE(pread);
    BULWARK_RESOLVE(free_statns);
    BULWARK_RESOLVE(free_statns_list);
#undef BULWARK_RESOLVE
    loaded = &api;
}

const struct bulwark_guestfs_api *bulwark_guestfs_load(const char **error) {
    pthread_once(&once, load);
    if (loaded == NULL && error != NULL) *error = load_error;
    return loaded;
}

struct guestfs_add_drive_opts_argv bulwark_guestfs_nbd_drive(char *const *server) {
    struct guestfs_add_drive_opts_argv options = {0};
    options.bitmask = GUESTFS_ADD_DRIVE_OPTS_READONLY_BITMASK | GUESTFS_ADD_DRIVE_OPTS_FORMAT_BITMASK
        | GUESTFS_ADD_DRIVE_OPTS_PROTOCOL_BITMASK | GUESTFS_ADD_DRIVE_OPTS_SERVER_BITMASK;
    options.readonly = 1;
    options.format = "raw";
    options.protocol = "nbd";
    options.server = server;
    return options;
}

void bulwark_guestfs_free_strings(char **strings) {
    if (strings == NULL) return;
    for (char **each = strings; *each != NULL; each++) free(*each);
    free(strings);
}
