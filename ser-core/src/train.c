/* train: not yet written */
#include "ser.h"
