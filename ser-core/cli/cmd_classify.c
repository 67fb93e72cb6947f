/* ser classify: not yet written. */
#include <stdio.h>

#include "cli.h"

int cmd_classify(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "ser classify: not implemented yet\n");
  return EXIT_USAGE;
}
