/* PNG grid of image-shaped samples (libpng), written to a temporary name and renamed. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/result.h"

int pd_png_can_show(int ndim, const int64_t *shape)
{
    if (ndim == 2) return shape[0] >= 2 && shape[1] >= 2;
    return ndim == 3 && (shape[0] == 1 || shape[0] == 3) && shape[1] >= 2 && shape[2] >= 2;
}

typedef struct grid_geom {
    int64_t c, h, w;     /* channels, tile height and width in data pixels */
    int cols, rows, scale, pad;
    int64_t width, height;
} grid_geom;

static grid_geom geometry(int64_t n, int ndim, const int64_t *shape)
{
    grid_geom g = {.c = ndim == 3 ? shape[0] : 1, .h = shape[ndim - 2], .w = shape[ndim - 1], .pad = 2};
    g.cols = (int)ceil(sqrt((double)n));
    g.rows = (int)((n + g.cols - 1) / g.cols);
    g.scale = g.h < 32 ? (int)(32 / g.h) : 1; /* tiny digits are drawn 4x so they can be seen */
    g.width = g.cols * (g.w * g.scale + g.pad) + g.pad;
    g.height = g.rows * (g.h * g.scale + g.pad) + g.pad;
    return g;
}

static unsigned char to_byte(double v, double lo, double hi)
{
    double u = (v - lo) / (hi - lo);
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    return (unsigned char)lrint(255.0 * u);
}

/* Fill an RGB canvas: tile k at (k / cols, k % cols), channel ch of pixel (y, x). */
static void draw(unsigned char *img, const grid_geom *g, const double *x, int64_t n, double lo, double hi)
{
    memset(img, 64, (size_t)(g->width * g->height * 3)); /* dark grey border */
    int64_t dim = g->c * g->h * g->w;
    for (int64_t k = 0; k < n; k++) {
        int64_t oy = g->pad + (k / g->cols) * (g->h * g->scale + g->pad);
        int64_t ox = g->pad + (k % g->cols) * (g->w * g->scale + g->pad);
        for (int64_t y = 0; y < g->h * g->scale; y++)
            for (int64_t xx = 0; xx < g->w * g->scale; xx++)
                for (int ch = 0; ch < 3; ch++) {
                    int64_t c = g->c == 3 ? ch : 0;
                    double v = x[k * dim + (c * g->h + y / g->scale) * g->w + xx / g->scale];
                    img[((oy + y) * g->width + ox + xx) * 3 + ch] = to_byte(v, lo, hi);
                }
    }
}

static int write_png(FILE *f, const unsigned char *img, const grid_geom *g)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) { /* libpng reports errors by longjmp */
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)g->width, (png_uint_32)g->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int64_t y = 0; y < g->height; y++) png_write_row(png, (png_const_bytep)(img + y * g->width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

pd_status pd_png_write_grid(pd_ctx *ctx, const char *path, const double *x, int64_t n, int ndim,
                            const int64_t *shape, double lo, double hi, int max_tiles)
{
    if (!pd_png_can_show(ndim, shape)) PD_FAIL(ctx, PD_ERR_INPUT, "%s: samples are not image-shaped", path);
    if (n > max_tiles) n = max_tiles;
    grid_geom g = geometry(n, ndim, shape);
    unsigned char *img = malloc((size_t)(g.width * g.height * 3));
    if (!img) PD_FAIL(ctx, PD_ERR_NOMEM, "cannot allocate a %lldx%lld picture", (long long)g.width, (long long)g.height);
    draw(img, &g, x, n, lo, hi);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int bad = !f || write_png(f, img, &g) != 0;
    if (f && fclose(f) != 0) bad = 1;
    free(img);
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        PD_FAIL(ctx, PD_ERR_IO, "cannot write the picture %s", path);
    }
    return PD_OK;
}
