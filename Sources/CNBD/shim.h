#ifndef BULWARK_CNBD_SHIM_H
#define BULWARK_CNBD_SHIM_H

#include <libnbd.h>

#endif
