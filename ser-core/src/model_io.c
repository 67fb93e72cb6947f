/* model_io: not yet written */
#include "ser.h"
