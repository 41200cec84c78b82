#ifndef BULWARK_CZSTD_SHIM_H
#define BULWARK_CZSTD_SHIM_H

#include <zstd.h>

#endif
