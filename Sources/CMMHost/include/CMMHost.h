// Host-side helpers the Swift model cannot express itself. Nothing here changes what the model
// computes: a prefetch is a hint to the host CPU's caches.
#ifndef CMMHOST_H
#define CMMHOST_H

/// Asks the host CPU to bring the cache line holding `p` into its caches for a later read
/// (x86 PREFETCHT0, ARM PRFM PLDL1KEEP); never faults, returns at once.
static inline void cmm_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
