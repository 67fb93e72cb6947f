/* augment: not yet written */
#include "ser.h"
