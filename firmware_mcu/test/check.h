/* Minimal assertion helpers for the host unit tests (abort with file:line on the first failure). */
#ifndef SWIVEL_CHECK_H
#define SWIVEL_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int checks_run;
#define CHECK(cond) do { checks_run++; if (!(cond)) { \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); exit(1); } } while (0)
#define CHECK_MSG(cond, ...) do { checks_run++; if (!(cond)) { \
    fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } } while (0)
#define DONE(name) do { printf("%s: %d checks passed\n", name, checks_run); return 0; } while (0)

/* Small deterministic PRNG so failures reproduce. */
static unsigned long rng_state = 12345;
static inline unsigned rnd(void) { rng_state = rng_state * 1103515245UL + 12345UL; return (unsigned)(rng_state >> 16) & 0x7FFF; }

#endif
