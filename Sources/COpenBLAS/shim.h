#ifndef MG_COPENBLAS_SHIM_H
#define MG_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
// OpenBLAS exposes its thread count; tensors set it once so BLAS and our loops share both cores.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
