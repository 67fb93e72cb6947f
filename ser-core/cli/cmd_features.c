/* ser features: not yet written. */
#include <stdio.h>

#include "cli.h"

int cmd_features(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "ser features: not implemented yet\n");
  return EXIT_USAGE;
}
