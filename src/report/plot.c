/* plot.c: SVG line plots drawn by frugal itself (see report.h).
 *
 * The plot area gets "nice" ticks (1, 2, 5 x 10^k) on linear axes and powers
 * of ten on a log-y axis; each series is one path broken at points that cannot
 * be drawn (NaN, inf, y <= 0 on a log axis), optionally with a marker per
 * point, and a legend box at the top right. Every text is XML-escaped. It
 * draws no bar charts, no second y axis, no log-x: what the experiments need
 * and no more.
 */
#include "frugal/report.h"
#include "frugal/status.h"
#include "fsutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const PALETTE[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define NPALETTE ((int)(sizeof PALETTE / sizeof PALETTE[0]))

struct axis {
    double lo, hi, step; /* in data units (log10 units on a log axis) */
    int log;
};

static int usable(double x, double y, int log_x, int log_y) {
    return isfinite(x) && isfinite(y) && (!log_y || y > 0) && (!log_x || x > 0);
}

static double nice_step(double range) {
    double raw = range / 5.0, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* Fits an axis to [mn, mx] (already in log10 units when log). */
static void fit_axis(struct axis *a, double mn, double mx, int log) {
    a->log = log;
    if (log) {
        a->lo = floor(mn + 1e-9);
        a->hi = ceil(mx - 1e-9);
        if (a->hi <= a->lo) a->hi = a->lo + 1;
        a->step = ceil((a->hi - a->lo) / 8.0);
        a->hi = a->lo + a->step * ceil((a->hi - a->lo) / a->step);
        return;
    }
    if (mx <= mn) { /* one value: widen around it */
        double w = fabs(mn) > 0 ? fabs(mn) * 0.1 : 1.0;
        mn -= w;
        mx += w;
    }
    a->step = nice_step(mx - mn);
    a->lo = floor(mn / a->step + 1e-9) * a->step;
    a->hi = ceil(mx / a->step - 1e-9) * a->step;
    if (a->hi <= a->lo) a->hi = a->lo + a->step;
}

static void tick_label(const struct axis *a, double v, char *buf, size_t cap) {
    if (a->log) {
        snprintf(buf, cap, "%g", pow(10.0, v));
        return;
    }
    if (fabs(v) < a->step * 1e-9) v = 0; /* no "-0" */
    double av = fabs(v);
    if (av != 0 && (av >= 1e6 || av < 1e-4)) {
        snprintf(buf, cap, "%.3g", v);
        return;
    }
    int dec = (int)ceil(-log10(a->step) - 1e-9);
    if (dec < 0) dec = 0;
    if (dec > 8) dec = 8;
    snprintf(buf, cap, "%.*f", dec, v);
}

/* Tick positions of the y axis (data units; log10 units on a log axis).
 * A log axis spanning at most two decades also gets 2x and 5x ticks. */
static int y_ticks(const struct axis *a, double *t, int cap) {
    int n = 0, steps = (int)floor((a->hi - a->lo) / a->step + 0.5);
    for (int i = 0; i <= steps && n < cap; i++) {
        double v = a->lo + i * a->step;
        t[n++] = v;
        if (a->log && a->hi - a->lo <= 2 && i < steps && n + 2 <= cap) {
            t[n++] = v + log10(2.0);
            t[n++] = v + log10(5.0);
        }
    }
    return n;
}

char *fr_plot_svg(const struct fr_plot *p, int nseries, const struct fr_plot_series *s) {
    if (!p || nseries < 0 || (nseries > 0 && !s)) {
        fr_error(FR_EINVAL, "plot: bad arguments");
        return NULL;
    }
    for (int k = 0; k < nseries; k++)
        if (s[k].n < 0 || (s[k].n > 0 && (!s[k].x || !s[k].y))) {
            fr_error(FR_EINVAL, "plot: series %d has bad points", k);
            return NULL;
        }
    const int W = p->width > 0 ? p->width : 640, H = p->height > 0 ? p->height : 400;
    const double L = 72, R = 16, T = 40, B = 52; /* margins */
    const double pw = W - L - R, ph = H - T - B;
    int log_y = p->log_y != 0, log_x = p->log_x != 0;
#define TXV(v) (log_x ? log10(v) : (v))

    double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
    for (int k = 0; k < nseries; k++)
        for (int64_t i = 0; i < s[k].n; i++) {
            if (!usable(s[k].x[i], s[k].y[i], log_x, log_y)) continue;
            double y = log_y ? log10(s[k].y[i]) : s[k].y[i];
            xmn = fmin(xmn, TXV(s[k].x[i]));
            xmx = fmax(xmx, TXV(s[k].x[i]));
            ymn = fmin(ymn, y);
            ymx = fmax(ymx, y);
        }
    if (!(xmn <= xmx)) xmn = 0, xmx = 1, ymn = 0, ymx = 1;
    struct axis ax, ay;
    fit_axis(&ax, xmn, xmx, log_x);
    fit_axis(&ay, ymn, ymx, log_y);
#define PX(v) (L + ((v)-ax.lo) / (ax.hi - ax.lo) * pw)
#define PY(v) (T + ph - ((v)-ay.lo) / (ay.hi - ay.lo) * ph)

    struct rp_buf b = {0};
    rp_printf(&b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
              "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
              W, H, W, H, W, H);
    rp_printf(&b, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", L + pw / 2);
    rp_escape(&b, p->title ? p->title : "");
    rp_puts(&b, "</text>\n<g class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\">\n");
    char lab[64];
    int nx = (int)floor((ax.hi - ax.lo) / ax.step + 0.5);
    for (int i = 0; i <= nx; i++)
        rp_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                  PX(ax.lo + i * ax.step), T, PX(ax.lo + i * ax.step), T + ph);
    double yt[64];
    int nyt = y_ticks(&ay, yt, 64);
    for (int i = 0; i < nyt; i++)
        rp_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", L, PY(yt[i]),
                  L + pw, PY(yt[i]));
    rp_puts(&b, "</g>\n<g class=\"axes\" stroke=\"black\" stroke-width=\"1\">\n");
    rp_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", L, T + ph, L + pw,
              T + ph);
    rp_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", L, T, L, T + ph);
    rp_puts(&b, "</g>\n<g class=\"ticks\">\n");
    for (int i = 0; i <= nx; i++) {
        double v = ax.lo + i * ax.step;
        tick_label(&ax, v, lab, sizeof lab);
        rp_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
                  PX(v), T + ph, PX(v), T + ph + 5);
        rp_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", PX(v),
                  T + ph + 18, lab);
    }
    for (int i = 0; i < nyt; i++) {
        double v = yt[i];
        tick_label(&ay, v, lab, sizeof lab);
        rp_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
                  L - 5, PY(v), L, PY(v));
        rp_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 8,
                  PY(v) + 4, lab);
    }
    rp_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", L + pw / 2,
              (double)H - 10);
    rp_escape(&b, p->xlabel ? p->xlabel : "");
    rp_printf(&b,
              "%s</text>\n<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" "
              "transform=\"rotate(-90 16 %.1f)\">",
              log_x ? " (log)" : "", T + ph / 2, T + ph / 2);
    rp_escape(&b, p->ylabel ? p->ylabel : "");
    rp_printf(&b, "%s</text>\n</g>\n", log_y ? " (log)" : "");

    for (int k = 0; k < nseries; k++) {
        const char *color = PALETTE[k % NPALETTE];
        rp_puts(&b, "<g class=\"series\" data-name=\"");
        rp_escape(&b, s[k].name ? s[k].name : "");
        rp_printf(&b, "\">\n<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", color);
        int pen_down = 0;
        for (int64_t i = 0; i < s[k].n; i++) {
            if (!usable(s[k].x[i], s[k].y[i], log_x, log_y)) {
                pen_down = 0;
                continue;
            }
            double y = log_y ? log10(s[k].y[i]) : s[k].y[i];
            rp_printf(&b, "%s%.2f %.2f ", pen_down ? "L" : "M", PX(TXV(s[k].x[i])), PY(y));
            pen_down = 1;
        }
        rp_puts(&b, "\"/>\n");
        for (int64_t i = 0; p->markers && i < s[k].n; i++) {
            if (!usable(s[k].x[i], s[k].y[i], log_x, log_y)) continue;
            double y = log_y ? log10(s[k].y[i]) : s[k].y[i];
            rp_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                      PX(TXV(s[k].x[i])), PY(y), color);
        }
        rp_puts(&b, "</g>\n");
    }

    if (nseries > 0) {
        size_t maxlen = 1;
        for (int k = 0; k < nseries; k++)
            if (s[k].name && strlen(s[k].name) > maxlen) maxlen = strlen(s[k].name);
        double lw = 34 + 7.0 * (double)(maxlen > 40 ? 40 : maxlen), lh = 8 + 18.0 * nseries;
        double lx = L + pw - lw - 8, ly = T + 8;
        rp_printf(
            &b,
            "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999\"/>\n",
            lx, ly, lw, lh);
        for (int k = 0; k < nseries; k++) {
            double yy = ly + 16 + 18.0 * k;
            rp_printf(&b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"2\"/>\n",
                      lx + 6, yy - 4, lx + 26, yy - 4, PALETTE[k % NPALETTE]);
            rp_printf(&b, "<text x=\"%.1f\" y=\"%.1f\">", lx + 30, yy);
            rp_escape(&b, s[k].name ? s[k].name : "");
            rp_puts(&b, "</text>\n");
        }
        rp_puts(&b, "</g>\n");
    }
    rp_puts(&b, "</svg>\n");
#undef PX
#undef PY
    if (b.oom) {
        free(b.p);
        fr_error(FR_ENOMEM, "plot: out of memory");
        return NULL;
    }
    return b.p;
}

int fr_plot_write(const char *path, const struct fr_plot *p, int nseries,
                  const struct fr_plot_series *s) {
    char *svg = fr_plot_svg(p, nseries, s);
    if (!svg) return fr_last_error()[0] ? FR_EINVAL : FR_ENOMEM;
    int rc = rp_write_file(path, svg, strlen(svg));
    free(svg);
    return rc;
}

/* ---- heat maps ---- */

/* black -> red -> yellow -> white ("hot") for v in [0, 1] */
static void hot(double v, int *r, int *g, int *b) {
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    *r = (int)lround(255 * fmin(1, 3 * v));
    *g = (int)lround(255 * fmin(1, fmax(0, 3 * v - 1)));
    *b = (int)lround(255 * fmin(1, fmax(0, 3 * v - 2)));
}

char *fr_heat_svg(const double *v, int64_t w, int64_t h, const char *title, const int *squares,
                  int nsquares) {
    if (!v || w < 1 || h < 1 || w > 4096 || h > 4096 || nsquares < 0 || (nsquares && !squares)) {
        fr_error(FR_EINVAL, "heat map: bad arguments");
        return NULL;
    }
    double cell = fmax(2, fmin(12, 320.0 / (double)(w > h ? w : h)));
    double top = title ? 28 : 4, W = cell * (double)w + 8, H = cell * (double)h + top + 4;
    struct rp_buf b = {0};
    rp_printf(&b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
              "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
              W, H, W, H);
    if (title) {
        rp_puts(&b, "<text x=\"4\" y=\"18\">");
        rp_escape(&b, title);
        rp_puts(&b, "</text>\n");
    }
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            int r, g, bl;
            hot(v[y * w + x], &r, &g, &bl);
            rp_printf(&b,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "fill=\"#%02x%02x%02x\"/>\n",
                      4 + cell * (double)x, top + cell * (double)y, cell + 0.05, cell + 0.05, r, g,
                      bl);
        }
    for (int i = 0; i < nsquares; i++) { /* centred squares, e.g. the ERF's 20..99% sides */
        double s = cell * squares[i];
        double cx = 4 + cell * (double)(w / 2) + cell / 2,
               cy = top + cell * (double)(h / 2) + cell / 2;
        rp_printf(&b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                  "stroke=\"#39f\" stroke-width=\"1\"/>\n",
                  cx - s / 2, cy - s / 2, s, s);
    }
    rp_puts(&b, "</svg>\n");
    if (b.oom) {
        free(b.p);
        fr_error(FR_ENOMEM, "heat map: out of memory");
        return NULL;
    }
    return b.p;
}

int fr_heat_write(const char *path, const double *v, int64_t w, int64_t h, const char *title,
                  const int *squares, int nsquares) {
    char *svg = fr_heat_svg(v, w, h, title, squares, nsquares);
    if (!svg) return fr_last_error()[0] ? FR_EINVAL : FR_ENOMEM;
    int rc = rp_write_file(path, svg, strlen(svg));
    free(svg);
    return rc;
}
