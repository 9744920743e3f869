/* The report's SVG chart of images/s, written by hand (see bench_chart.h). */
#include "bench_chart.h"

#include <math.h>
#include <string.h>

#include "bench_report.h"

#define MAX_GROUPS 64
#define MAX_BARS   8 /* batch sizes per network */

/* Layout in SVG units (pixels). */
#define WIDTH     760
#define LEFT      120 /* network names */
#define RIGHT     70  /* value labels after the longest bar */
#define TOP       56  /* title and legend */
#define BOTTOM    36  /* axis labels */
#define BAR_H     12
#define BAR_GAP   2
#define GROUP_GAP 12

/* Colour-blind-safe palette (Okabe and Ito), one colour per batch size. */
static const char *const colours[MAX_BARS] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                              "#56B4E9", "#D55E00", "#F0E442", "#000000"};

void bench_chart_xml_text(FILE *f, const char *s) {
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*p >= 0x20 || *p == '\t')
                fputc(*p, f);
        }
    }
}

static int measured(const bench_network_row *n) {
    return n->outcome == BENCH_OK && isfinite(n->images_per_s) && n->images_per_s > 0;
}

/* "100", "1k", "10k", "1M" for a power of ten. */
static void decade_label(int e, char *buf, size_t size) {
    static const char *const suffix[] = {"", "k", "M", "G"};
    if (e < 0) {
        snprintf(buf, size, "%g", pow(10.0, e));
        return;
    }
    int group = e / 3 < 3 ? e / 3 : 3;
    snprintf(buf, size, "%.0f%s", pow(10.0, e - 3 * group), suffix[group]);
}

void bench_chart_svg(FILE *f, const bench_results *r) {
    const char *groups[MAX_GROUPS];
    int batches[MAX_BARS];
    int n_groups = 0, n_batches = 0;
    double lo = INFINITY, hi = 0.0;

    /* Networks in report order; batch sizes ascending. */
    for (int i = 0; i < r->n_networks; i++) {
        const bench_network_row *n = &r->networks[i];
        if (!measured(n))
            continue;
        int g = 0;
        while (g < n_groups && strcmp(groups[g], n->network))
            g++;
        if (g == n_groups && n_groups < MAX_GROUPS)
            groups[n_groups++] = n->network;
        int b = 0;
        while (b < n_batches && batches[b] != n->batch)
            b++;
        if (b == n_batches && n_batches < MAX_BARS) {
            int pos = n_batches++;
            while (pos > 0 && batches[pos - 1] > n->batch) {
                batches[pos] = batches[pos - 1];
                pos--;
            }
            batches[pos] = n->batch;
        }
        lo = fmin(lo, n->images_per_s);
        hi = fmax(hi, n->images_per_s);
    }

    int group_h = n_batches * (BAR_H + BAR_GAP) - BAR_GAP;
    int plot_h = n_groups > 0 ? n_groups * group_h + (n_groups - 1) * GROUP_GAP : 40;
    int height = TOP + plot_h + BOTTOM;
    int plot_w = WIDTH - LEFT - RIGHT;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
            WIDTH, height, WIDTH, height);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", WIDTH, height);
    fprintf(f, "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">Images/s on ", LEFT);
    bench_chart_xml_text(f, r->device.name);
    fprintf(f, " (median, log scale)</text>\n");
    if (n_groups == 0) {
        fprintf(f, "<text x=\"%d\" y=\"%d\">No network was measured.</text>\n</svg>\n", LEFT,
                TOP + 20);
        return;
    }

    /* Legend: one swatch per batch size. */
    for (int b = 0; b < n_batches; b++) {
        int x = LEFT + b * 90;
        fprintf(f,
                "<rect x=\"%d\" y=\"30\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"40\">batch %d</text>\n",
                x, colours[b], x + 16, batches[b]);
    }

    /* Axis: whole decades around the data, at least one. */
    int e_lo = (int)floor(log10(lo));
    int e_hi = (int)ceil(log10(hi));
    if (e_hi <= e_lo)
        e_hi = e_lo + 1;
    double span = (double)(e_hi - e_lo);
    for (int e = e_lo; e <= e_hi; e++) {
        double x = LEFT + plot_w * (double)(e - e_lo) / span;
        char label[16];
        decade_label(e, label, sizeof label);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#cccccc\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                x, TOP - 4, x, TOP + plot_h + 4, x, TOP + plot_h + 18, label);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">images/s</text>\n",
            LEFT + plot_w / 2, TOP + plot_h + 32);

    for (int g = 0; g < n_groups; g++) {
        int y0 = TOP + g * (group_h + GROUP_GAP);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LEFT - 6, y0 + group_h / 2 + 4);
        bench_chart_xml_text(f, groups[g]);
        fprintf(f, "</text>\n");
        for (int b = 0; b < n_batches; b++) {
            const bench_network_row *row = NULL;
            for (int i = 0; i < r->n_networks && !row; i++)
                if (measured(&r->networks[i]) && !strcmp(r->networks[i].network, groups[g]) &&
                    r->networks[i].batch == batches[b])
                    row = &r->networks[i];
            if (!row)
                continue;
            int y = y0 + b * (BAR_H + BAR_GAP);
            double w = plot_w * (log10(row->images_per_s) - e_lo) / span;
            if (w < 1.0)
                w = 1.0;
            char value[32];
            /* A fast wrong answer is no result: grey, and said so. */
            int wrong = row->check == BENCH_CHECK_FAIL;
            fprintf(f,
                    "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                    "<title>",
                    LEFT, y, w, BAR_H, wrong ? "#999999" : colours[b]);
            bench_chart_xml_text(f, row->network);
            fprintf(f, ", batch %d: %s images/s%s</title></rect>", row->batch,
                    bench_fmt_rate(row->images_per_s, value, sizeof value),
                    wrong ? ", wrong result" : "");
            fprintf(f, "<text x=\"%.1f\" y=\"%d\">%s%s</text>\n", LEFT + w + 4, y + BAR_H - 2,
                    value, wrong ? " (wrong result)" : "");
        }
    }
    fprintf(f, "</svg>\n");
}
