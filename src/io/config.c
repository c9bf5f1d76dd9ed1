/* pintdiff: the job configuration: loading (libyaml document API), --set, validation, YAML and
 * Markdown writers. Everything is driven by the schema table in config_schema.c: a key is parsed,
 * checked, written, compared and documented by its row's type, range and values. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "io/config.h"
#include "pintdiff/solver.h"

/* ----- where values come from, and messages that say so ----- */

typedef enum { SRC_FILE, SRC_SET, SRC_DEFAULT } cfg_src_kind;

typedef struct cfg_src {
    cfg_src_kind kind;
    const char *name; /* SRC_FILE: the file (or text) name */
} cfg_src;

#define MSG_MAX 2048

static void cat(char *buf, size_t n, const char *s)
{
    size_t len = strlen(buf);
    if (len + 1 < n) snprintf(buf + len, n - len, "%s", s);
}

/* PD_ERR_INPUT, the message led by "file:line: section.key: " ("--set section.key: " for --set;
 * no line when line is 0; sec and key may be NULL). */
static pd_status cfg_vfail(pd_ctx *ctx, const cfg_src *src, int line, const char *sec, const char *key,
                           const char *fmt, va_list ap)
{
    char where[512] = "", msg[MSG_MAX];
    char full[300];
    snprintf(full, sizeof full, "%s%s%s", sec ? sec : "", sec && key ? "." : "", key ? key : "");
    if (src->kind == SRC_SET)
        snprintf(where, sizeof where, "--set %s: ", full);
    else if (src->kind == SRC_DEFAULT)
        snprintf(where, sizeof where, "default of %s: ", full);
    else {
        if (line > 0)
            snprintf(where, sizeof where, "%s:%d: ", src->name, line);
        else
            snprintf(where, sizeof where, "%s: ", src->name);
        if (full[0]) {
            cat(where, sizeof where, full);
            cat(where, sizeof where, ": ");
        }
    }
    vsnprintf(msg, sizeof msg, fmt, ap);
    PD_FAIL(ctx, PD_ERR_INPUT, "%s%s", where, msg);
}

#if defined(__GNUC__)
__attribute__((format(printf, 6, 7)))
#endif
static pd_status
cfg_fail(pd_ctx *ctx, const cfg_src *src, int line, const char *sec, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pd_status st = cfg_vfail(ctx, src, line, sec, key, fmt, ap);
    va_end(ap);
    return st;
}

/* ----- schema helpers ----- */

static int schema_index(const pd_cfg_key *k)
{
    int n;
    return (int)(k - pd_config_schema(&n));
}

static int section_known(const char *sec)
{
    int n;
    const pd_cfg_key *s = pd_config_schema(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(s[i].section, sec)) return 1;
    return 0;
}

/* "model, schedule, ..." */
static void list_sections(char *buf, size_t len)
{
    int n;
    const pd_cfg_key *s = pd_config_schema(&n);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0 && !strcmp(s[i].section, s[i - 1].section)) continue;
        if (i > 0) cat(buf, len, ", ");
        cat(buf, len, s[i].section);
    }
}

/* "method, solver, ..." : the keys of section sec */
static void list_keys(const char *sec, char *buf, size_t len)
{
    int n;
    const pd_cfg_key *s = pd_config_schema(&n);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(s[i].section, sec)) continue;
        if (buf[0]) cat(buf, len, ", ");
        cat(buf, len, s[i].key);
    }
}

static void list_values(const char *const *v, const char *sep, const char *quote, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; v[i]; i++) {
        if (i > 0) cat(buf, len, sep);
        cat(buf, len, quote);
        cat(buf, len, v[i]);
        cat(buf, len, quote);
    }
}

/* Shortest text that reads back as exactly x. */
static void fmt_num(double x, char *buf, size_t n)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

static int is_integer_type(pd_cfg_type t)
{
    return t == PD_CFG_INT || t == PD_CFG_INT64 || t == PD_CFG_UINT64 || t == PD_CFG_INT_LIST;
}

/* "[1, 100000]", "> 0", "(0, 1]"; "" when unbounded */
static void fmt_bounds(const pd_cfg_key *k, char *buf, size_t n)
{
    char lo[40], hi[40];
    fmt_num(k->lo, lo, sizeof lo);
    fmt_num(k->hi, hi, sizeof hi);
    switch (k->bounds) {
    case PD_CFG_ANY:
        buf[0] = '\0';
        break;
    case PD_CFG_GE:
        snprintf(buf, n, ">= %s", lo);
        break;
    case PD_CFG_GT:
        snprintf(buf, n, "> %s", lo);
        break;
    case PD_CFG_CLOSED:
        snprintf(buf, n, "[%s, %s]", lo, hi);
        break;
    case PD_CFG_OPEN:
        snprintf(buf, n, "(%s, %s)", lo, hi);
        break;
    case PD_CFG_OPEN_CLOSED:
        snprintf(buf, n, "(%s, %s]", lo, hi);
        break;
    }
}

/* What one number of key k must be: "a positive number", "an integer in [1, 100000]". */
static void expect_number(const pd_cfg_key *k, char *buf, size_t n)
{
    int integer = is_integer_type(k->type);
    const char *noun = integer ? "an integer" : "a number";
    char b[100];
    fmt_bounds(k, b, sizeof b);
    if (k->bounds == PD_CFG_GT && k->lo == 0)
        snprintf(buf, n, "a positive %s", integer ? "integer" : "number");
    else if (k->bounds == PD_CFG_GE && k->lo == 0)
        snprintf(buf, n, "a non-negative %s", integer ? "integer" : "number");
    else if (k->bounds == PD_CFG_ANY)
        snprintf(buf, n, "%s", k->type == PD_CFG_UINT64 ? "a non-negative integer" : noun);
    else if (k->bounds == PD_CFG_GE || k->bounds == PD_CFG_GT)
        snprintf(buf, n, "%s %s", noun, b);
    else
        snprintf(buf, n, "%s in %s", noun, b);
}

/* What the value of key k must be, for "expected ..." */
static void expect_value(const pd_cfg_key *k, char *buf, size_t n)
{
    char v[512];
    switch (k->type) {
    case PD_CFG_BOOL:
        snprintf(buf, n, "true or false");
        break;
    case PD_CFG_STRING:
        snprintf(buf, n, "a string");
        break;
    case PD_CFG_ENUM:
        list_values(k->values, ", ", "", v, sizeof v);
        snprintf(buf, n, "one of %s", v);
        break;
    case PD_CFG_TRAJECTORY:
        snprintf(buf, n, "none, all, every:K with K >= 1, or boundaries");
        break;
    case PD_CFG_LIST:
        snprintf(buf, n, "a list of numbers");
        break;
    case PD_CFG_INT_LIST:
        snprintf(buf, n, "a list of integers");
        break;
    case PD_CFG_MATRIX:
        snprintf(buf, n, "a list of numbers or a list of equal-length lists of numbers");
        break;
    default:
        expect_number(k, buf, n);
        break;
    }
}

static int in_bounds(const pd_cfg_key *k, double x)
{
    switch (k->bounds) {
    case PD_CFG_ANY:
        return 1;
    case PD_CFG_GE:
        return x >= k->lo;
    case PD_CFG_GT:
        return x > k->lo;
    case PD_CFG_CLOSED:
        return x >= k->lo && x <= k->hi;
    case PD_CFG_OPEN:
        return x > k->lo && x < k->hi;
    case PD_CFG_OPEN_CLOSED:
        return x > k->lo && x <= k->hi;
    }
    return 0;
}

#define FIELD(cfg, k, T) ((T *)(void *)((char *)(cfg) + (k)->offset))
#define CFIELD(cfg, k, T) ((const T *)(const void *)((const char *)(cfg) + (k)->offset))

/* ----- YAML nodes ----- */

static int node_line(const yaml_node_t *v)
{
    return (int)v->start_mark.line + 1;
}

static const char *scalar_text(const yaml_node_t *v)
{
    return v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
}

/* A plain empty, ~ or null scalar. */
static int is_null(const yaml_node_t *v)
{
    const char *s = scalar_text(v);
    if (!s || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* "\"text\"", "a list", "a mapping" for "got ..." */
static void describe(const yaml_node_t *v, char *buf, size_t n)
{
    const char *s = scalar_text(v);
    if (v->type == YAML_SEQUENCE_NODE)
        snprintf(buf, n, "a list");
    else if (v->type == YAML_MAPPING_NODE)
        snprintf(buf, n, "a mapping");
    else if (strlen(s) > 60)
        snprintf(buf, n, "\"%.57s...\"", s);
    else
        snprintf(buf, n, "\"%s\"", s);
}

static int seq_len(const yaml_node_t *v)
{
    return (int)(v->data.sequence.items.top - v->data.sequence.items.start);
}

static yaml_node_t *seq_item(yaml_document_t *doc, const yaml_node_t *v, int i)
{
    return yaml_document_get_node(doc, v->data.sequence.items.start[i]);
}

/* ----- scalars ----- */

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+')) return 0;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end) return 0;
    *out = (int64_t)x;
    return 1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!(*s >= '0' && *s <= '9') && *s != '+') return 0;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end) return 0;
    *out = (uint64_t)x;
    return 1;
}

static int parse_f64(const char *s, double *out)
{
    char *end;
    if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.')) return 0;
    double x = strtod(s, &end);
    if (end == s || *end || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

/* A number of key k from s, within the key's bounds (and the range of its C type). */
static int parse_number(const pd_cfg_key *k, const char *s, double *as_double, int64_t *i64, uint64_t *u64)
{
    switch (k->type) {
    case PD_CFG_UINT64:
        return parse_u64(s, u64);
    case PD_CFG_INT:
        if (!parse_i64(s, i64) || *i64 < INT_MIN || *i64 > INT_MAX) return 0;
        *as_double = (double)*i64;
        return in_bounds(k, *as_double);
    case PD_CFG_INT64:
    case PD_CFG_INT_LIST:
        if (!parse_i64(s, i64)) return 0;
        *as_double = (double)*i64;
        return in_bounds(k, *as_double);
    default:
        return parse_f64(s, as_double) && in_bounds(k, *as_double);
    }
}

static pd_status set_string(pd_ctx *ctx, char **field, const char *s)
{
    char *copy = strdup(s);
    if (!copy) PD_FAIL(ctx, PD_ERR_NOMEM, "out of memory copying a config string");
    free(*field);
    *field = copy;
    return PD_OK;
}

static int parse_enum(const pd_cfg_key *k, const char *s, int *out)
{
    for (int i = 0; k->values[i]; i++)
        if (!strcmp(k->values[i], s)) {
            *out = i;
            return 1;
        }
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *out = 0;
    else
        return 0;
    return 1;
}

/* "none" -> 0, "all" -> 1, "every:K" -> K, "boundaries" -> PD_TRAJ_BOUNDARIES; canon = the text
 * written back */
static int parse_trajectory(const char *s, int *every, char *canon, size_t n)
{
    int64_t k;
    if (!strcmp(s, "none"))
        *every = 0;
    else if (!strcmp(s, "all"))
        *every = 1;
    else if (!strcmp(s, "boundaries"))
        *every = PD_TRAJ_BOUNDARIES;
    else if (!strncmp(s, "every:", 6) && parse_i64(s + 6, &k) && k >= 1 && k <= INT_MAX)
        *every = (int)k;
    else
        return 0;
    if (!strncmp(s, "every:", 6))
        snprintf(canon, n, "every:%d", *every);
    else
        snprintf(canon, n, "%s", s);
    return 1;
}

/* Store scalar v (not a list type) into key k of cfg; 0 when v is not a valid value. */
static int store_scalar(pd_ctx *ctx, pd_config *cfg, const pd_cfg_key *k, const yaml_node_t *v, pd_status *st)
{
    const char *s = scalar_text(v);
    double d;
    int64_t i64;
    uint64_t u64;
    int iv;
    char canon[64];
    *st = PD_OK;
    switch (k->type) {
    case PD_CFG_STRING:
        if (strlen(s) != v->data.scalar.length) return 0; /* embedded NUL */
        *st = set_string(ctx, FIELD(cfg, k, char *), is_null(v) ? "" : s);
        return 1;
    case PD_CFG_TRAJECTORY:
        if (!parse_trajectory(s, &iv, canon, sizeof canon)) return 0;
        *(int *)(void *)((char *)cfg + k->offset2) = iv;
        *st = set_string(ctx, FIELD(cfg, k, char *), canon);
        return 1;
    case PD_CFG_BOOL:
        if (!parse_bool(s, &iv)) return 0;
        *FIELD(cfg, k, int) = iv;
        return 1;
    case PD_CFG_ENUM:
        if (!parse_enum(k, s, &iv)) return 0;
        *FIELD(cfg, k, int) = iv;
        return 1;
    default:
        break;
    }
    if (!parse_number(k, s, &d, &i64, &u64)) return 0;
    if (k->type == PD_CFG_INT)
        *FIELD(cfg, k, int) = (int)i64;
    else if (k->type == PD_CFG_INT64)
        *FIELD(cfg, k, int64_t) = i64;
    else if (k->type == PD_CFG_UINT64)
        *FIELD(cfg, k, uint64_t) = u64;
    else
        *FIELD(cfg, k, double) = d;
    return 1;
}

/* ----- lists ----- */

/* Element i of a list key (in row r, column c for a matrix): a number within bounds. */
static pd_status read_element(pd_ctx *ctx, const pd_cfg_key *k, const yaml_node_t *e, const char *index,
                              double *out, const cfg_src *src)
{
    char key[200], want[200], got[100];
    double d;
    int64_t i64;
    uint64_t u64;
    const char *s = scalar_text(e);
    if (s && parse_number(k, s, &d, &i64, &u64)) {
        *out = d;
        return PD_OK;
    }
    snprintf(key, sizeof key, "%s%s", k->key, index);
    expect_number(k, want, sizeof want);
    describe(e, got, sizeof got);
    return cfg_fail(ctx, src, node_line(e), k->section, key, "expected %s, got %s", want, got);
}

/* The shape of list v: rows x cols; cols = 0 for a flat list (a matrix of one column). */
static pd_status list_shape(pd_ctx *ctx, const pd_cfg_key *k, yaml_document_t *doc, const yaml_node_t *v,
                            int *rows, int *cols, const cfg_src *src)
{
    int n = seq_len(v), nested = 0;
    for (int i = 0; i < n; i++)
        nested += seq_item(doc, v, i)->type == YAML_SEQUENCE_NODE;
    *rows = n;
    *cols = 0;
    if (nested == 0) return PD_OK;
    if (k->type != PD_CFG_MATRIX || nested != n) {
        char want[200];
        expect_value(k, want, sizeof want);
        return cfg_fail(ctx, src, node_line(v), k->section, k->key, "expected %s, got nested lists", want);
    }
    *cols = seq_len(seq_item(doc, v, 0));
    for (int i = 0; i < n; i++) {
        int c = seq_len(seq_item(doc, v, i));
        if (c != *cols || c == 0)
            return cfg_fail(ctx, src, node_line(seq_item(doc, v, i)), k->section, k->key,
                            "expected rows of equal, non-zero length, row 0 has %d numbers and row %d has %d",
                            *cols, i, c);
    }
    return PD_OK;
}

static pd_status read_list(pd_ctx *ctx, const pd_cfg_key *k, yaml_document_t *doc, const yaml_node_t *v,
                           pd_cfg_array *out, const cfg_src *src)
{
    int rows, cols;
    pd_status st = PD_OK;
    PD_TRY(list_shape(ctx, k, doc, v, &rows, &cols, src));
    double *data = malloc((size_t)rows * (size_t)(cols ? cols : 1) * sizeof *data);
    if (!data) PD_FAIL(ctx, PD_ERR_NOMEM, "out of memory reading %s.%s", k->section, k->key);
    for (int i = 0; i < rows && st == PD_OK; i++) {
        const yaml_node_t *row = seq_item(doc, v, i);
        char index[40];
        if (!cols) {
            snprintf(index, sizeof index, "[%d]", i);
            st = read_element(ctx, k, row, index, &data[i], src);
        }
        for (int j = 0; j < cols && st == PD_OK; j++) {
            snprintf(index, sizeof index, "[%d][%d]", i, j);
            st = read_element(ctx, k, seq_item(doc, row, j), index, &data[(size_t)i * cols + j], src);
        }
    }
    if (st != PD_OK) {
        free(data);
        return st;
    }
    *out = (pd_cfg_array){.rows = rows, .cols = cols ? cols : 1, .data = data};
    return PD_OK;
}

static void array_free(pd_cfg_array *a)
{
    free(a->data);
    *a = (pd_cfg_array){0, 0, NULL};
}

/* A list key: null or [] = absent. */
static pd_status store_list(pd_ctx *ctx, pd_config *cfg, const pd_cfg_key *k, yaml_document_t *doc,
                            const yaml_node_t *v, const cfg_src *src)
{
    pd_cfg_array a = {0, 0, NULL};
    if (!is_null(v)) {
        if (v->type != YAML_SEQUENCE_NODE) {
            char want[200], got[100];
            expect_value(k, want, sizeof want);
            describe(v, got, sizeof got);
            return cfg_fail(ctx, src, node_line(v), k->section, k->key, "expected %s, got %s", want, got);
        }
        if (seq_len(v) > 0) PD_TRY(read_list(ctx, k, doc, v, &a, src));
    }
    array_free(FIELD(cfg, k, pd_cfg_array));
    *FIELD(cfg, k, pd_cfg_array) = a;
    return PD_OK;
}

/* ----- one value ----- */

/* Store YAML value v into key k of cfg, and note where it came from. */
static pd_status apply_value(pd_ctx *ctx, pd_config *cfg, const pd_cfg_key *k, yaml_document_t *doc,
                             const yaml_node_t *v, const cfg_src *src)
{
    pd_status st = PD_OK;
    int line = node_line(v);
    if (k->type == PD_CFG_LIST || k->type == PD_CFG_INT_LIST || k->type == PD_CFG_MATRIX) {
        PD_TRY(store_list(ctx, cfg, k, doc, v, src));
    } else if (v->type != YAML_SCALAR_NODE || !store_scalar(ctx, cfg, k, v, &st)) {
        char want[600], got[100];
        expect_value(k, want, sizeof want);
        describe(v, got, sizeof got);
        return cfg_fail(ctx, src, line, k->section, k->key, "expected %s, got %s", want, got);
    }
    PD_TRY(st);
    cfg->origin[schema_index(k)] = src->kind == SRC_FILE ? line : src->kind == SRC_SET ? PD_CFG_FROM_SET : 0;
    return PD_OK;
}

/* ----- documents ----- */

static pd_status syntax_error(pd_ctx *ctx, const yaml_parser_t *p, const pd_cfg_key *k, const cfg_src *src)
{
    const char *sec = k ? k->section : NULL, *key = k ? k->key : NULL;
    char context[200] = "";
    if (p->error == YAML_MEMORY_ERROR) PD_FAIL(ctx, PD_ERR_NOMEM, "out of memory parsing YAML");
    if (p->error == YAML_READER_ERROR)
        return cfg_fail(ctx, src, 0, sec, key, "invalid YAML input: %s (at byte %zu)",
                        p->problem ? p->problem : "unknown error", p->problem_offset);
    if (p->context && src->kind == SRC_FILE)
        snprintf(context, sizeof context, " (%s started on line %zu)", p->context, p->context_mark.line + 1);
    else if (p->context)
        snprintf(context, sizeof context, " (%s)", p->context);
    return cfg_fail(ctx, src, (int)p->problem_mark.line + 1, sec, key, "invalid YAML: %s%s",
                    p->problem ? p->problem : "unknown error", context);
}

/* Line of an earlier key of mapping m equal to pair i's key, or 0 when it is the first. */
static int duplicate_line(yaml_document_t *doc, const yaml_node_t *m, const yaml_node_pair_t *pair)
{
    const char *name = scalar_text(yaml_document_get_node(doc, pair->key));
    for (const yaml_node_pair_t *q = m->data.mapping.pairs.start; q < pair; q++) {
        const yaml_node_t *k = yaml_document_get_node(doc, q->key);
        if (scalar_text(k) && !strcmp(scalar_text(k), name)) return node_line(k);
    }
    return 0;
}

/* Key node of a mapping: a scalar, else an error naming what it is. */
static pd_status key_name(pd_ctx *ctx, const yaml_node_t *kn, const char *sec, const cfg_src *src,
                          const char **name)
{
    char got[100];
    *name = scalar_text(kn);
    if (*name) return PD_OK;
    describe(kn, got, sizeof got);
    return cfg_fail(ctx, src, node_line(kn), sec, NULL, "expected a %s name, got %s", sec ? "key" : "section",
                    got);
}

static pd_status load_section(pd_ctx *ctx, pd_config *cfg, yaml_document_t *doc, const char *sec,
                              const yaml_node_t *m, const cfg_src *src)
{
    char buf[1024];
    if (is_null(m)) return PD_OK; /* "sampler:" with no keys */
    if (m->type != YAML_MAPPING_NODE) {
        describe(m, buf, sizeof buf);
        return cfg_fail(ctx, src, node_line(m), sec, NULL, "expected a mapping of keys, got %s", buf);
    }
    for (const yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        const char *name;
        PD_TRY(key_name(ctx, kn, sec, src, &name));
        const pd_cfg_key *k = pd_config_schema_find(sec, name);
        if (!k) {
            list_keys(sec, buf, sizeof buf);
            return cfg_fail(ctx, src, node_line(kn), sec, name, "unknown key (known in %s: %s)", sec, buf);
        }
        int first = duplicate_line(doc, m, p);
        if (first)
            return cfg_fail(ctx, src, node_line(kn), sec, name, "duplicate key (first on line %d)", first);
        PD_TRY(apply_value(ctx, cfg, k, doc, yaml_document_get_node(doc, p->value), src));
    }
    return PD_OK;
}

static pd_status load_document(pd_ctx *ctx, pd_config *cfg, yaml_document_t *doc, const cfg_src *src)
{
    char buf[512];
    const yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root || is_null(root)) return PD_OK; /* empty file: all defaults */
    if (root->type != YAML_MAPPING_NODE) {
        describe(root, buf, sizeof buf);
        return cfg_fail(ctx, src, node_line(root), NULL, NULL,
                        "expected a mapping of sections (model, schedule, ...), got %s", buf);
    }
    for (const yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        const char *sec;
        PD_TRY(key_name(ctx, kn, NULL, src, &sec));
        if (!section_known(sec)) {
            list_sections(buf, sizeof buf);
            return cfg_fail(ctx, src, node_line(kn), sec, NULL, "unknown section (known: %s)", buf);
        }
        int first = duplicate_line(doc, root, p);
        if (first)
            return cfg_fail(ctx, src, node_line(kn), sec, NULL, "duplicate section (first on line %d)",
                            first);
        PD_TRY(load_section(ctx, cfg, doc, sec, yaml_document_get_node(doc, p->value), src));
    }
    return PD_OK;
}

/* The one document of the parser's stream (an empty stream gives an empty document). */
static pd_status load_stream(pd_ctx *ctx, pd_config *cfg, yaml_parser_t *p, const cfg_src *src)
{
    yaml_document_t doc;
    if (!yaml_parser_load(p, &doc)) return syntax_error(ctx, p, NULL, src);
    pd_status st = load_document(ctx, cfg, &doc, src);
    yaml_document_delete(&doc);
    PD_TRY(st);
    if (!yaml_parser_load(p, &doc)) return syntax_error(ctx, p, NULL, src);
    const yaml_node_t *extra = yaml_document_get_root_node(&doc);
    int line = extra ? node_line(extra) : 0;
    yaml_document_delete(&doc);
    if (extra) return cfg_fail(ctx, src, line, NULL, NULL, "expected one YAML document, found a second");
    return PD_OK;
}

/* Load len bytes of YAML text; name is the file name used in messages. */
static pd_status load_buffer(pd_ctx *ctx, pd_config *cfg, const char *text, size_t len, const char *name)
{
    yaml_parser_t p;
    cfg_src src = {SRC_FILE, name};
    PD_TRY(set_string(ctx, &cfg->source, name));
    if (!yaml_parser_initialize(&p)) PD_FAIL(ctx, PD_ERR_NOMEM, "out of memory starting the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    pd_status st = load_stream(ctx, cfg, &p, &src);
    yaml_parser_delete(&p);
    return st;
}

pd_status pd_config_load_text(pd_ctx *ctx, pd_config *cfg, const char *text, const char *name)
{
    return load_buffer(ctx, cfg, text, strlen(text), name);
}

/* *out = the whole of f (malloc'ed), *len its size; works on pipes too. */
static pd_status read_all(pd_ctx *ctx, FILE *f, const char *path, char **out, size_t *len)
{
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap), *bigger;
    if (!buf) PD_FAIL(ctx, PD_ERR_NOMEM, "out of memory reading %s", path);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n < cap) continue;
        if (!(bigger = realloc(buf, cap *= 2))) {
            free(buf);
            PD_FAIL(ctx, PD_ERR_NOMEM, "out of memory reading %s", path);
        }
        buf = bigger;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        PD_FAIL(ctx, PD_ERR_INPUT, "cannot read %s: %s", path, strerror(e));
    }
    *out = buf;
    *len = n;
    return PD_OK;
}

pd_status pd_config_load_file(pd_ctx *ctx, pd_config *cfg, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) PD_FAIL(ctx, PD_ERR_INPUT, "cannot open %s: %s", path, strerror(errno));
    pd_status st = read_all(ctx, f, path, &text, &len);
    fclose(f);
    if (st == PD_OK) st = load_buffer(ctx, cfg, text, len, path);
    free(text);
    return st;
}

/* Parse text as one YAML value and store it in key k (a --set value, or a default). */
static pd_status set_from_text(pd_ctx *ctx, pd_config *cfg, const pd_cfg_key *k, const char *text,
                               const cfg_src *src)
{
    yaml_parser_t p;
    yaml_document_t doc;
    pd_status st;
    if (!yaml_parser_initialize(&p)) PD_FAIL(ctx, PD_ERR_NOMEM, "out of memory starting the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&p, &doc)) {
        st = syntax_error(ctx, &p, k, src);
        yaml_parser_delete(&p);
        return st;
    }
    const yaml_node_t *v = yaml_document_get_root_node(&doc);
    yaml_node_t empty = {.type = YAML_SCALAR_NODE};
    if (!v) { /* "key=" : an empty plain scalar */
        empty.data.scalar.value = (yaml_char_t *)"";
        empty.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
        v = &empty;
    }
    st = apply_value(ctx, cfg, k, &doc, v, src);
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return st;
}

pd_status pd_config_set(pd_ctx *ctx, pd_config *cfg, const char *assignment)
{
    cfg_src src = {SRC_SET, NULL};
    char name[256], buf[1024];
    const char *eq = strchr(assignment, '=');
    size_t len = eq ? (size_t)(eq - assignment) : strlen(assignment);
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), assignment);
    char *dot = strchr(name, '.');
    if (!eq || !dot || len >= sizeof name)
        return cfg_fail(ctx, &src, 0, name, NULL, "expected section.key=value");
    *dot = '\0';
    if (!section_known(name)) {
        list_sections(buf, sizeof buf);
        return cfg_fail(ctx, &src, 0, name, dot + 1, "unknown section (known: %s)", buf);
    }
    const pd_cfg_key *k = pd_config_schema_find(name, dot + 1);
    if (!k) {
        list_keys(name, buf, sizeof buf);
        return cfg_fail(ctx, &src, 0, name, dot + 1, "unknown key (known in %s: %s)", name, buf);
    }
    return set_from_text(ctx, cfg, k, eq + 1, &src);
}

/* ----- init, free, compare ----- */

pd_status pd_config_init(pd_ctx *ctx, pd_config *cfg)
{
    int n;
    const pd_cfg_key *s = pd_config_schema(&n);
    const cfg_src src = {SRC_DEFAULT, NULL};
    memset(cfg, 0, sizeof *cfg);
    pd_status st = set_string(ctx, &cfg->source, "<default>");
    for (int i = 0; i < n && st == PD_OK; i++)
        st = set_from_text(ctx, cfg, &s[i], s[i].def, &src);
    if (st != PD_OK) pd_config_free(cfg);
    return st;
}

static int is_list_type(pd_cfg_type t)
{
    return t == PD_CFG_LIST || t == PD_CFG_INT_LIST || t == PD_CFG_MATRIX;
}

void pd_config_free(pd_config *cfg)
{
    int n;
    const pd_cfg_key *s = pd_config_schema(&n);
    if (!cfg) return;
    for (int i = 0; i < n; i++) {
        if (s[i].type == PD_CFG_STRING || s[i].type == PD_CFG_TRAJECTORY) free(*FIELD(cfg, &s[i], char *));
        if (is_list_type(s[i].type)) free(FIELD(cfg, &s[i], pd_cfg_array)->data);
    }
    free(cfg->source);
    memset(cfg, 0, sizeof *cfg);
}

static int str_equal(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int array_equal(const pd_cfg_array *a, const pd_cfg_array *b)
{
    if (a->rows != b->rows || a->cols != b->cols || !a->data != !b->data) return 0;
    for (long i = 0; i < (long)a->rows * a->cols; i++)
        if (a->data[i] != b->data[i]) return 0;
    return 1;
}

static int key_equal(const pd_config *a, const pd_config *b, const pd_cfg_key *k)
{
    switch (k->type) {
    case PD_CFG_INT:
    case PD_CFG_BOOL:
    case PD_CFG_ENUM:
        return *CFIELD(a, k, int) == *CFIELD(b, k, int);
    case PD_CFG_INT64:
        return *CFIELD(a, k, int64_t) == *CFIELD(b, k, int64_t);
    case PD_CFG_UINT64:
        return *CFIELD(a, k, uint64_t) == *CFIELD(b, k, uint64_t);
    case PD_CFG_DOUBLE:
        return *CFIELD(a, k, double) == *CFIELD(b, k, double);
    case PD_CFG_STRING:
        return str_equal(*CFIELD(a, k, char *), *CFIELD(b, k, char *));
    case PD_CFG_TRAJECTORY:
        return str_equal(*CFIELD(a, k, char *), *CFIELD(b, k, char *)) &&
               *(const int *)(const void *)((const char *)a + k->offset2) ==
                   *(const int *)(const void *)((const char *)b + k->offset2);
    default:
        return array_equal(CFIELD(a, k, pd_cfg_array), CFIELD(b, k, pd_cfg_array));
    }
}

int pd_config_equal(const pd_config *a, const pd_config *b)
{
    int n;
    const pd_cfg_key *s = pd_config_schema(&n);
    for (int i = 0; i < n; i++)
        if (!key_equal(a, b, &s[i])) return 0;
    return 1;
}

/* ----- validation: checks across keys, each naming a key and where it was set ----- */

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static pd_status
vfail(pd_ctx *ctx, const pd_config *cfg, const char *sec, const char *key, const char *fmt, ...)
{
    const pd_cfg_key *k = pd_config_schema_find(sec, key);
    int origin = k ? cfg->origin[schema_index(k)] : 0;
    cfg_src src = {origin == PD_CFG_FROM_SET ? SRC_SET : SRC_FILE, cfg->source ? cfg->source : "<default>"};
    va_list ap;
    va_start(ap, fmt);
    pd_status st = cfg_vfail(ctx, &src, origin > 0 ? origin : 0, sec, key, fmt, ap);
    va_end(ap);
    return st;
}

static const char *enum_name(const char *sec, const char *key, int v)
{
    return pd_config_schema_find(sec, key)->values[v];
}

static pd_status check_less(pd_ctx *ctx, const pd_config *cfg, const char *key_lo, double lo,
                            const char *key_hi, double hi)
{
    char a[40], b[40];
    if (lo < hi) return PD_OK;
    fmt_num(lo, a, sizeof a);
    fmt_num(hi, b, sizeof b);
    return vfail(ctx, cfg, "schedule", key_lo, "expected less than schedule.%s (%s), got %s", key_hi, b, a);
}

static pd_status check_spacing(pd_ctx *ctx, const pd_config *cfg)
{
    pd_schedule_kind kind = cfg->schedule.kind;
    pd_spacing sp = cfg->sampler.spacing;
    char allowed[256] = "";
    if (pd_config_spacing_allowed(kind, sp)) return PD_OK;
    const char *const *names = pd_config_schema_find("sampler", "spacing")->values;
    for (int i = 0; names[i]; i++) {
        if (!pd_config_spacing_allowed(kind, (pd_spacing)i)) continue;
        if (allowed[0]) cat(allowed, sizeof allowed, ", ");
        cat(allowed, sizeof allowed, names[i]);
    }
    const char *kname = enum_name("schedule", "kind", kind), *sname = names[sp];
    /* name the key the user set: spacing, or the schedule when spacing is the default */
    if (cfg->origin[schema_index(pd_config_schema_find("sampler", "spacing"))] == 0)
        return vfail(ctx, cfg, "schedule", "kind",
                     "%s does not allow sampler.spacing %s (the default; allowed: %s)", kname, sname,
                     allowed);
    return vfail(ctx, cfg, "sampler", "spacing", "%s is not allowed with schedule.kind %s (allowed: %s)",
                 sname, kname, allowed);
}

static pd_status check_schedule(pd_ctx *ctx, const pd_config *cfg)
{
    PD_TRY(check_less(ctx, cfg, "beta_start", cfg->schedule.beta_start, "beta_end", cfg->schedule.beta_end));
    PD_TRY(check_less(ctx, cfg, "beta_min", cfg->schedule.beta_min, "beta_max", cfg->schedule.beta_max));
    PD_TRY(check_less(ctx, cfg, "t_min", cfg->schedule.t_min, "t_max", cfg->schedule.t_max));
    PD_TRY(check_less(ctx, cfg, "sigma_min", cfg->schedule.sigma_min, "sigma_max", cfg->schedule.sigma_max));
    if (pd_config_schedule_discrete(cfg->schedule.kind) && cfg->sampler.steps > cfg->schedule.train_steps)
        return vfail(ctx, cfg, "sampler", "steps",
                     "expected at most schedule.train_steps (%d) on the discrete "
                     "schedule %s, got %d",
                     cfg->schedule.train_steps, enum_name("schedule", "kind", cfg->schedule.kind),
                     cfg->sampler.steps);
    if (cfg->schedule.kind == PD_SCHEDULE_PSLD && cfg->schedule.psld_gamma == cfg->schedule.psld_nu)
        return vfail(ctx, cfg, "schedule", "psld_nu", "expected a value other than schedule.psld_gamma (%g)",
                     cfg->schedule.psld_gamma);
    if (cfg->schedule.kind == PD_SCHEDULE_LI) {
        if (!(cfg->schedule.li_c0 > 0))
            return vfail(ctx, cfg, "schedule", "li_c0", "the li schedule needs li_c0 > 0 (no default), got %g",
                         cfg->schedule.li_c0);
        if (!(cfg->schedule.li_c1 > 0))
            return vfail(ctx, cfg, "schedule", "li_c1", "the li schedule needs li_c1 > 0 (no default), got %g",
                         cfg->schedule.li_c1);
        double r = cfg->schedule.li_c1 * log((double)cfg->schedule.train_steps) / cfg->schedule.train_steps;
        if (!(r < 1))
            return vfail(ctx, cfg, "schedule", "li_c1", "li_c1 log T / T = %g with T = train_steps = %d: expected < 1",
                         r, cfg->schedule.train_steps);
    }
    if (cfg->schedule.final == PD_FINAL_ALPHA0 && !pd_config_schedule_discrete(cfg->schedule.kind))
        return vfail(ctx, cfg, "schedule", "final",
                     "alpha0 needs a discrete schedule (ddpm-linear, ddpm-cosine, li), "
                     "got schedule.kind %s",
                     enum_name("schedule", "kind", cfg->schedule.kind));
    return check_spacing(ctx, cfg);
}

static pd_status check_solver(pd_ctx *ctx, const pd_config *cfg, const char *key, const char *name)
{
    if (pd_solver_find(name)) return PD_OK;
    return vfail(ctx, cfg, "sampler", key, "unknown solver \"%s\" (known: %s)", name, pd_solver_names());
}

/* Inline GMM: weights [K], means [K][d], variances [K] or [K][d], shape with product d. */
static pd_status check_gmm_sizes(pd_ctx *ctx, const pd_config *cfg)
{
    const pd_cfg_array *w = &cfg->model.weights, *m = &cfg->model.means, *v = &cfg->model.variances;
    const pd_cfg_array *sh = &cfg->model.shape;
    int K = w->rows, d = m->cols;
    if (m->rows != K)
        return vfail(ctx, cfg, "model", "means", "expected %d rows (one per weight), got %d", K, m->rows);
    if (v->rows != K)
        return vfail(ctx, cfg, "model", "variances", "expected %d values or rows (one per weight), got %d", K,
                     v->rows);
    if (v->cols != 1 && v->cols != d)
        return vfail(ctx, cfg, "model", "variances",
                     "expected rows of 1 or %d numbers (as model.means), got %d", d, v->cols);
    if (!sh->data) return PD_OK;
    double prod = 1;
    for (int i = 0; i < sh->rows; i++)
        prod *= sh->data[i];
    if (prod != d)
        return vfail(ctx, cfg, "model", "shape", "expected a product of %d (the length of a mean), got %.0f",
                     d, prod);
    return PD_OK;
}

static pd_status check_model(pd_ctx *ctx, const pd_config *cfg)
{
    static const char *const inline_keys[] = {"weights", "means", "variances"};
    const pd_cfg_array *a[] = {&cfg->model.weights, &cfg->model.means, &cfg->model.variances};
    int given = !!a[0]->data + !!a[1]->data + !!a[2]->data;
    if (cfg->model.kind == PD_MODEL_DATASET) {
        for (int i = 0; i < 3; i++)
            if (a[i]->data)
                return vfail(ctx, cfg, "model", inline_keys[i], "inline GMM parameters need model.kind gmm");
        if (cfg->model.shape.data)
            return vfail(ctx, cfg, "model", "shape", "only used with inline GMM parameters");
        if (!cfg->model.file[0])
            return vfail(ctx, cfg, "model", "file", "model.kind dataset needs a data file");
        return PD_OK;
    }
    if (given == 0) {
        if (cfg->model.shape.data)
            return vfail(ctx, cfg, "model", "shape", "only used with inline GMM parameters");
        if (!cfg->model.file[0])
            return vfail(ctx, cfg, "model", "file",
                         "model.kind gmm needs model.file or inline model.weights, "
                         "model.means and model.variances");
        return PD_OK;
    }
    for (int i = 0; i < 3; i++)
        if (!a[i]->data)
            return vfail(ctx, cfg, "model", inline_keys[i],
                         "missing (inline GMM parameters need model.weights, "
                         "model.means and model.variances)");
    return check_gmm_sizes(ctx, cfg);
}

static pd_status check_output(pd_ctx *ctx, const pd_config *cfg)
{
    const char *f = cfg->output.file;
    size_t n = strlen(f);
    if (n <= 3 || strcmp(f + n - 3, ".h5"))
        return vfail(ctx, cfg, "output", "file", "expected a file name ending in .h5, got \"%s\"", f);
    int every = cfg->output.trajectory_every, parareal = cfg->sampler.method == PD_METHOD_PARAREAL;
    if (parareal && every > 0)
        return vfail(ctx, cfg, "output", "trajectory",
                     "expected none or boundaries with sampler.method: parareal, got \"%s\"", cfg->output.trajectory);
    if (!parareal && every == PD_TRAJ_BOUNDARIES)
        return vfail(ctx, cfg, "output", "trajectory",
                     "boundaries are stored by sampler.method: parareal only (serial: none, all or every:K)");
    return PD_OK;
}

/* picard, block-picard (ALGORITHMS.md §8): an affine step to iterate, blocks for block-picard, no pipelining. */
static pd_status check_picard(pd_ctx *ctx, const pd_config *cfg)
{
    pd_method m = cfg->sampler.method;
    if (m != PD_METHOD_PICARD && m != PD_METHOD_BLOCK_PICARD) return PD_OK;
    const char *name = enum_name("sampler", "method", m);
    pd_solver_params sp = pd_solver_default_params();
    pd_solver *s = NULL;
    PD_TRY(pd_solver_create(ctx, cfg->sampler.fine, &sp, &s));
    int affine = pd_solver_is_affine(s);
    pd_solver_destroy(&s);
    if (!affine)
        return vfail(ctx, cfg, "sampler", "fine",
                     "%s iterates a one-step affine solver (ddpm, ddim, euler, li-ddim, li-ddpm, conjugate-ddim), "
                     "got %s", name, cfg->sampler.fine);
    if (m == PD_METHOD_BLOCK_PICARD && (cfg->sampler.blocks < 1 || cfg->sampler.blocks > cfg->sampler.steps))
        return vfail(ctx, cfg, "sampler", "blocks", "block-picard needs 1 .. %d blocks (at most sampler.steps), got %d",
                     cfg->sampler.steps, cfg->sampler.blocks);
    if (cfg->sampler.pipeline)
        return vfail(ctx, cfg, "sampler", "pipeline", "%s has no pipelined variant (expected false; parareal only)",
                     name);
    return PD_OK;
}

pd_status pd_config_validate(pd_ctx *ctx, const pd_config *cfg)
{
    PD_TRY(check_schedule(ctx, cfg));
    PD_TRY(check_solver(ctx, cfg, "solver", cfg->sampler.solver));
    PD_TRY(check_solver(ctx, cfg, "fine", cfg->sampler.fine));
    PD_TRY(check_solver(ctx, cfg, "coarse", cfg->sampler.coarse));
    PD_TRY(check_model(ctx, cfg));
    PD_TRY(check_picard(ctx, cfg));
    return check_output(ctx, cfg);
}

/* ----- writers ----- */

static void write_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", f);
        else if (*c == '\t')
            fputs("\\t", f);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf(f, "\\x%02x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

static void write_array(FILE *f, const pd_cfg_array *a, int nested)
{
    char num[40];
    fputc('[', f);
    for (int i = 0; a->data && i < a->rows; i++) {
        if (i) fputs(", ", f);
        if (nested) fputc('[', f);
        for (int j = 0; j < (nested ? a->cols : 1); j++) {
            fmt_num(a->data[(size_t)i * a->cols + j], num, sizeof num);
            fprintf(f, "%s%s", j ? ", " : "", num);
        }
        if (nested) fputc(']', f);
    }
    fputc(']', f);
}

/* The value of key k, as YAML (flow style for lists). */
static void write_value(FILE *f, const pd_config *cfg, const pd_cfg_key *k)
{
    char num[40];
    switch (k->type) {
    case PD_CFG_INT:
        fprintf(f, "%d", *CFIELD(cfg, k, int));
        break;
    case PD_CFG_INT64:
        fprintf(f, "%" PRId64, *CFIELD(cfg, k, int64_t));
        break;
    case PD_CFG_UINT64:
        fprintf(f, "%" PRIu64, *CFIELD(cfg, k, uint64_t));
        break;
    case PD_CFG_DOUBLE:
        fmt_num(*CFIELD(cfg, k, double), num, sizeof num);
        fputs(num, f);
        break;
    case PD_CFG_BOOL:
        fputs(*CFIELD(cfg, k, int) ? "true" : "false", f);
        break;
    case PD_CFG_ENUM:
        fputs(k->values[*CFIELD(cfg, k, int)], f);
        break;
    case PD_CFG_STRING:
        write_quoted(f, *CFIELD(cfg, k, char *));
        break;
    case PD_CFG_TRAJECTORY:
        fputs(*CFIELD(cfg, k, char *), f);
        break;
    default: {
        const pd_cfg_array *a = CFIELD(cfg, k, pd_cfg_array);
        write_array(f, a, k->type == PD_CFG_MATRIX && a->cols > 1);
    }
    }
}

pd_status pd_config_write_yaml(pd_ctx *ctx, const pd_config *cfg, FILE *f)
{
    int n;
    const pd_cfg_key *s = pd_config_schema(&n);
    for (int i = 0; i < n; i++) {
        if (i == 0 || strcmp(s[i].section, s[i - 1].section)) fprintf(f, "%s:\n", s[i].section);
        fprintf(f, "  %s: ", s[i].key);
        write_value(f, cfg, &s[i]);
        fputc('\n', f);
    }
    if (ferror(f)) PD_FAIL(ctx, PD_ERR_IO, "cannot write the config: %s", strerror(errno));
    return PD_OK;
}

pd_status pd_config_to_yaml(pd_ctx *ctx, const pd_config *cfg, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) PD_FAIL(ctx, PD_ERR_NOMEM, "out of memory writing the config");
    pd_status st = pd_config_write_yaml(ctx, cfg, f);
    if (fclose(f) != 0 && st == PD_OK)
        st = pd_error_set(ctx, PD_ERR_NOMEM, __FILE__, __LINE__, "out of memory writing the config");
    if (st != PD_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return PD_OK;
}

/* ----- docs/CONFIG.md ----- */

static const char *type_name(pd_cfg_type t)
{
    static const char *const names[] = {
        [PD_CFG_INT] = "integer",
        [PD_CFG_INT64] = "integer (64-bit)",
        [PD_CFG_UINT64] = "unsigned (64-bit)",
        [PD_CFG_DOUBLE] = "number",
        [PD_CFG_BOOL] = "bool",
        [PD_CFG_STRING] = "string",
        [PD_CFG_ENUM] = "enum",
        [PD_CFG_LIST] = "list of numbers",
        [PD_CFG_INT_LIST] = "list of integers",
        [PD_CFG_MATRIX] = "list or matrix of numbers",
        [PD_CFG_TRAJECTORY] = "string",
    };
    return names[t];
}

/* Text for a Markdown table cell: '|' escaped. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s, f);
    }
}

static void doc_allowed(FILE *f, const pd_cfg_key *k)
{
    char buf[512];
    fmt_bounds(k, buf, sizeof buf);
    if (k->allowed)
        fputs(k->allowed, f);
    else if (k->type == PD_CFG_ENUM) {
        list_values(k->values, ", ", "`", buf, sizeof buf);
        fputs(buf, f);
    } else if (k->type == PD_CFG_BOOL)
        fputs("`true`, `false`", f);
    else if (k->type == PD_CFG_TRAJECTORY)
        fputs("`none`, `all`, `every:K` (K >= 1), `boundaries`", f);
    else if (is_list_type(k->type) && buf[0])
        fprintf(f, "each %s", buf);
    else if (k->type == PD_CFG_UINT64)
        fputs(">= 0", f);
    else if (buf[0])
        fputs(buf, f);
}

static void doc_keys(FILE *f, const pd_config *def)
{
    int n;
    const pd_cfg_key *s = pd_config_schema(&n);
    for (int i = 0; i < n; i++) {
        if (i == 0 || strcmp(s[i].section, s[i - 1].section))
            fprintf(f,
                    "\n## `%s`\n\n| key | type | default | allowed | description |\n"
                    "| --- | --- | --- | --- | --- |\n",
                    s[i].section);
        fprintf(f, "| `%s.%s` | %s | `", s[i].section, s[i].key, type_name(s[i].type));
        write_value(f, def, &s[i]);
        fputs("` | ", f);
        doc_allowed(f, &s[i]);
        fputs(" | ", f);
        md_cell(f, s[i].doc);
        fputs(" |\n", f);
    }
}

static void doc_spacings(FILE *f)
{
    const char *const *kinds = pd_config_schema_find("schedule", "kind")->values;
    const char *const *sp = pd_config_schema_find("sampler", "spacing")->values;
    fputs("\n## Spacings per schedule\n\n`sampler.spacing` must be one that `schedule.kind` allows:\n\n"
          "| `schedule.kind` | allowed `sampler.spacing` |\n| --- | --- |\n",
          f);
    for (int k = 0; kinds[k]; k++) {
        fprintf(f, "| `%s` |", kinds[k]);
        for (int i = 0, first = 1; sp[i]; i++)
            if (pd_config_spacing_allowed((pd_schedule_kind)k, (pd_spacing)i)) {
                fprintf(f, "%s`%s`", first ? " " : ", ", sp[i]);
                first = 0;
            }
        fputs(" |\n", f);
    }
}

static void doc_solvers(FILE *f)
{
    fputs("\n## Solvers\n\n`sampler.solver`, `sampler.fine` and `sampler.coarse` name one of these:\n\n"
          "| name | order | NFE per step | stochastic | multistep | summary |\n"
          "| --- | --- | --- | --- | --- | --- |\n",
          f);
    for (int i = 0; i < pd_solver_count(); i++) {
        const pd_solver_info *s = pd_solver_info_at(i);
        fprintf(f, "| `%s` | %d | %d | %s | %s | ", s->name, s->order, s->nfe_per_step,
                s->stochastic ? "yes" : "no", s->multistep ? "yes" : "no");
        md_cell(f, s->summary ? s->summary : "");
        fputs(" |\n", f);
    }
}

pd_status pd_config_write_doc(pd_ctx *ctx, FILE *f)
{
    pd_config def;
    PD_TRY(pd_config_init(ctx, &def));
    fputs("# pintdiff configuration\n\n"
          "<!-- Generated from the schema in src/io/config_schema.c by\n"
          "     `build/pintdiff config-doc > docs/CONFIG.md`; do not edit by hand.\n"
          "     A test fails when this file differs from the generated text. -->\n\n"
          "One YAML file per job (DESIGN.md §2), with the sections below. Every key has a default; an\n"
          "unknown section or key is an error. `--set section.key=value` overrides one key (the value is\n"
          "read as YAML: `--set model.weights=[0.5,0.5]`); `pintdiff check` prints the resolved config.\n"
          "Keys marked \"parallel methods\" are read by the Parareal and Picard drivers.\n",
          f);
    doc_keys(f, &def);
    doc_spacings(f);
    doc_solvers(f);
    pd_config_free(&def);
    if (ferror(f)) PD_FAIL(ctx, PD_ERR_IO, "cannot write the config documentation: %s", strerror(errno));
    return PD_OK;
}

/* ----- schedule parameters ----- */

pd_schedule_params pd_config_schedule_params(const pd_config *cfg)
{
    pd_schedule_params p = {
        .kind = cfg->schedule.kind,
        .train_steps = cfg->schedule.train_steps,
        .beta_start = cfg->schedule.beta_start,
        .beta_end = cfg->schedule.beta_end,
        .beta_min = cfg->schedule.beta_min,
        .beta_max = cfg->schedule.beta_max,
        .t_min = cfg->schedule.t_min,
        .t_max = cfg->schedule.t_max,
        .sigma_min = cfg->schedule.sigma_min,
        .sigma_max = cfg->schedule.sigma_max,
        .rho = cfg->schedule.rho,
        .li_c0 = cfg->schedule.li_c0,
        .li_c1 = cfg->schedule.li_c1,
        .psld_gamma = cfg->schedule.psld_gamma,
        .psld_nu = cfg->schedule.psld_nu,
        .psld_beta = cfg->schedule.psld_beta,
        .psld_kappa = cfg->schedule.psld_kappa,
    };
    return p;
}
