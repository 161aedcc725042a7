#include "CMalloc.h"
#include <malloc.h>

int appliance_heap_trim(void) { return malloc_trim(0); }
