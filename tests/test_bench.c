/* The device benchmark's own logic: statistics, option parsing, the time
 * budget, convolution-shaped GEMMs, and the terminal, JSON, Markdown and
 * SVG reports. Timings themselves are never asserted. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "test_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_budget.h"
#include "bench_ceilings.h"
#include "bench_chart.h"
#include "bench_gemm.h"
#include "bench_json.h"
#include "bench_layers.h"
#include "bench_networks.h"
#include "bench_options.h"
#include "bench_report.h"
#include "bench_results.h"
#include "bench_shapes.h"
#include "bench_start.h"
#include "bench_stats.h"
#include "bench_timing.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* Output captured in memory; text() closes the stream and gives the text. */
typedef struct capture {
    FILE *f;
    char *text;
    size_t size;
} capture;

static FILE *capture_open(capture *c) {
    c->text = NULL;
    c->size = 0;
    c->f = open_memstream(&c->text, &c->size);
    assert_non_null(c->f);
    return c->f;
}

static const char *capture_text(capture *c) {
    fclose(c->f);
    c->f = NULL;
    return c->text;
}

static int count_occurrences(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static bench_parse_result parse(bench_options *o, char *err, size_t size, int argc,
                                const char **argv) {
    bench_options_default(o);
    return bench_options_parse(argc, (char **)argv, o, err, size);
}

/* A run with one of everything, including a failed check, a skipped
 * measurement and names that need escaping. */
static void sample_results(bench_results *r) {
    bench_results_init(r);
    snprintf(r->version, sizeof r->version, "0.1.0");
    snprintf(r->date, sizeof r->date, "2024-01-01T00:00:00Z");
    snprintf(r->command, sizeof r->command, "clnet-bench --batch 1,32");
    r->budget_s = 300;
    r->elapsed_s = 42;
    r->repeat = 10;
    r->warmup = 1;
    r->sections = BENCH_SECTION_ALL;
    snprintf(r->device.name, sizeof r->device.name, "Test & <Device>");
    snprintf(r->device.type, sizeof r->device.type, "CPU");
    snprintf(r->device.platform, sizeof r->device.platform, "Platform | one");
    r->device.compute_units = 2;
    r->device.clock_mhz = 2500;

    r->ceilings.outcome = BENCH_OK;
    r->ceilings.fma_gflops = 120.0;
    snprintf(r->ceilings.fma_variant, sizeof r->ceilings.fma_variant, "float8 x 8 chains");
    r->ceilings.nominal_gflops = 160.0;
    snprintf(r->ceilings.nominal_basis, sizeof r->ceilings.nominal_basis, "2 x 2500 MHz x 32");
    r->ceilings.copy_gbps = 12.5;
    r->ceilings.copy_mib = 128;
    r->ceilings.launch_us = 30.0;

    snprintf(r->start_info.network, sizeof r->start_info.network, "resnet20v1");
    r->start_info.batch = 1;
    r->starts[0] = (bench_start){"cold", BENCH_OK, "", 1, 0.1, 0.2, 12.5, 12.5, 12.5};
    r->starts[1] = (bench_start){"warm", BENCH_OK, "", 3, 0.1, 0.2, 0.4, 0.35, 0.5};

    bench_gemm_row *g = bench_results_add_gemm(r);
    snprintf(g->backend, sizeof g->backend, "clnet");
    snprintf(g->kind, sizeof g->kind, "square");
    g->m = g->n = g->k = 256;
    g->batch = 1;
    g->outcome = BENCH_OK;
    g->gflops = 50.0;
    g->first_ms = 900.0;
    g->check = BENCH_CHECK_PASS;
    g->max_rel_error = 1e-7;
    g = bench_results_add_gemm(r);
    snprintf(g->backend, sizeof g->backend, "clblast");
    snprintf(g->kind, sizeof g->kind, "square");
    g->m = g->n = g->k = 256;
    g->batch = 1;
    g->outcome = BENCH_OK;
    g->gflops = 5.0;
    g->first_ms = 25000.0;
    g->check = BENCH_CHECK_PASS;

    bench_profile *p = bench_results_add_profile(r);
    snprintf(p->network, sizeof p->network, "resnet20v1");
    p->batch = 32;
    p->outcome = BENCH_OK;
    p->n_steps = 2;
    p->runs = 3;
    p->steps = calloc(2, sizeof *p->steps);
    assert_non_null(p->steps);
    p->steps[0] = (bench_layer_row){"conv2d|odd", "conv2d_direct+relu", 1000000, 3.0, 0.75, 21.3};
    p->steps[1] = (bench_layer_row){"add", "add+relu", 0, 1.0, 0.25, NAN};
    p->sum_ms = 4.0;
    p->wall_ms = 4.2;
    p->gap_ms = 0.2;
    p->launch_us = 30.0;
    p->consistent = 1;

    bench_network_row *n = bench_results_add_network(r);
    snprintf(n->network, sizeof n->network, "resnet20v1");
    n->batch = 32;
    n->outcome = BENCH_OK;
    n->repeat = 10;
    n->macs_per_image = 40800000;
    n->seconds = (bench_stats){10, 0.016, 0.016, 0.015, 0.020, 0.015, 0.019};
    n->images_per_s = 2000.0;
    n->images_per_s_min = 1600.0;
    n->images_per_s_max = 2133.0;
    n->gflops = 163.2;
    n->peak_share = 0.5;
    n->check = BENCH_CHECK_PASS;
    n->check_images = 2;
    n->max_rel_error = 3e-7;
    n->tolerance = 1e-4;
    n = bench_results_add_network(r);
    snprintf(n->network, sizeof n->network, "resnet20v1");
    n->batch = 1;
    n->outcome = BENCH_OK;
    n->repeat = 10;
    n->seconds = (bench_stats){10, 0.002, 0.002, 0.002, 0.003, 0.002, 0.003};
    n->images_per_s = 500.0;
    n->images_per_s_min = 333.0;
    n->images_per_s_max = 500.0;
    n->check = BENCH_CHECK_FAIL;
    n->max_rel_error = 0.5;
    n = bench_results_add_network(r);
    snprintf(n->network, sizeof n->network, "densenet100");
    n->batch = 256;
    n->outcome = BENCH_SKIPPED;
    snprintf(n->error, sizeof n->error, "predicted 90 s, 20 s left");
    bench_results_skip(r, "densenet100 at batch 256", "predicted 90 s, 20 s left");
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */

static void stats_median_of_odd_and_even_counts(void **state) {
    (void)state;
    const double odd[] = {5, 1, 3};
    const double even[] = {4, 1, 3, 2};
    assert_float_equal(bench_median(odd, 3), 3.0, 1e-12);
    assert_float_equal(bench_median(even, 4), 2.5, 1e-12);
}

static void stats_summary_has_min_max_mean_and_percentiles(void **state) {
    (void)state;
    double v[11];
    for (int i = 0; i < 11; i++)
        v[i] = (double)(10 - i); /* 10 .. 0, unsorted order */
    bench_stats s;
    assert_int_equal(bench_stats_compute(v, 11, &s), 0);
    assert_int_equal(s.n, 11);
    assert_float_equal(s.min, 0.0, 1e-12);
    assert_float_equal(s.max, 10.0, 1e-12);
    assert_float_equal(s.mean, 5.0, 1e-12);
    assert_float_equal(s.median, 5.0, 1e-12);
    assert_float_equal(s.p10, 1.0, 1e-12);
    assert_float_equal(s.p90, 9.0, 1e-12);
    assert_float_equal(v[0], 10.0, 0.0); /* the input is not reordered */
}

static void stats_percentile_interpolates_between_ranks(void **state) {
    (void)state;
    const double sorted[] = {1, 2, 3, 4};
    assert_float_equal(bench_percentile_sorted(sorted, 4, 0), 1.0, 1e-12);
    assert_float_equal(bench_percentile_sorted(sorted, 4, 100), 4.0, 1e-12);
    assert_float_equal(bench_percentile_sorted(sorted, 4, 50), 2.5, 1e-12);
    assert_float_equal(bench_percentile_sorted(sorted, 4, 25), 1.75, 1e-12);
    assert_true(isnan(bench_percentile_sorted(sorted, 0, 50)));
}

static void stats_ignore_nan_and_infinite_samples(void **state) {
    (void)state;
    const double v[] = {NAN, 2.0, INFINITY, 4.0};
    bench_stats s;
    assert_int_equal(bench_stats_compute(v, 4, &s), 0);
    assert_int_equal(s.n, 2);
    assert_float_equal(s.median, 3.0, 1e-12);
}

static void stats_of_no_samples_are_nan(void **state) {
    (void)state;
    const double v[] = {NAN};
    bench_stats s;
    assert_int_equal(bench_stats_compute(v, 1, &s), 0);
    assert_int_equal(s.n, 0);
    assert_true(isnan(s.median) && isnan(s.min) && isnan(s.max) && isnan(s.mean));
    assert_int_equal(bench_stats_compute(NULL, 0, &s), 0);
    assert_int_equal(s.n, 0);
    assert_true(isnan(bench_median(v, 1)));
}

static void max_rel_error_scales_by_largest_expected(void **state) {
    (void)state;
    const float expected[] = {10.0f, -2.0f, 0.0f};
    const float got[] = {10.0f, -1.0f, 0.5f};
    assert_float_equal(bench_max_rel_error(expected, got, 3), 0.1, 1e-9);
    const float bad[] = {10.0f, NAN, 0.0f};
    assert_true(isinf(bench_max_rel_error(expected, bad, 3)));
    const float zeros[] = {0.0f, 0.0f};
    const float small[] = {0.25f, 0.0f};
    assert_float_equal(bench_max_rel_error(zeros, small, 2), 0.25, 1e-9);
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

static void options_default_to_every_network_at_three_batch_sizes(void **state) {
    (void)state;
    bench_options o;
    char err[256];
    const char *argv[] = {"clnet-bench"};
    assert_int_equal(parse(&o, err, sizeof err, 1, argv), BENCH_PARSE_OK);
    assert_int_equal(o.n_networks, 10);
    assert_string_equal(o.networks[0], "resnet20v1");
    assert_string_equal(o.networks[9], "ynet");
    assert_int_equal(o.n_batches, 3);
    assert_int_equal(o.batches[0], 1);
    assert_int_equal(o.batches[1], 32);
    assert_int_equal(o.batches[2], 256);
    assert_true(o.budget_s > 0);
    assert_int_equal(o.sections, BENCH_SECTION_ALL);
    assert_int_equal(o.progress, -1);
    assert_null(o.device);
    assert_false(o.json);
}

static void options_parse_lists_numbers_and_flags(void **state) {
    (void)state;
    bench_options o;
    char err[256];
    const char *argv[] = {"clnet-bench", "--device", "cpu",          "--networks=resnet56v2,ynet",
                          "--batch",     "4,16",     "--repeat",     "3",
                          "--budget",    "60.5",     "--json",       "--report",
                          "out.md",      "--seed=7", "--no-progress"};
    assert_int_equal(parse(&o, err, sizeof err, 15, argv), BENCH_PARSE_OK);
    assert_string_equal(o.device, "cpu");
    assert_int_equal(o.n_networks, 2);
    assert_string_equal(o.networks[0], "resnet56v2");
    assert_string_equal(o.networks[1], "ynet");
    assert_int_equal(o.n_batches, 2);
    assert_int_equal(o.batches[1], 16);
    assert_int_equal(o.repeat, 3);
    assert_float_equal(o.budget_s, 60.5, 1e-12);
    assert_true(o.json);
    assert_string_equal(o.report_path, "out.md");
    assert_int_equal((int)o.seed, 7);
    assert_int_equal(o.progress, 0);
}

static void options_all_names_every_default_network(void **state) {
    (void)state;
    char names[BENCH_MAX_NETWORKS][BENCH_NAME_MAX];
    char err[256];
    int n = bench_parse_name_list("all", names, BENCH_MAX_NETWORKS, err, sizeof err);
    assert_int_equal(n, bench_default_network_count);
    assert_string_equal(names[n - 1], "ynet");
}

static void options_only_and_skip_choose_sections(void **state) {
    (void)state;
    bench_options o;
    char err[256];
    const char *only[] = {"clnet-bench", "--only", "gemm,networks"};
    assert_int_equal(parse(&o, err, sizeof err, 3, only), BENCH_PARSE_OK);
    assert_int_equal(o.sections, BENCH_SECTION_GEMM | BENCH_SECTION_NETWORKS);
    const char *skip[] = {"clnet-bench", "--skip", "start,layers"};
    assert_int_equal(parse(&o, err, sizeof err, 3, skip), BENCH_PARSE_OK);
    assert_int_equal(o.sections,
                     BENCH_SECTION_CEILINGS | BENCH_SECTION_GEMM | BENCH_SECTION_NETWORKS);
    const char *none[] = {"clnet-bench", "--only", "start", "--skip", "start"};
    assert_int_equal(parse(&o, err, sizeof err, 5, none), BENCH_PARSE_ERROR);
    assert_non_null(strstr(err, "no section"));
    const char *bad[] = {"clnet-bench", "--only", "gemm,speed"};
    assert_int_equal(parse(&o, err, sizeof err, 3, bad), BENCH_PARSE_ERROR);
    assert_non_null(strstr(err, "speed"));
}

static void options_profile_none_profiles_nothing(void **state) {
    (void)state;
    bench_options o;
    char err[256];
    const char *argv[] = {"clnet-bench", "--profile", "none"};
    assert_int_equal(parse(&o, err, sizeof err, 3, argv), BENCH_PARSE_OK);
    assert_int_equal(o.n_profile_networks, 0);
}

static void options_reject_bad_values_with_the_option_named(void **state) {
    (void)state;
    bench_options o;
    char err[256];
    struct {
        int argc;
        const char *argv[4];
        const char *needle;
    } cases[] = {
        {2, {"clnet-bench", "--frobnicate"}, "--frobnicate"},
        {2, {"clnet-bench", "--batch"}, "needs a value"},
        {3, {"clnet-bench", "--batch", "0,32"}, "--batch"},
        {3, {"clnet-bench", "--batch", "1,,2"}, "--batch"},
        {3, {"clnet-bench", "--batch", "32,32"}, "twice"},
        {3, {"clnet-bench", "--batch", "8x"}, "--batch"},
        {3, {"clnet-bench", "--repeat", "0"}, "--repeat"},
        {3, {"clnet-bench", "--budget", "-5"}, "--budget"},
        {3, {"clnet-bench", "--networks", "ResNet20"}, "ResNet20"},
        {3, {"clnet-bench", "--networks", "ynet,"}, "empty"},
        {3, {"clnet-bench", "--tolerance", "0"}, "--tolerance"},
        {2, {"clnet-bench", "--json=1"}, "takes no value"},
        {2, {"clnet-bench", "stray"}, "stray"},
        {3, {"clnet-bench", "--report", ""}, "--report"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        bench_parse_result res = parse(&o, err, sizeof err, cases[i].argc, cases[i].argv);
        if (res != BENCH_PARSE_ERROR || !strstr(err, cases[i].needle))
            fail_msg("case %zu (%s %s): result %d, message '%s' lacks '%s'", i, cases[i].argv[1],
                     cases[i].argc > 2 ? cases[i].argv[2] : "", (int)res, err, cases[i].needle);
    }
}

static void options_help_and_version_stop_parsing(void **state) {
    (void)state;
    bench_options o;
    char err[256];
    const char *help[] = {"clnet-bench", "--batch", "4", "-h"};
    assert_int_equal(parse(&o, err, sizeof err, 4, help), BENCH_PARSE_HELP);
    const char *version[] = {"clnet-bench", "--version"};
    assert_int_equal(parse(&o, err, sizeof err, 2, version), BENCH_PARSE_VERSION);
    const char *text = bench_options_help();
    const char *documented[] = {"--device", "--networks", "--batch",  "--repeat",
                                "--budget", "--json",     "--report", "--chart"};
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++)
        assert_non_null(strstr(text, documented[i]));
}

static void options_keep_the_command_line_quoted(void **state) {
    (void)state;
    char out[256];
    char *argv[] = {"/build/dir/clnet-bench", "--report", "my report.md", "--device", "it's"};
    bench_join_command(5, argv, out, sizeof out);
    assert_string_equal(out, "clnet-bench --report 'my report.md' --device 'it'\\''s'");
    char tiny[12];
    bench_join_command(5, argv, tiny, sizeof tiny);
    assert_true(strlen(tiny) < sizeof tiny);
}

/* ------------------------------------------------------------------------ */
/* Budget, prediction, consistency, parsing of child output                 */

static void budget_fits_as_many_runs_as_time_allows(void **state) {
    (void)state;
    bench_budget b = {100.0, 110.0}; /* 10 s long */
    assert_int_equal(bench_budget_runs(&b, 100.0, 1.0, 5, 3), 5);
    assert_int_equal(bench_budget_runs(&b, 100.0, 2.5, 5, 3), 4);
    assert_int_equal(bench_budget_runs(&b, 104.0, 2.5, 5, 3), 0); /* 2 fit, 3 needed */
    assert_int_equal(bench_budget_runs(&b, 120.0, 0.1, 5, 1), 0); /* spent */
    assert_int_equal(bench_budget_runs(&b, 100.0, NAN, 5, 3), 5); /* unknown length */
    assert_float_equal(bench_budget_left(&b, 104.0), 6.0, 1e-12);
    assert_float_equal(bench_budget_left(&b, 200.0), 0.0, 0.0);

    bench_budget unlimited = {0.0, INFINITY};
    assert_int_equal(bench_budget_runs(&unlimited, 1e9, 1e6, 7, 3), 7);
    assert_true(isinf(bench_budget_left(&unlimited, 5.0)));
}

static void budget_part_never_outlasts_the_whole(void **state) {
    (void)state;
    bench_budget whole = {0.0, 100.0};
    bench_budget part = bench_budget_part(&whole, 0.2, 10.0);
    assert_float_equal(part.deadline, 30.0, 1e-12);
    part = bench_budget_part(&whole, 0.2, 95.0);
    assert_float_equal(part.deadline, 100.0, 1e-12);
    bench_budget unlimited = {0.0, INFINITY};
    part = bench_budget_part(&unlimited, 0.2, 10.0);
    assert_true(isinf(part.deadline));
}

static void budget_zero_seconds_means_no_limit(void **state) {
    (void)state;
    bench_budget b = bench_budget_start(0.0);
    assert_true(isinf(b.deadline));
    b = bench_budget_start(5.0);
    assert_true(fabs(b.deadline - b.start - 5.0) < 1e-9);
}

static int calls;
static clnet_status count_call(void *arg) {
    (void)arg;
    calls++;
    return CLNET_STATUS_OK;
}
static clnet_status fail_third_call(void *arg) {
    (void)arg;
    return ++calls == 3 ? CLNET_STATUS_DEVICE_ERROR : CLNET_STATUS_OK;
}

static void timed_runs_do_the_repeat_count_and_stop_at_a_failure(void **state) {
    (void)state;
    double secs[6];
    int done = 0;
    calls = 0;
    assert_int_equal(bench_time_runs(count_call, NULL, 6, 3, 0.0, NULL, secs, &done),
                     CLNET_STATUS_OK);
    assert_int_equal(done, 6);
    assert_int_equal(calls, 6);
    for (int i = 0; i < 6; i++)
        assert_true(secs[i] >= 0.0);

    /* A spent budget still gets the runs asked for at least. */
    bench_budget spent = {0.0, 1.0};
    calls = 0;
    assert_int_equal(bench_time_runs(count_call, NULL, 6, 2, 0.0, &spent, secs, &done),
                     CLNET_STATUS_OK);
    assert_int_equal(done, 2);

    calls = 0;
    assert_int_equal(bench_time_runs(fail_third_call, NULL, 6, 3, 0.0, NULL, secs, &done),
                     CLNET_STATUS_DEVICE_ERROR);
    assert_int_equal(done, 2);
}

static void prediction_scales_per_image_time(void **state) {
    (void)state;
    assert_float_equal(bench_predict_seconds(0.01, 32, 5), 1.6, 1e-12);
    assert_true(isnan(bench_predict_seconds(NAN, 32, 5)));
    assert_true(isnan(bench_predict_seconds(0.0, 32, 5)));
}

static void profile_is_consistent_only_within_launch_overhead(void **state) {
    (void)state;
    /* 100 steps of 30 us launch latency allow 3 ms plus 10 % of the wall. */
    assert_true(bench_profile_consistent(95.0, 100.0, 100, 30.0));
    assert_true(bench_profile_consistent(100.0, 100.0, 100, 30.0));
    assert_false(bench_profile_consistent(80.0, 100.0, 100, 30.0));
    /* Steps summing to more than the wall clock are a measurement error. */
    assert_false(bench_profile_consistent(110.0, 100.0, 100, 30.0));
    /* Unknown latency: 20 us per step. */
    assert_true(bench_profile_consistent(9.0, 10.0, 40, NAN));
    assert_false(bench_profile_consistent(NAN, 10.0, 40, 30.0));
    assert_false(bench_profile_consistent(0.0, 10.0, 40, 30.0));
}

static void start_lines_parse_and_errors_carry_the_message(void **state) {
    (void)state;
    double open_s, build_s, first_s;
    char err[256];
    assert_int_equal(bench_start_parse("noise\nclnet-bench-start open_s=0.1 build_s=0.5 "
                                       "first_s=0.75\n",
                                       &open_s, &build_s, &first_s, err, sizeof err),
                     0);
    assert_float_equal(open_s, 0.1, 1e-12);
    assert_float_equal(build_s, 0.5, 1e-12);
    assert_float_equal(first_s, 0.75, 1e-12);
    assert_int_equal(bench_start_parse("clnet-bench-start error=opening the device: none\n",
                                       &open_s, &build_s, &first_s, err, sizeof err),
                     -1);
    assert_string_equal(err, "opening the device: none");
    assert_int_equal(bench_start_parse("segfault", &open_s, &build_s, &first_s, err, sizeof err),
                     -1);
    assert_string_equal(err, "");
    /* Stages out of order cannot come from a real start. */
    assert_int_equal(bench_start_parse("clnet-bench-start open_s=0.5 build_s=0.1 first_s=0.7",
                                       &open_s, &build_s, &first_s, err, sizeof err),
                     -1);
}

static void nominal_peak_follows_the_instruction_set(void **state) {
    (void)state;
    clnet_device_info d;
    memset(&d, 0, sizeof d);
    d.type = CLNET_DEVICE_TYPE_CPU;
    d.compute_units = 2;
    d.max_clock_mhz = 2500;
    char basis[160];
    assert_float_equal(bench_nominal_gflops(&d, " fpu sse2 avx fma avx2 bmi2", basis, sizeof basis),
                       160.0, 1e-9);
    assert_non_null(strstr(basis, "AVX2"));
    assert_float_equal(bench_nominal_gflops(&d, "sse2 avx2 fma avx512f", basis, sizeof basis),
                       320.0, 1e-9);
    /* "avx512" alone is not a flag; a substring must not count. */
    assert_float_equal(bench_nominal_gflops(&d, "sse2 avx512fx", basis, sizeof basis), 40.0, 1e-9);
    d.type = CLNET_DEVICE_TYPE_GPU;
    assert_float_equal(bench_nominal_gflops(&d, "avx2 fma", basis, sizeof basis), 0.0, 0.0);
    assert_non_null(strstr(basis, "--peak-gflops"));
}

/* ------------------------------------------------------------------------ */
/* Convolution-shaped GEMMs                                                 */

static void conv_shapes_of_resnet20_match_its_layers(void **state) {
    (void)state;
    clnet_graph *g;
    TEST_OK(clnet_model_builtin("resnet20v1", 1, &g));
    const clnet_graph *graphs[] = {g, g};
    const char *names[] = {"resnet20v1", "again"};
    bench_gemm_shape *shapes;
    int n;
    assert_int_equal(bench_conv_gemm_shapes(graphs, names, 1, &shapes, &n), 0);
    /* Stem 16x1024x27; 3x3 convs at 16, 32 and 64 channels; the two
     * strided 3x3 convs; the two 1x1 projections. */
    assert_int_equal(n, 8);
    int total = 0, found_stem = 0;
    for (int i = 0; i < n; i++) {
        total += shapes[i].count;
        if (shapes[i].m == 16 && shapes[i].n == 1024 && shapes[i].k == 27) {
            found_stem = 1;
            assert_int_equal(shapes[i].count, 1);
        }
        if (i > 0)
            assert_true(shapes[i - 1].macs >= shapes[i].macs);
        assert_non_null(strstr(shapes[i].where, "resnet20v1 x"));
    }
    assert_true(found_stem);
    assert_int_equal(total, 21); /* 19 3x3 convolutions and 2 projections */
    assert_int_equal(shapes[0].m, 16);
    assert_int_equal(shapes[0].n, 1024);
    assert_int_equal(shapes[0].k, 144);
    assert_int_equal(shapes[0].count, 6);
    free(shapes);

    /* The same graph twice doubles the counts and names both. */
    assert_int_equal(bench_conv_gemm_shapes(graphs, names, 2, &shapes, &n), 0);
    assert_int_equal(shapes[0].count, 12);
    assert_non_null(strstr(shapes[0].where, "again x6"));
    free(shapes);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Reports                                                                  */

static void rates_are_formatted_by_size(void **state) {
    (void)state;
    char buf[32];
    assert_string_equal(bench_fmt_rate(2345.4, buf, sizeof buf), "2345");
    assert_string_equal(bench_fmt_rate(12.34, buf, sizeof buf), "12.3");
    assert_string_equal(bench_fmt_rate(1.234, buf, sizeof buf), "1.23");
    assert_string_equal(bench_fmt_rate(0.01234, buf, sizeof buf), "0.0123");
    assert_string_equal(bench_fmt_rate(NAN, buf, sizeof buf), "-");
}

static void json_report_parses_and_holds_every_section(void **state) {
    (void)state;
    bench_results r;
    sample_results(&r);
    capture c;
    bench_report_json(capture_open(&c), &r);
    const char *text = capture_text(&c);
    cJSON *doc = cJSON_Parse(text);
    if (!doc)
        fail_msg("the JSON report does not parse near: %.40s", cJSON_GetErrorPtr());
    assert_string_equal(cJSON_GetObjectItem(doc, "tool")->valuestring, "clnet-bench");
    cJSON *device = cJSON_GetObjectItem(doc, "device");
    assert_string_equal(cJSON_GetObjectItem(device, "name")->valuestring, "Test & <Device>");
    cJSON *ceilings = cJSON_GetObjectItem(doc, "ceilings");
    assert_float_equal(cJSON_GetObjectItem(ceilings, "fma_gflops")->valuedouble, 120.0, 1e-9);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ceilings, "datasheet_gflops")));
    cJSON *start = cJSON_GetObjectItem(doc, "start");
    assert_float_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(start, "warm"), "first_batch_s")->valuedouble, 0.4,
        1e-9);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "gemm")), 2);
    cJSON *profile = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "profiles"), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(profile, "steps")), 2);
    cJSON *step = cJSON_GetArrayItem(cJSON_GetObjectItem(profile, "steps"), 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(step, "gflops"))); /* NaN becomes null */
    cJSON *nets = cJSON_GetObjectItem(doc, "networks");
    assert_int_equal(cJSON_GetArraySize(nets), 3);
    cJSON *first = cJSON_GetArrayItem(nets, 0);
    assert_float_equal(cJSON_GetObjectItem(first, "images_per_s")->valuedouble, 2000.0, 1e-9);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(first, "check"), "result")->valuestring, "pass");
    cJSON *skipped = cJSON_GetArrayItem(nets, 2);
    assert_string_equal(cJSON_GetObjectItem(skipped, "outcome")->valuestring, "skipped");
    assert_non_null(strstr(cJSON_GetObjectItem(skipped, "error")->valuestring, "20 s left"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "skipped")), 1);
    assert_int_equal(cJSON_GetObjectItem(doc, "failures")->valueint, 1); /* the failed check */
    cJSON_Delete(doc);
    free(c.text);
    bench_results_free(&r);
}

static void json_writer_escapes_strings(void **state) {
    (void)state;
    capture c;
    bench_json_quote(capture_open(&c), "a\"b\\c\nd\x01");
    const char *text = capture_text(&c);
    assert_string_equal(text, "\"a\\\"b\\\\c\\nd\\u0001\"");
    free(c.text);
}

static void markdown_report_has_tables_chart_skips_and_peer_markers(void **state) {
    (void)state;
    bench_results r;
    sample_results(&r);
    capture c;
    bench_report_markdown(capture_open(&c), &r, "report.svg");
    const char *md = capture_text(&c);
    const char *sections[] = {
        "# clnet-bench report",     "## Device ceilings", "## Images/s", "## Start", "## GEMM",
        "## Per-layer device time", "## Skipped",         "## Peers"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (!strstr(md, sections[i]))
            fail_msg("the report lacks '%s'", sections[i]);
    assert_non_null(strstr(md, "![images/s per network and batch size](report.svg)"));
    assert_non_null(strstr(md, "| resnet20v1 | 32 | **2000** |"));
    assert_non_null(strstr(md, "FAIL 5.0e-01"));
    assert_non_null(strstr(md, "| densenet100 | 256 | skipped |"));
    /* Batch 1 is listed before batch 32 of the same network. */
    assert_true(strstr(md, "| resnet20v1 | 1 |") < strstr(md, "| resnet20v1 | 32 |"));
    /* The pivot table has a column per batch size. */
    assert_non_null(strstr(md, "| network | M MACs/image | batch 1 | batch 32 | batch 256 |"));
    /* Table cells escape '|'; the device name keeps its text. */
    assert_non_null(strstr(md, "conv2d\\|odd"));
    assert_non_null(strstr(md, "Platform \\| one"));
    assert_non_null(strstr(md, "| 256 | 256 | 256 | 1 | 50.0 | 5.00 | 10.0 |"));
    assert_non_null(strstr(md, "25.00 s"));
    assert_int_equal(count_occurrences(md, BENCH_PEERS_BEGIN), 1);
    assert_int_equal(count_occurrences(md, BENCH_PEERS_END), 1);
    assert_true(strstr(md, BENCH_PEERS_BEGIN) < strstr(md, BENCH_PEERS_END));
    assert_null(strstr(md, "nan"));
    free(c.text);
    bench_results_free(&r);
}

static void markdown_leaves_out_sections_not_run(void **state) {
    (void)state;
    bench_results r;
    sample_results(&r);
    r.sections = BENCH_SECTION_NETWORKS;
    capture c;
    bench_report_markdown(capture_open(&c), &r, NULL);
    const char *md = capture_text(&c);
    assert_null(strstr(md, "## GEMM"));
    assert_null(strstr(md, "## Start"));
    assert_null(strstr(md, "!["));
    assert_non_null(strstr(md, "## Images/s"));
    free(c.text);
    bench_results_free(&r);
}

static void svg_chart_has_one_bar_per_measured_row(void **state) {
    (void)state;
    bench_results r;
    sample_results(&r);
    capture c;
    bench_chart_svg(capture_open(&c), &r);
    const char *svg = capture_text(&c);
    assert_true(!strncmp(svg, "<?xml", 5));
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(svg, "</svg>\n"));
    /* Two measured rows, the skipped one has no bar. */
    assert_int_equal(count_occurrences(svg, "<title>"), 2);
    assert_non_null(strstr(svg, "resnet20v1, batch 32: 2000 images/s</title>"));
    /* The row whose check failed is marked, not shown as a result. */
    assert_non_null(strstr(svg, "resnet20v1, batch 1: 500 images/s, wrong result"));
    assert_int_equal(count_occurrences(svg, "(wrong result)"), 1);
    assert_non_null(strstr(svg, "Test &amp; &lt;Device&gt;"));
    assert_non_null(strstr(svg, ">batch 1<"));
    assert_non_null(strstr(svg, ">batch 32<"));
    assert_null(strstr(svg, "nan"));
    assert_null(strstr(svg, "inf"));
    free(c.text);
    bench_results_free(&r);
}

static void svg_chart_without_data_says_so(void **state) {
    (void)state;
    bench_results r;
    bench_results_init(&r);
    capture c;
    bench_chart_svg(capture_open(&c), &r);
    const char *svg = capture_text(&c);
    assert_non_null(strstr(svg, "No network was measured"));
    assert_non_null(strstr(svg, "</svg>"));
    free(c.text);
    bench_results_free(&r);
}

static void text_report_shows_failures_and_skips(void **state) {
    (void)state;
    bench_results r;
    sample_results(&r);
    capture c;
    FILE *f = capture_open(&c);
    bench_report_text_header(f, &r);
    bench_report_text_section(f, &r, BENCH_SECTION_CEILINGS);
    bench_report_text_section(f, &r, BENCH_SECTION_START);
    bench_report_text_section(f, &r, BENCH_SECTION_GEMM);
    bench_report_text_section(f, &r, BENCH_SECTION_LAYERS);
    bench_report_text_section(f, &r, BENCH_SECTION_NETWORKS);
    bench_report_text_footer(f, &r);
    const char *text = capture_text(&c);
    assert_non_null(strstr(text, "FMA peak"));
    assert_non_null(strstr(text, "75% of the nominal 160.0 GFLOP/s"));
    assert_non_null(strstr(text, "FAIL 5.0e-01"));
    assert_non_null(strstr(text, "skipped: predicted 90 s, 20 s left"));
    assert_non_null(strstr(text, "clblast: first call 25.00 s"));
    assert_non_null(strstr(text, ": consistent"));
    assert_non_null(strstr(text, "1 failed"));
    free(c.text);
    bench_results_free(&r);
}

static void report_files_are_written_with_a_relative_chart_link(void **state) {
    (void)state;
    bench_results r;
    sample_results(&r);
    char dir[] = "/tmp/clnet-test-bench-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char md_path[128], svg_path[128], err[256];
    snprintf(md_path, sizeof md_path, "%s/out.md", dir);
    assert_int_equal(bench_chart_path_for(md_path, svg_path, sizeof svg_path), 0);
    assert_non_null(strstr(svg_path, "/out.svg"));
    assert_int_equal(bench_report_write_files(&r, md_path, svg_path, err, sizeof err), 0);
    size_t n;
    char *text = (char *)test_read_file(md_path, &n);
    text[n] = '\0';
    assert_non_null(strstr(text, "](out.svg)"));
    free(text);
    FILE *f = fopen(svg_path, "r");
    assert_non_null(f);
    fclose(f);
    test_remove_dir(dir);

    assert_int_equal(bench_report_write_files(&r, "/nonexistent-dir/x.md", NULL, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x.md"));
    char other[32];
    assert_int_equal(bench_chart_path_for("report", other, sizeof other), 0);
    assert_string_equal(other, "report.svg");
    bench_results_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_median_of_odd_and_even_counts),
        cmocka_unit_test(stats_summary_has_min_max_mean_and_percentiles),
        cmocka_unit_test(stats_percentile_interpolates_between_ranks),
        cmocka_unit_test(stats_ignore_nan_and_infinite_samples),
        cmocka_unit_test(stats_of_no_samples_are_nan),
        cmocka_unit_test(max_rel_error_scales_by_largest_expected),
        cmocka_unit_test(options_default_to_every_network_at_three_batch_sizes),
        cmocka_unit_test(options_parse_lists_numbers_and_flags),
        cmocka_unit_test(options_all_names_every_default_network),
        cmocka_unit_test(options_only_and_skip_choose_sections),
        cmocka_unit_test(options_profile_none_profiles_nothing),
        cmocka_unit_test(options_reject_bad_values_with_the_option_named),
        cmocka_unit_test(options_help_and_version_stop_parsing),
        cmocka_unit_test(options_keep_the_command_line_quoted),
        cmocka_unit_test(budget_fits_as_many_runs_as_time_allows),
        cmocka_unit_test(budget_part_never_outlasts_the_whole),
        cmocka_unit_test(budget_zero_seconds_means_no_limit),
        cmocka_unit_test(timed_runs_do_the_repeat_count_and_stop_at_a_failure),
        cmocka_unit_test(prediction_scales_per_image_time),
        cmocka_unit_test(profile_is_consistent_only_within_launch_overhead),
        cmocka_unit_test(start_lines_parse_and_errors_carry_the_message),
        cmocka_unit_test(nominal_peak_follows_the_instruction_set),
        cmocka_unit_test(conv_shapes_of_resnet20_match_its_layers),
        cmocka_unit_test(rates_are_formatted_by_size),
        cmocka_unit_test(json_report_parses_and_holds_every_section),
        cmocka_unit_test(json_writer_escapes_strings),
        cmocka_unit_test(markdown_report_has_tables_chart_skips_and_peer_markers),
        cmocka_unit_test(markdown_leaves_out_sections_not_run),
        cmocka_unit_test(svg_chart_has_one_bar_per_measured_row),
        cmocka_unit_test(svg_chart_without_data_says_so),
        cmocka_unit_test(text_report_shows_failures_and_skips),
        cmocka_unit_test(report_files_are_written_with_a_relative_chart_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
