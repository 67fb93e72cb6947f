/* net: not yet written */
#include "ser.h"
