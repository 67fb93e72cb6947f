/* corpus: not yet written */
#include "ser.h"
