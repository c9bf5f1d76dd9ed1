/* pintdiff: model parameters from HDF5 files (layouts in docs/DATA.md).
 *
 * GMM file:     /weights [K], /means [K, d] or [K, *shape], /variances [K] (isotropic) or [K, d] or
 *               [K, *shape] (diagonal); optional int64 attribute `shape` on / (the data shape of one
 *               sample, product d) when /means is [K, d].
 * Dataset file: /data [M, *shape], float32 or float64; optional string attributes `description`,
 *               `source` on /.
 * Every problem is PD_ERR_INPUT with a message naming the file, the dataset or attribute and what
 * was expected ("x.h5: /means: expected 2 dimensions [K, d] with K = 8 (from /weights), got [8]").
 * Serial HDF5 calls (default file access), one process; HDF5's own error printing is off during the
 * read and restored afterwards. */
#ifndef PD_IO_MODEL_FILE_H
#define PD_IO_MODEL_FILE_H

#include "pintdiff/model.h"
#include "pintdiff/status.h"

/* out: a gmm model (pd_model_gmm_create) with the file's parameters. */
pd_status pd_model_load_gmm_file(pd_ctx *ctx, const char *path, pd_model **out);
/* out: a dataset model (pd_model_dataset_create) over the file's rows. */
pd_status pd_model_load_dataset_file(pd_ctx *ctx, const char *path, pd_model **out);

#endif
