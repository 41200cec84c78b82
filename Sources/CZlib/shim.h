#ifndef BULWARK_CZLIB_SHIM_H
#define BULWARK_CZLIB_SHIM_H

#include <zlib.h>

#endif
