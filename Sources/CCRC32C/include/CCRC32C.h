// crc32c (Castagnoli) for the Engine's superblock and data checksums.
// Semantics match zlib's crc32(): start with 0, pass the previous result to continue.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// crc32c of `length` bytes at `data`, continuing from `crc`. Uses SSE4.2 when the CPU has it.
/// `data` may be NULL when `length` is 0. appliance_crc32c(0, "123456789", 9) == 0xE3069283.
uint32_t appliance_crc32c(uint32_t crc, const void *data, size_t length);

/// The table-driven fallback, same semantics; exposed so tests can compare it with the hardware path.
uint32_t appliance_crc32c_portable(uint32_t crc, const void *data, size_t length);
