/* pintdiff tests: a few expectation helpers. Each returns 1 on failure (after printing what was
 * expected and what was found) so that a test sums its failures and exits non-zero if any. */
#ifndef PD_TEST_H
#define PD_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PD_SKIP 77 /* CTest SKIP_RETURN_CODE */

static inline int pd_expect_true(int cond, const char *what)
{
    if (!cond) fprintf(stderr, "FAIL: %s\n", what);
    return !cond;
}

/* |got - want| <= tol */
static inline int pd_expect_near(double got, double want, double tol, const char *what)
{
    int bad = !(fabs(got - want) <= tol);
    if (bad) fprintf(stderr, "FAIL: %s: got %.10g, want %.10g (tol %.3g)\n", what, got, want, tol);
    else printf("ok: %s: %.6g (want %.6g +- %.3g)\n", what, got, want, tol);
    return bad;
}

/* got <= bound */
static inline int pd_expect_le(double got, double bound, const char *what)
{
    int bad = !(got <= bound);
    if (bad) fprintf(stderr, "FAIL: %s: got %.10g, want <= %.10g\n", what, got, bound);
    else printf("ok: %s: %.6g (<= %.6g)\n", what, got, bound);
    return bad;
}

static inline int pd_expect_contains(const char *text, const char *needle, const char *what)
{
    int bad = !text || !strstr(text, needle);
    if (bad) fprintf(stderr, "FAIL: %s: expected \"%s\" in \"%s\"\n", what, needle, text ? text : "(null)");
    return bad;
}

#define PD_TEST_CHECK(ctx, call)                                                                   \
    do {                                                                                           \
        pd_status s_ = (call);                                                                     \
        if (s_ != PD_OK) {                                                                         \
            fprintf(stderr, "FAIL: %s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call,              \
                    pd_status_name(s_), pd_ctx_message(ctx));                                      \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#endif
