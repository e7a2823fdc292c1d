/* Fidelity program for transparent huge pages: maps MIB MiB of anonymous memory (plus 2 MiB
 * so that a 2 MiB-aligned block of MIB MiB fits), optionally marks it MADV_HUGEPAGE, then
 * between two getrusage() calls writes one byte per 4 KiB page of the aligned block. It prints
 * the minor faults taken in between and the host's thp_fault_alloc / thp_fault_fallback
 * deltas (from /proc/vmstat, read outside the window):
 *   thp huge|nohuge MIB  ->  "minflt N majflt M thp_fault_alloc A thp_fault_fallback F"
 * With THP in madvise or always mode, `huge` takes one fault per 2 MiB block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

static long vmstat(const char *name) {
    FILE *f = fopen("/proc/vmstat", "r");
    if (!f) return -1;
    char key[128];
    long v, r = -1;
    while (fscanf(f, "%127s %ld", key, &v) == 2) if (strcmp(key, name) == 0) { r = v; break; }
    fclose(f);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: thp huge|nohuge MIB\n"); return 2; }
    long mib = atol(argv[2]);
    if (mib <= 0 || mib > 4096) return 2;
    unsigned long len = (unsigned long)mib << 20, huge = 2UL << 20;
    char *raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) { perror("mmap"); return 1; }
    char *mem = (char *)(((unsigned long)raw + huge - 1) & ~(huge - 1));
    if (strcmp(argv[1], "huge") == 0 && madvise(mem, len, MADV_HUGEPAGE) != 0) { perror("madvise"); return 1; }
    long alloc0 = vmstat("thp_fault_alloc"), fallback0 = vmstat("thp_fault_fallback");
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    for (unsigned long off = 0; off < len; off += 4096) mem[off] = 1;
    getrusage(RUSAGE_SELF, &b);
    long alloc1 = vmstat("thp_fault_alloc"), fallback1 = vmstat("thp_fault_fallback");
    printf("minflt %ld majflt %ld thp_fault_alloc %ld thp_fault_fallback %ld\n", b.ru_minflt - a.ru_minflt,
           b.ru_majflt - a.ru_majflt, alloc1 - alloc0, fallback1 - fallback0);
    return 0;
}
