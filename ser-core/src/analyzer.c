/* analyzer: not yet written */
#include "ser.h"
