// Thin C shim over glibc's allocator controls: malloc.h is not part of Swift's Glibc module.
// Only API/Server/HeapTrim.swift imports this module.
#pragma once

/// glibc malloc_trim(0): hands the free pages of every arena back to the kernel. Returns 1 when
/// memory was released, 0 when there was none to release.
int appliance_heap_trim(void);
