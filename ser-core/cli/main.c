/* ser: classify files, extract features, train and evaluate models. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ser.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *help;
} commands[] = {
    {"features", cmd_features, "MFCC features of an audio file (npy or csv)"},
    {"classify", cmd_classify, "emotion of audio files, per window or per file"},
    {"info", cmd_info, "describe a .sermodel file"},
    {"train", cmd_train, "train a model on emotional speech corpora"},
    {"eval", cmd_eval, "evaluate speaker-independently (LOSO, k-fold) or by the paper's protocol"},
};

static void usage(FILE *f) {
  fprintf(f, "Usage: ser COMMAND [OPTIONS] ...\n\nSpeech emotion recognition (seremotion %s).\n\nCommands:\n",
          ser_version());
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "\n'ser COMMAND --help' describes a command.\n"
             "Environment: OPENBLAS_NUM_THREADS=1 is advised (docs/threads.md); SER_CONV=blas runs the\n"
             "convolutions through OpenBLAS instead of ser-core's kernel (AVX-512 or AVX2 + FMA), and\n"
             "SER_CONV=avx2 the AVX2 kernel on an AVX-512 CPU (both for comparisons).\n"
             "Exit status: 0 success, 1 usage error, 2 bad input.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("ser %s\n", ser_version());
    return EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "ser: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return EXIT_USAGE;
}
