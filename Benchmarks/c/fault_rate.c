/* First-touch anonymous write faults on the host kernel: maps MIB MiB (default 1024) of private
 * anonymous memory with transparent huge pages off for the range (so every page is its own 4 KiB
 * fault, as in the simulated benchmark), writes one byte per page, and prints
 * "PAGES SECONDS" (CPU seconds of the touching loop, kernel time included). Built and run by mmsim-bench. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    size_t len = mib << 20, page = 4096;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(p, len, MADV_NOHUGEPAGE);
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    for (size_t off = 0; off < len; off += page) p[off] = 1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%zu %.9f\n", len / page, s);
    return 0;
}
