/* ser train: not yet written. */
#include <stdio.h>

#include "cli.h"

int cmd_train(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "ser train: not implemented yet\n");
  return EXIT_USAGE;
}
