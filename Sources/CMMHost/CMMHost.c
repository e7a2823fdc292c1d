// CMMHost is header-only (static inline functions in include/CMMHost.h); SwiftPM needs one source file.
#include "CMMHost.h"
