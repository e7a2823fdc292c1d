/* Reference for the lackey-import benchmark: read a text file line by line with fgets and
 * count the lines, as the plainest C program would. Prints "LINES SECONDS" (CPU seconds). */
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: fgets_loop FILE\n"); return 2; }
    FILE *f = fopen(argv[1], "r");
    if (!f) { perror(argv[1]); return 1; }
    static char line[4096];
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    long n = 0;
    while (fgets(line, sizeof line, f)) n++;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    printf("%ld %.6f\n", n, (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
