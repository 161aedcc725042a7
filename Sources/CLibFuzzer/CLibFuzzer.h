// libFuzzer's driver, as its FuzzerInterface.h declares it. Declared only: the fuzz build links
// libFuzzer (-sanitize=fuzzer); a plain build never calls it.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
