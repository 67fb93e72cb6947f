/* metrics: not yet written */
#include "ser.h"
