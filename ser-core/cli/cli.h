/* The `ser` command-line tool: shared declarations. */
#ifndef SER_CLI_H
#define SER_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses (SPEC section 6). */
enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_BADINPUT = 2 };

int cmd_features(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
/* ser eval --from-predictions (eval_report.c): the report of --predictions files */
int cmd_eval_predictions(int argc, char **argv);

/* After the fold lines of ser eval: with 2 or more folds, the line "mean of the
 * N folds: WA ..% UA ..% F1 ..%" of the folds' confusion matrices. */
struct ser_confusion;
void cli_folds_mean(const struct ser_confusion *folds, uint32_t n);

/* The end of ser eval's report: the interval by speaker (spk: one confusion
 * matrix per speaker, resampled with `seed`), then --json (with the folds'
 * and speakers' scores) and --svg when given. -1 after a message naming the
 * file that could not be written. */
int cli_eval_report_tail(const struct ser_confusion *total, const char *const *spk_names,
                         const struct ser_confusion *spk, uint32_t n_spk, const char *const *fold_names,
                         const struct ser_confusion *folds, uint32_t n_folds, const char *const *lab, uint64_t seed,
                         const char *json, const char *svg, const char *title);

/* s as one CSV field (RFC 4180: quoted when it holds , " or a line break). */
void cli_csv_str(FILE *o, const char *s);

/* 0 if `path`, given to option `opt` (e.g. "-o"), may be written: "-"
 * (stdout), or a file that is none of inputs[0..n_inputs) (compared by
 * device and inode) in a folder that exists and is writable. Otherwise -1,
 * after a message on stderr that names the option, the path and the
 * problem. Called before any work, so nothing is lost at the end. */
int cli_output_ok(const char *cmd, const char *opt, const char *path, const char *const *inputs, int n_inputs);

/* Decode any file GStreamer can read to mono float32 at `rate` Hz
 * (decodebin ! audioconvert ! audioresample ! appsink). On success *out is
 * malloc'd with *n samples. On failure returns -1 with a message naming the
 * file and the problem in err. */
int ser_decode_file(const char *path, uint32_t rate, float **out, size_t *n,
                    char *err, size_t errlen);

#endif
