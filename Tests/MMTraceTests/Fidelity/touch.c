/* Fidelity program: maps PAGES anonymous pages and touches each once (write of one byte per
 * page), sequentially or in a pseudo-random order, or forks and has the child write every
 * page of memory the parent had written (COW faults), or writes a file of PAGES pages, maps it
 * read-only and reads one byte per page (file faults, with fault-around). Between two
 * getrusage() calls it does nothing but the touching; it prints the minor and major faults
 * taken in between:
 *   touch seq|rand|fork|file PAGES   ->  "minflt N majflt M"
 * mmsim's fidelity test runs it natively and under `mmsim trace`, and compares the kernel's
 * counts with the replay's counts between the same two getrusage() calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static long pages;

/* Waits until the parent is blocked in waitpid(), so that under valgrind no line of the
 * parent's can fall inside the child's window: /proc/PPID/wchan names do_wait. (State S in
 * /proc/PPID/stat is not enough: under load the parent also sleeps in write() when the log
 * pipe is full, with lines still to write.) Where wchan is hidden ("0"), falls back to state S.
 * Gives up after 60 s. */
static void wait_parent_blocked(void) {
    char wpath[64], spath[64];
    snprintf(wpath, sizeof wpath, "/proc/%d/wchan", (int)getppid());
    snprintf(spath, sizeof spath, "/proc/%d/stat", (int)getppid());
    for (int i = 0; i < 6000; i++) {
        char buf[512];
        FILE *f = fopen(wpath, "r");
        if (!f) return;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        if (strcmp(buf, "do_wait") == 0) return;
        if (strcmp(buf, "0") == 0 || n == 0) {
            f = fopen(spath, "r");
            if (!f) return;
            n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = 0;
            char *p = strrchr(buf, ')');
            if (p && p[1] == ' ' && p[2] == 'S') return;
        }
        usleep(10000);
    }
}
static char *mem;

static void window(const char *mode, unsigned long *order) {
    struct rusage a, b;
    volatile char sink = 0;
    getrusage(RUSAGE_SELF, &a);
    if (strcmp(mode, "file") == 0) {
        for (long i = 0; i < pages; i++) sink += mem[i * 4096];
    } else if (strcmp(mode, "rand") == 0) {
        for (long i = 0; i < pages; i++) mem[order[i] * 4096] = 1;
    } else {
        for (long i = 0; i < pages; i++) mem[i * 4096] = 1;
    }
    getrusage(RUSAGE_SELF, &b);
    printf("minflt %ld majflt %ld\n", b.ru_minflt - a.ru_minflt, b.ru_majflt - a.ru_majflt);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: touch seq|rand|fork|file PAGES\n"); return 2; }
    pages = atol(argv[2]);
    if (pages <= 0) return 2;
    unsigned long *order = NULL;
    if (strcmp(argv[1], "rand") == 0) {
        /* A permutation of the pages (Fisher-Yates with a fixed LCG), built before the window. */
        order = malloc(pages * sizeof *order);
        for (long i = 0; i < pages; i++) order[i] = i;
        unsigned long x = 12345;
        for (long i = pages - 1; i > 0; i--) {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            long j = (long)((x >> 33) % (unsigned long)(i + 1));
            unsigned long t = order[i]; order[i] = order[j]; order[j] = t;
        }
    }
    if (strcmp(argv[1], "file") == 0) {
        /* The file's pages are in the page cache after write(): the read faults map them. */
        char path[] = "/tmp/mmsim-touch-XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0) { perror("mkstemp"); return 1; }
        static char buf[65536];
        memset(buf, 'x', sizeof buf);
        for (long done = 0; done < pages * 4096; ) {
            long n = pages * 4096 - done < (long)sizeof buf ? pages * 4096 - done : (long)sizeof buf;
            if (write(fd, buf, n) != n) { perror("write"); return 1; }
            done += n;
        }
        mem = mmap(NULL, pages * 4096, PROT_READ, MAP_SHARED, fd, 0);
        if (mem == MAP_FAILED) { perror("mmap"); return 1; }
        window("file", NULL);
        unlink(path);
        return 0;
    }
    mem = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) { perror("mmap"); return 1; }
    if (strcmp(argv[1], "fork") == 0) {
        for (long i = 0; i < pages; i++) mem[i * 4096] = 2;   /* the parent's pages */
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) {
            wait_parent_blocked();     /* the parent is in waitpid() */
            window("seq", NULL);       /* every write is a COW fault */
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        return 0;
    }
    window(argv[1], order);
    return 0;
}
