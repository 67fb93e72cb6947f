/* ser-core: speech emotion recognition, plain C (FFTW3, OpenBLAS, libm). */
#ifndef SER_H
#define SER_H
#include "ser/common.h"
#include "ser/features.h"
#include "ser/spknorm.h"
#include "ser/model.h"
#include "ser/net.h"
#include "ser/analyzer.h"
#include "ser/augment.h"
#include "ser/corpus.h"
#include "ser/metrics.h"
#include "ser/train.h"
#endif
