#ifndef BULWARK_CFUZZER_H
#define BULWARK_CFUZZER_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's driver (libclang_rt.fuzzer, linked by -sanitize=fuzzer): parses libFuzzer's arguments and runs
   `callback` on each input. Called from the fuzzer's own main, since SwiftPM names an executable's entry point
   itself and libFuzzer's main would never run. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
