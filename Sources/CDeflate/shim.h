#ifndef BULWARK_CDEFLATE_SHIM_H
#define BULWARK_CDEFLATE_SHIM_H

#include <libdeflate.h>

#endif
