/* Reports of a clnet-bench run: tables on a terminal, one JSON document,
 * and a Markdown report that embeds the SVG chart of bench_chart.h. */
#ifndef CLNET_BENCH_REPORT_H
#define CLNET_BENCH_REPORT_H

#include <stdio.h>

#include "bench_options.h"
#include "bench_results.h"

/* Markers around the peers' section of the Markdown report; the peers
 * script replaces what lies between them. */
#define BENCH_PEERS_BEGIN "<!-- peers:begin -->"
#define BENCH_PEERS_END   "<!-- peers:end -->"

/* The title lines: version, device, command, budget. */
void bench_report_text_header(FILE *f, const bench_results *r);
/* One section's table, written as soon as the section is measured. */
void bench_report_text_section(FILE *f, const bench_results *r, bench_section section);
/* What was skipped and why, the checks, and the time taken. */
void bench_report_text_footer(FILE *f, const bench_results *r);

/* The whole run as one JSON document. */
void bench_report_json(FILE *f, const bench_results *r);

/* The whole run as Markdown. chart_href is the chart's path relative to the
 * report (NULL: no chart). */
void bench_report_markdown(FILE *f, const bench_results *r, const char *chart_href);

/* Writes the Markdown report (and the chart when chart_path is not NULL) to
 * files; returns 0, or -1 with a sentence in err. */
int bench_report_write_files(const bench_results *r, const char *report_path,
                             const char *chart_path, char *err, size_t err_size);

/* The default chart path of a report: FILE.md becomes FILE.svg (any other
 * name gets .svg appended). Returns 0, or -1 if out is too small. */
int bench_chart_path_for(const char *report_path, char *out, size_t size);

/* Formats a rate with a precision that suits its size ("2345", "12.3",
 * "0.456"), or "-" when it is not finite. Returns buf. */
const char *bench_fmt_rate(double v, char *buf, size_t size);

#endif
