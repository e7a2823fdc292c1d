/* fork() of a process with MIB MiB (default 1024) of private anonymous memory resident (4 KiB
 * pages: transparent huge pages off for the range): touches every page, then times ROUNDS
 * (default 5) fork() calls in the parent (the child exits at once and is reaped outside the
 * timed part) and prints "ROUNDS SECONDS" (CPU seconds of the fork() calls together, kernel time included). Run by mmsim-bench. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    size_t len = mib << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(p, len, MADV_NOHUGEPAGE);
    for (size_t off = 0; off < len; off += 4096) p[off] = 1;
    double total = 0;
    for (int r = 0; r < rounds; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        if (pid < 0) { perror("fork"); return 1; }
        total += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        waitpid(pid, NULL, 0);
    }
    printf("%d %.9f\n", rounds, total);
    return 0;
}
