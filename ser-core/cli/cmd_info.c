/* ser info: not yet written. */
#include <stdio.h>

#include "cli.h"

int cmd_info(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "ser info: not implemented yet\n");
  return EXIT_USAGE;
}
