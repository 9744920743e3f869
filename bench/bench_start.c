/* Cold and warm start in child processes (see bench_start.h). */
#define _POSIX_C_SOURCE 200809L /* fork, pipe, mkdtemp, nftw, setenv, kill */
#define _XOPEN_SOURCE   700     /* nftw */
#include "bench_start.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_stats.h"
#include "clnet.h"

#define LINE_PREFIX   "clnet-bench-start "
#define MAX_WARM_RUNS 16
/* A cold start compiles every kernel of a network; on a slow CPU that is
 * minutes at worst. */
#define CHILD_TIMEOUT_S 600.0

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Child                                                                    */

int bench_start_child(const bench_options *o) {
    double t0 = bench_now();
    const char *env = getenv(BENCH_START_T0_ENV);
    if (env) {
        char *end = NULL;
        double spawned = strtod(env, &end);
        if (end != env && isfinite(spawned) && spawned <= t0)
            t0 = spawned;
    }
    clnet_context *ctx = NULL;
    clnet_graph *g = NULL;
    clnet_net *net = NULL;
    float *in = NULL, *out = NULL;
    const char *failed = NULL;
    double open_s = NAN, build_s = NAN, first_s = NAN;

    if (clnet_context_create(o->device, NULL, &ctx) != CLNET_STATUS_OK) {
        failed = "opening the device";
        goto done;
    }
    open_s = bench_now() - t0;
    if (clnet_model_builtin(BENCH_START_NETWORK, o->seed, &g) != CLNET_STATUS_OK) {
        failed = "building " BENCH_START_NETWORK;
        goto done;
    }
    if (clnet_net_create(ctx, g, NULL, &net) != CLNET_STATUS_OK) {
        failed = "compiling " BENCH_START_NETWORK;
        goto done;
    }
    build_s = bench_now() - t0;
    clnet_shape si, so;
    if (clnet_tensor_shape(g, clnet_graph_input_at(g, 0), &si) != CLNET_STATUS_OK ||
        clnet_tensor_shape(g, clnet_graph_output_at(g, 0), &so) != CLNET_STATUS_OK) {
        failed = "reading the shapes";
        goto done;
    }
    size_t n_in = clnet_shape_size(si) * (size_t)o->start_batch;
    in = malloc(n_in * sizeof *in);
    out = malloc(clnet_shape_size(so) * (size_t)o->start_batch * sizeof *out);
    if (!in || !out) {
        failed = "allocating the batch";
        goto done;
    }
    for (size_t i = 0; i < n_in; i++)
        in[i] = (float)(i % 255) / 255.0f;
    if (clnet_net_run(net, o->start_batch, (const float *const *)&in, &out) != CLNET_STATUS_OK) {
        failed = "running the first batch";
        goto done;
    }
    first_s = bench_now() - t0;

done:
    if (failed) {
        /* One line: the parent keeps the first line that carries the prefix. */
        printf(LINE_PREFIX "error=%s: ", failed);
        for (const char *p = clnet_last_error(); *p; p++)
            putchar(*p == '\n' ? ' ' : *p);
        putchar('\n');
    } else {
        printf(LINE_PREFIX "open_s=%.6f build_s=%.6f first_s=%.6f\n", open_s, build_s, first_s);
    }
    fflush(stdout);
    free(in);
    free(out);
    clnet_net_destroy(net);
    clnet_graph_destroy(g);
    clnet_context_destroy(ctx);
    return failed ? 1 : 0;
}

int bench_start_parse(const char *line, double *open_s, double *build_s, double *first_s, char *err,
                      size_t err_size) {
    const char *p = strstr(line, LINE_PREFIX);
    if (err && err_size)
        err[0] = '\0';
    if (!p)
        return -1;
    p += strlen(LINE_PREFIX);
    if (!strncmp(p, "error=", 6)) {
        if (err && err_size) {
            snprintf(err, err_size, "%s", p + 6);
            err[strcspn(err, "\n")] = '\0';
        }
        return -1;
    }
    if (sscanf(p, "open_s=%lf build_s=%lf first_s=%lf", open_s, build_s, first_s) != 3)
        return -1;
    if (!isfinite(*open_s) || !isfinite(*build_s) || !isfinite(*first_s) || *open_s < 0 ||
        *build_s < *open_s || *first_s < *build_s)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Parent                                                                   */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The benchmark's own executable. */
static void self_path(const char *argv0, char *out, size_t size) {
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    if (n > 0) {
        out[n] = '\0';
        return;
    }
    snprintf(out, size, "%s", argv0);
}

/* Whether an environment entry sets one of the variables the child gets. */
static int overridden(const char *entry) {
    static const char *const names[] = {
        "POCL_CACHE_DIR=", "CLNET_CACHE_DIR=", BENCH_START_T0_ENV "="};
    for (int i = 0; i < 3; i++)
        if (!strncmp(entry, names[i], strlen(names[i])))
            return 1;
    return 0;
}

/* Spawns one child with the caches in dir, reads its line, waits for it.
 * Returns 0 and the times, or -1 with a sentence in err. */
static int run_child(const char *exe, const char *dir, const bench_options *o, double *open_s,
                     double *build_s, double *first_s, char *err, size_t err_size) {
    char pocl_env[1100], clnet_env[1100], t0_env[64], batch[16], seed[32];
    snprintf(pocl_env, sizeof pocl_env, "POCL_CACHE_DIR=%s/pocl", dir);
    snprintf(clnet_env, sizeof clnet_env, "CLNET_CACHE_DIR=%s/clnet", dir);
    snprintf(batch, sizeof batch, "%d", o->start_batch);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    char *args[12];
    int na = 0;
    args[na++] = (char *)exe;
    args[na++] = "--start-child";
    args[na++] = "--start-batch";
    args[na++] = batch;
    args[na++] = "--seed";
    args[na++] = seed;
    if (o->device) {
        args[na++] = "--device";
        args[na++] = (char *)o->device;
    }
    args[na] = NULL;

    /* The environment is prepared here: between fork and exec the child
     * may only make async-signal-safe calls (the OpenCL runtime has threads). */
    size_t n_env = 0;
    while (environ && environ[n_env])
        n_env++;
    char **envp = malloc((n_env + 4) * sizeof *envp);
    if (!envp) {
        snprintf(err, err_size, "preparing the child's environment: out of memory");
        return -1;
    }
    size_t ne = 0;
    for (size_t i = 0; i < n_env; i++)
        if (!overridden(environ[i]))
            envp[ne++] = environ[i];
    envp[ne++] = pocl_env;
    envp[ne++] = clnet_env;
    envp[ne++] = t0_env;
    envp[ne] = NULL;

    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, err_size, "creating a pipe: %s", strerror(errno));
        free(envp);
        return -1;
    }
    fflush(NULL);
    double spawned = bench_now();
    snprintf(t0_env, sizeof t0_env, BENCH_START_T0_ENV "=%.9f", spawned);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, err_size, "starting a child process: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(envp);
        return -1;
    }
    if (pid == 0) {
        /* The child: its stdout and stderr go to the pipe. */
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execve(exe, args, envp);
        _exit(127);
    }
    free(envp);
    close(fds[1]);

    /* Collect everything the child writes, up to a limit, until it closes. */
    char buf[16384];
    size_t used = 0;
    int timed_out = 0;
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        double left = CHILD_TIMEOUT_S - (bench_now() - spawned);
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int ready = poll(&pfd, 1, (int)(left * 1000.0) + 1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0) {
            timed_out = ready == 0;
            break;
        }
        char chunk[4096];
        ssize_t got = read(fds[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size_t keep = (size_t)got < sizeof buf - 1 - used ? (size_t)got : sizeof buf - 1 - used;
        memcpy(buf + used, chunk, keep);
        used += keep;
    }
    buf[used] = '\0';
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out) {
        snprintf(err, err_size, "the child did not finish within %.0f s", CHILD_TIMEOUT_S);
        return -1;
    }
    char why[512];
    if (bench_start_parse(buf, open_s, build_s, first_s, why, sizeof why) == 0 &&
        WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (why[0]) {
        size_t len = strlen(why) < err_size - 1 ? strlen(why) : err_size - 1;
        memcpy(err, why, len);
        err[len] = '\0';
    } else {
        /* No result line: show the child's last output line. */
        char *last = buf;
        for (char *p = buf; *p; p++)
            if (*p == '\n' && p[1])
                last = p + 1;
        last[strcspn(last, "\n")] = '\0';
        snprintf(err, err_size, "the child exited with status %d without a result%s%.200s",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, *last ? ": " : "", last);
    }
    return -1;
}

static void record(bench_start *s, const double *open_s, const double *build_s,
                   const double *first_s, int runs) {
    bench_stats st;
    s->runs = runs;
    s->open_s = bench_median(open_s, runs);
    s->build_s = bench_median(build_s, runs);
    bench_stats_compute(first_s, runs, &st);
    s->first_s = st.median;
    s->min_first_s = st.min;
    s->max_first_s = st.max;
    s->outcome = BENCH_OK;
}

void bench_start_run(const char *argv0, const bench_options *o, const bench_budget *budget,
                     bench_progress *progress, bench_results *r) {
    char exe[1024], dir[1024];
    bench_start *cold = &r->starts[0], *warm = &r->starts[1];
    snprintf(r->start_info.network, sizeof r->start_info.network, "%s", BENCH_START_NETWORK);
    r->start_info.batch = o->start_batch;
    if (bench_budget_left(budget, bench_now()) <= 0) {
        for (int i = 0; i < 2; i++) {
            r->starts[i].outcome = BENCH_SKIPPED;
            snprintf(r->starts[i].error, sizeof r->starts[i].error, "budget spent");
        }
        bench_results_skip(r, "cold and warm start", "budget spent");
        return;
    }
    self_path(argv0, exe, sizeof exe);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/clnet-bench-start-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        for (int i = 0; i < 2; i++) {
            r->starts[i].outcome = BENCH_FAILED;
            snprintf(r->starts[i].error, sizeof r->starts[i].error,
                     "creating a temporary folder: %s", strerror(errno));
        }
        return;
    }
    snprintf(r->start_info.cache_dir, sizeof r->start_info.cache_dir, "%s", dir);
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/pocl", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/clnet", dir);
    mkdir(sub, 0700);

    double open_s[MAX_WARM_RUNS], build_s[MAX_WARM_RUNS], first_s[MAX_WARM_RUNS];
    bench_progress_show(progress, "start: cold (empty caches: every kernel is compiled)");
    if (run_child(exe, dir, o, &open_s[0], &build_s[0], &first_s[0], cold->error,
                  sizeof cold->error) == 0)
        record(cold, open_s, build_s, first_s, 1);
    else
        cold->outcome = BENCH_FAILED;

    int wanted = o->start_warm_runs < MAX_WARM_RUNS ? o->start_warm_runs : MAX_WARM_RUNS;
    int runs = 0;
    for (int i = 0; i < wanted && cold->outcome == BENCH_OK; i++) {
        /* A warm start should take far less than a cold one; stop at the
         * budget, once one is done. */
        if (i > 0 && bench_budget_left(budget, bench_now()) < first_s[0])
            break;
        bench_progress_show(progress, "start: warm %d of %d", i + 1, wanted);
        if (run_child(exe, dir, o, &open_s[i], &build_s[i], &first_s[i], warm->error,
                      sizeof warm->error) != 0) {
            runs = -1;
            break;
        }
        runs++;
    }
    if (cold->outcome != BENCH_OK) {
        warm->outcome = BENCH_SKIPPED;
        snprintf(warm->error, sizeof warm->error, "the cold start failed");
    } else if (runs > 0) {
        record(warm, open_s, build_s, first_s, runs);
    } else {
        warm->outcome = BENCH_FAILED;
    }
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "clnet-bench: could not remove the temporary folder %s\n", dir);
}
