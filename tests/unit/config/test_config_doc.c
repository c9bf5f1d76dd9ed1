/* docs/CONFIG.md, generated from the config schema (pd_config_write_doc).
 *
 *   test_config_doc                 print the generated text
 *   test_config_doc --write FILE    write it to FILE (regenerate docs/CONFIG.md)
 *   test_config_doc --check FILE    exit 1 unless FILE equals the generated text (the test) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "pd_test.h"

/* *out = the generated document (malloc'ed). */
static pd_status generate(pd_ctx *ctx, char **out)
{
    size_t len = 0;
    *out = NULL;
    FILE *f = open_memstream(out, &len);
    if (!f) return PD_ERR_NOMEM;
    pd_status st = pd_config_write_doc(ctx, f);
    if (fclose(f) != 0 && st == PD_OK) st = PD_ERR_NOMEM;
    return st;
}

/* *out = the contents of path, or NULL when it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, (cap *= 2) + 1);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

/* 1-based line where a and b first differ. */
static int first_diff_line(const char *a, const char *b)
{
    int line = 1;
    for (; *a && *a == *b; a++, b++)
        if (*a == '\n') line++;
    return line;
}

static int check(const char *doc, const char *path)
{
    char *have = slurp(path);
    if (!have) {
        fprintf(stderr, "FAIL: cannot read %s\n", path);
        return 1;
    }
    int bad = strcmp(have, doc) != 0;
    if (bad)
        fprintf(stderr,
                "FAIL: %s differs from the schema's documentation from line %d on; regenerate it:\n"
                "  build/pintdiff config-doc > %s\n",
                path, first_diff_line(have, doc), path);
    else
        printf("ok: %s is up to date\n", path);
    free(have);
    return bad;
}

int main(int argc, char **argv)
{
    pd_ctx *ctx = pd_ctx_create();
    char *doc = NULL;
    int rc = 0;
    if (!ctx) return 1;
    if (generate(ctx, &doc) != PD_OK) {
        fprintf(stderr, "FAIL: generating the documentation: %s\n", pd_ctx_message(ctx));
        rc = 1;
    } else if (argc == 3 && !strcmp(argv[1], "--check")) {
        rc = check(doc, argv[2]);
    } else if (argc == 3 && !strcmp(argv[1], "--write")) {
        FILE *f = fopen(argv[2], "wb");
        rc = !f || fputs(doc, f) < 0;
        if (f && fclose(f) != 0) rc = 1;
        if (rc) fprintf(stderr, "cannot write %s\n", argv[2]);
    } else if (argc == 1) {
        fputs(doc, stdout);
    } else {
        fprintf(stderr, "usage: %s [--check FILE | --write FILE]\n", argv[0]);
        rc = 2;
    }
    free(doc);
    pd_ctx_destroy(&ctx);
    return rc;
}
