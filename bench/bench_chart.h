/* The SVG chart of the report: images/s per network (one group of bars)
 * and batch size (one bar each, coloured per batch), on a log scale so that
 * small and large networks stay readable side by side. */
#ifndef CLNET_BENCH_CHART_H
#define CLNET_BENCH_CHART_H

#include <stdio.h>

#include "bench_results.h"

/* Writes a standalone SVG document of the measured networks (rows that
 * were skipped or failed get no bar; rows that failed their check get a
 * grey bar marked as a wrong result). */
void bench_chart_svg(FILE *f, const bench_results *r);

/* Writes text with XML's special characters escaped. */
void bench_chart_xml_text(FILE *f, const char *s);

#endif
