/* Fused kernel-field reductions on the CPU (float32), compiled at first use by
 * pushforward.fields.fused and called through ctypes.
 *
 * Points: x [n, d] row-major, y given transposed as yT [d, m] (so the inner loop over the
 * columns j is contiguous and vectorises). The kernel logit of a pair is
 *     laplace:  l_ij = -a * ||x_i - y_j||        (a = 1/tau)
 *     gaussian: l_ij = -a * ||x_i - y_j||^2      (a = 1/(2 tau^2))
 * plus an optional column bias b_j; the pair (i, j = i + off) is masked when `mask` is set.
 *
 * pf_reduce: for every row, in one sweep over column tiles held in a cache-resident buffer,
 *     lse_i  = log sum_j exp(l_ij + b_j)
 *     mean_i = sum_j softmax_j(l_i. + b) y_j         (optional)
 * with an online maximum (a tile raising the maximum rescales the running sums once), so
 * the [n, m] logits never exist in memory: one exp per pair.
 *
 * pf_block_stats / pf_block_softmax: the same reductions on a block of logits that a BLAS
 * product already made (large d), in place: two sweeps instead of a dozen tensor ops.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PF_MASK (-1e30f)
#define PF_TILE 1024
#define PF_LOW (-3.0e38f) /* below every logit: a running maximum's start */

/* exp(x), float32, relative error ~2 ulp; exactly 0 below -87 (so masked logits give 0).
 * Cephes' range reduction and polynomial, written so that the compiler vectorises loops
 * that call it (no libm call, no branch). */
static inline float pf_exp(float x) {
    float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = floorf(xc * 1.44269504088896341f + 0.5f);
    float r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.0f ? 0.0f : p * scale;
}

static int pf_threads(int threads) { return threads > 0 ? threads : 1; }

/* logits of row x_i against columns [j0, j1) into buf (relative index) */
static inline void pf_row_logits(const float *xi, const float *yT, int64_t m, int64_t d,
                                 int64_t j0, int64_t j1, float a, int gaussian,
                                 const float *bias, float *buf) {
    int64_t w = j1 - j0;
    for (int64_t t = 0; t < w; t++) buf[t] = 0.0f;
    for (int64_t k = 0; k < d; k++) {
        const float *yk = yT + k * m + j0;
        float xk = xi[k];
        for (int64_t t = 0; t < w; t++) {
            float diff = xk - yk[t];
            buf[t] += diff * diff;
        }
    }
    if (gaussian) {
        for (int64_t t = 0; t < w; t++) buf[t] = -a * buf[t];
    } else {
        for (int64_t t = 0; t < w; t++) buf[t] = -a * sqrtf(buf[t]);
    }
    if (bias) {
        for (int64_t t = 0; t < w; t++) buf[t] += bias[j0 + t];
    }
}

/* Row log-sum-exps (and softmax means) of the kernel logits of x against y.
 * x [n, d], yT [d, m]; bias [m] or NULL; mask_off: the column masked in row i is i + mask_off
 * (mask = 0: none); lse [n]; mean [n, d] or NULL. */
void pf_reduce(const float *x, int64_t n, const float *yT, int64_t m, int64_t d, float a,
               int gaussian, const float *bias, int mask, int64_t mask_off, float *lse,
               float *mean, int threads) {
#pragma omp parallel num_threads(pf_threads(threads))
    {
        float *buf = (float *)malloc(sizeof(float) * PF_TILE);
        float *acc = mean ? (float *)malloc(sizeof(float) * (size_t)d) : NULL;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            const float *xi = x + i * d;
            float top = PF_LOW, total = 0.0f;
            if (acc) memset(acc, 0, sizeof(float) * (size_t)d);
            for (int64_t j0 = 0; j0 < m; j0 += PF_TILE) {
                int64_t j1 = j0 + PF_TILE < m ? j0 + PF_TILE : m;
                int64_t w = j1 - j0;
                pf_row_logits(xi, yT, m, d, j0, j1, a, gaussian, bias, buf);
                int64_t jm = i + mask_off;
                if (mask && jm >= j0 && jm < j1) buf[jm - j0] = PF_MASK;
                float tile_top = PF_LOW;
                for (int64_t t = 0; t < w; t++) tile_top = buf[t] > tile_top ? buf[t] : tile_top;
                if (tile_top > top) { /* rescale what was summed under the old maximum */
                    float f = top <= PF_LOW ? 0.0f : expf(top - tile_top);
                    total *= f;
                    if (acc)
                        for (int64_t k = 0; k < d; k++) acc[k] *= f;
                    top = tile_top;
                }
                float s = 0.0f;
                for (int64_t t = 0; t < w; t++) {
                    float e = pf_exp(buf[t] - top);
                    buf[t] = e;
                    s += e;
                }
                total += s;
                if (acc) {
                    for (int64_t k = 0; k < d; k++) {
                        const float *yk = yT + k * m + j0;
                        float dot = 0.0f;
                        for (int64_t t = 0; t < w; t++) dot += buf[t] * yk[t];
                        acc[k] += dot;
                    }
                }
            }
            lse[i] = top + logf(total);
            if (acc)
                for (int64_t k = 0; k < d; k++) mean[i * d + k] = acc[k] / total;
        }
        free(buf);
        free(acc);
    }
}

#define PF_ROWS 32

/* Folds rows [i0, i1) of the columns [j0, j0 + w) of v [., m], each row shifted by
 * row_bias[i] (NULL: 0), into running column log-sum-exps kept as (top [w], sum [w]): top
 * starts at PF_LOW and sum at 0; a column's sum is rescaled once when its maximum grows. */
static inline void pf_fold_cols(const float *v, int64_t m, int64_t i0, int64_t i1, int64_t j0,
                                int64_t w, const float *row_bias, float *top, float *sum) {
    float tile[PF_TILE];
    for (int64_t t = 0; t < w; t++) tile[t] = top[t];
    for (int64_t i = i0; i < i1; i++) {
        const float *row = v + i * m + j0;
        float r = row_bias ? row_bias[i] : 0.0f;
        for (int64_t t = 0; t < w; t++) tile[t] = row[t] + r > tile[t] ? row[t] + r : tile[t];
    }
    for (int64_t t = 0; t < w; t++) { /* rescale the running sums to the new maximum */
        sum[t] *= top[t] <= PF_LOW ? 0.0f : pf_exp(top[t] - tile[t]);
        top[t] = tile[t];
    }
    for (int64_t i = i0; i < i1; i++) {
        const float *row = v + i * m + j0;
        float r = row_bias ? row_bias[i] : 0.0f;
        for (int64_t t = 0; t < w; t++) sum[t] += pf_exp(row[t] + r - top[t]);
    }
}

/* A block of rows [start, start + c) of the logits, made by BLAS as v [c, m] (laplace: squared
 * distances; gaussian: the logits themselves), turned into logits in place (laplace:
 * -a * sqrt(max(v, 0))), self-pairs (i, start + i) set to PF_MASK when `mask`; writes the rows'
 * log-sum-exps to row_lse [c] and folds the block's columns into the running column
 * log-sum-exps kept as (col_top [m], col_sum [m]) (col_top starts at PF_LOW, col_sum at 0).
 * The block is walked once from memory: PF_ROWS rows at a time, first their row sums (each row
 * in cache), then the same rows' column sums while they are still in cache (a column's running
 * sum is rescaled once per PF_ROWS rows when its maximum grows). */
void pf_block_stats(float *v, int64_t c, int64_t m, float a, int laplace, int mask,
                    int64_t start, float *row_lse, float *col_top, float *col_sum,
                    int threads) {
#pragma omp parallel num_threads(pf_threads(threads))
    for (int64_t i0 = 0; i0 < c; i0 += PF_ROWS) {
        int64_t i1 = i0 + PF_ROWS < c ? i0 + PF_ROWS : c;
#pragma omp for schedule(static)
        for (int64_t i = i0; i < i1; i++) {
            float *row = v + i * m;
            if (laplace)
                for (int64_t j = 0; j < m; j++) row[j] = -a * sqrtf(row[j] > 0.0f ? row[j] : 0.0f);
            if (mask && start + i < m) row[start + i] = PF_MASK;
            float top = PF_LOW;
            for (int64_t j = 0; j < m; j++) top = row[j] > top ? row[j] : top;
            float s = 0.0f;
            for (int64_t j = 0; j < m; j++) s += pf_exp(row[j] - top);
            row_lse[i] = top + logf(s);
        } /* implicit barrier: the tile's logits are final */
#pragma omp for schedule(static)
        for (int64_t j0 = 0; j0 < m; j0 += PF_TILE) {
            int64_t w = j0 + PF_TILE < m ? PF_TILE : m - j0;
            pf_fold_cols(v, m, i0, i1, j0, w, NULL, col_top + j0, col_sum + j0);
        }
    }
}

/* The second pass of the paper field on a block of rows [start, start + c) of the logits
 * v [c, m]. With `raw`, v is the BLAS output and is first turned into logits as in
 * pf_block_stats (laplace: -a * sqrt(max(v, 0)); self-pairs masked when `mask`). Then
 * col_bias [m] (NULL: none) is subtracted and, per row and per part ([0, m_neg) and
 * [m_neg, m)), the logits become softmax weights in place, the negatives' weights negated, so
 * that v @ [y_neg; y_pos] is the mean-shift difference; the parts' log-sum-exps go to
 * lse_neg [c] and lse_pos [c]. */
void pf_block_softmax(float *v, int64_t c, int64_t m, int64_t m_neg, int raw, float a,
                      int laplace, int mask, int64_t start, const float *col_bias,
                      float *lse_neg, float *lse_pos, int threads) {
#pragma omp parallel for num_threads(pf_threads(threads)) schedule(static)
    for (int64_t i = 0; i < c; i++) {
        float *row = v + i * m;
        if (raw && laplace)
            for (int64_t j = 0; j < m; j++) row[j] = -a * sqrtf(row[j] > 0.0f ? row[j] : 0.0f);
        if (col_bias)
            for (int64_t j = 0; j < m; j++) row[j] -= col_bias[j];
        if (raw && mask && start + i < m) row[start + i] = PF_MASK;
        for (int part = 0; part < 2; part++) {
            int64_t j0 = part ? m_neg : 0, j1 = part ? m : m_neg;
            float top = PF_LOW;
            for (int64_t j = j0; j < j1; j++) top = row[j] > top ? row[j] : top;
            float s = 0.0f;
            for (int64_t j = j0; j < j1; j++) {
                float e = pf_exp(row[j] - top);
                row[j] = e;
                s += e;
            }
            float scale = (part ? 1.0f : -1.0f) / s;
            for (int64_t j = j0; j < j1; j++) row[j] *= scale;
            (part ? lse_pos : lse_neg)[i] = top + logf(s);
        }
    }
}

/* Log-sum-exps of a stored logit matrix v [c, m] with a bias, for Sinkhorn sweeps on cached
 * logits (large d): over each row, out[i] = log sum_j exp(v_ij + col_bias_j) (col_bias NULL: 0);
 * over each column, out[j] = log sum_i exp(v_ij + row_bias_i). One read of v each. */
void pf_rows_lse(const float *v, int64_t c, int64_t m, const float *col_bias, float *out,
                 int threads) {
#pragma omp parallel num_threads(pf_threads(threads))
    {
        float *buf = (float *)malloc(sizeof(float) * (size_t)m);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < c; i++) {
            const float *row = v + i * m;
            float top = PF_LOW;
            for (int64_t j = 0; j < m; j++) {
                buf[j] = col_bias ? row[j] + col_bias[j] : row[j];
                top = buf[j] > top ? buf[j] : top;
            }
            float s = 0.0f;
            for (int64_t j = 0; j < m; j++) s += pf_exp(buf[j] - top);
            out[i] = top + logf(s);
        }
        free(buf);
    }
}

void pf_cols_lse(const float *v, int64_t c, int64_t m, const float *row_bias, float *out,
                 int threads) {
#pragma omp parallel for num_threads(pf_threads(threads)) schedule(static)
    for (int64_t j0 = 0; j0 < m; j0 += PF_TILE) {
        int64_t w = j0 + PF_TILE < m ? PF_TILE : m - j0;
        float top[PF_TILE], sum[PF_TILE];
        for (int64_t t = 0; t < w; t++) {
            top[t] = PF_LOW;
            sum[t] = 0.0f;
        }
        for (int64_t i0 = 0; i0 < c; i0 += PF_ROWS) {
            int64_t i1 = i0 + PF_ROWS < c ? i0 + PF_ROWS : c;
            pf_fold_cols(v, m, i0, i1, j0, w, row_bias, top, sum);
        }
        for (int64_t t = 0; t < w; t++) out[j0 + t] = top[t] + logf(sum[t]);
    }
}
