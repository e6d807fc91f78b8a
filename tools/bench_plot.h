/* bench_plot.h — `hobbes-bench plot`: charts of hobbes-bench JSON results
 * with gnuplot (see bench_plot.c). */
#ifndef BENCH_PLOT_H
#define BENCH_PLOT_H

/* Runs `hobbes-bench plot [--out PREFIX] [--title T] [--labels a,b,...]
 * RESULT.json ...` (argv[1] is "plot"). Returns the exit code: 0 when the
 * charts were written, 1 when gnuplot failed or no result had anything to
 * plot, 2 for bad usage or a malformed result file. */
int bench_plot_main(int argc, char **argv);

/* Prints the plot usage lines to stderr. */
void bench_plot_usage(void);

#endif
