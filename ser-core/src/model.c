/* model: not yet written */
#include "ser.h"
