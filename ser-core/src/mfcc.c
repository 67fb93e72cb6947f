/* mfcc: not yet written */
#include "ser.h"
