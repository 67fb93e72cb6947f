/* ser-core: training (backpropagation, Adam). Owned by the training work;
 * see docs/training.md. */
#ifndef SER_TRAIN_H
#define SER_TRAIN_H

#include "model.h"
#include "augment.h"

#ifdef __cplusplus
extern "C" {
#endif

/* (filled in by the training implementation) */

#ifdef __cplusplus
}
#endif
#endif
