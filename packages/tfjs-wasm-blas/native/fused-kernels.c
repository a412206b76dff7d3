/*
 * Fused elementwise and normalisation kernels of @covrl/tfjs-wasm-blas, compiled to a small
 * WebAssembly module (SIMD128) that IMPORTS the TF.js wasm backend's own memory, so it reads and
 * writes tensors in place of the backend's heap with zero copies. Every pointer argument is a byte
 * offset of a float32 tensor in that memory (its `memoryOffset`).
 *
 * Rules that keep it safe inside memory it does not own:
 *   - no data segments, no static or global state, no libc: nothing is written at load time;
 *   - no address-taken locals or arrays, so the shadow stack (`__stack_pointer`) is never touched;
 *   - every function only writes its output ranges.
 * The build script (scripts/build-fused-wasm.mjs) checks the first two on the compiled module.
 *
 * Build: `npm run build:wasm -w @covrl/tfjs-wasm-blas` (needs clang and lld with the wasm32 target;
 * Debian: apt-get install clang lld). The result is embedded in src/fused-kernels-wasm.ts.
 */
#include <wasm_simd128.h>

typedef float f32;
typedef v128_t v4;

#define SPLAT(c) wasm_f32x4_splat(c)
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub
#define MUL wasm_f32x4_mul
#define DIV wasm_f32x4_div

/* Loads/stores of the first k (0..3) lanes: tails without reading or writing past the tensor. */
static inline v4 load_partial(const f32 *p, int k) {
  v4 v = SPLAT(0.0f);
  if (k > 0) v = wasm_f32x4_replace_lane(v, 0, p[0]);
  if (k > 1) v = wasm_f32x4_replace_lane(v, 1, p[1]);
  if (k > 2) v = wasm_f32x4_replace_lane(v, 2, p[2]);
  return v;
}
static inline void store_partial(f32 *p, v4 v, int k) {
  if (k > 0) p[0] = wasm_f32x4_extract_lane(v, 0);
  if (k > 1) p[1] = wasm_f32x4_extract_lane(v, 1);
  if (k > 2) p[2] = wasm_f32x4_extract_lane(v, 2);
}
static inline f32 hsum(v4 v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/*
 * exp(x) for float32 lanes: x clamped to [-87, 88] (so 2^n stays a normal float and nothing
 * overflows), x = n·ln2 + r with n = round(x/ln2) and a two-part ln2 (Cody & Waite), then the
 * degree-7 Cephes `expf` polynomial on |r| ≤ ln2/2; about 1 ulp on that range.
 * Written for V8's x64 code generation: pmin/pmax (one instruction each; min/max carry wasm's NaN
 * rules and cost about eight) and the 1.5·2²³ shifter instead of nearest + trunc_sat (the
 * shifter's low mantissa bits are round(x/ln2) as an integer). A NaN input gives a NaN output
 * (pmax/pmin return their first operand when it is NaN, and NaN survives every step after), so a
 * diverged activation still reaches the trainer's NaN guard: keep that property.
 */
#define SHIFTER 12582912.0f /* 1.5 · 2^23 */
static inline v4 v_exp(v4 x) {
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, SPLAT(-87.0f)), SPLAT(88.0f));
  v4 t = ADD(MUL(x, SPLAT(1.44269504088896341f)), SPLAT(SHIFTER));
  v4 n = SUB(t, SPLAT(SHIFTER));
  v4 r = SUB(SUB(x, MUL(n, SPLAT(0.693359375f))), MUL(n, SPLAT(-2.12194440e-4f)));
  v4 p = SPLAT(1.9875691500e-4f);
  p = ADD(MUL(p, r), SPLAT(1.3981999507e-3f));
  p = ADD(MUL(p, r), SPLAT(8.3334519073e-3f));
  p = ADD(MUL(p, r), SPLAT(4.1665795894e-2f));
  p = ADD(MUL(p, r), SPLAT(1.6666665459e-1f));
  p = ADD(MUL(p, r), SPLAT(5.0000001201e-1f));
  p = ADD(ADD(MUL(MUL(p, r), r), r), SPLAT(1.0f));
  /* bits(t) = 0x4B400000 + n, so (bits(t) − 0x4B400000 + 127) << 23 is the float 2^n. */
  v4 pow2n = wasm_i32x4_shl(wasm_i32x4_add(t, wasm_i32x4_splat(127 - 0x4B400000)), 23);
  return MUL(p, pow2n);
}

/* σ(z) = 1/(1 + e^{−z}); for z < −88 e^{−z} is clamped, giving ≈ 6e−39 instead of a smaller value. */
static inline v4 v_sigmoid(v4 z) { return DIV(SPLAT(1.0f), ADD(SPLAT(1.0f), v_exp(wasm_f32x4_neg(z)))); }

/*
 * AdamW, one parameter tensor of n values (PyTorch `torch.optim.AdamW`, Loshchilov & Hutter 2019):
 *   m' = β1·m + (1−β1)·g,  v' = β2·v + (1−β2)·g²,  p' = p·decay − (m' / (√v' + ε̂))·stepSize
 * with stepSize = lr·√(1−β2ᵗ)/(1−β1ᵗ), ε̂ = ε·√(1−β2ᵗ) and decay = 1 − lr·λ folded in by the caller.
 * The operations and their order are those of the unfused TF.js ops in @covrl/models, so the
 * result is bit-identical to them (float32 throughout, no fused multiply-add).
 */
__attribute__((export_name("adamw")))
void adamw(const f32 *p, const f32 *g, const f32 *m, const f32 *v, f32 *pOut, f32 *mOut,
           f32 *vOut, int n, f32 beta1, f32 oneMinusBeta1, f32 beta2, f32 oneMinusBeta2,
           f32 stepSize, f32 epsHat, f32 decay, int applyDecay) {
  const v4 b1 = SPLAT(beta1), c1 = SPLAT(oneMinusBeta1), b2 = SPLAT(beta2), c2 = SPLAT(oneMinusBeta2);
  const v4 lr = SPLAT(stepSize), eps = SPLAT(epsHat), dec = SPLAT(decay);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v4 gi = wasm_v128_load(g + i);
    v4 mi = ADD(MUL(wasm_v128_load(m + i), b1), MUL(gi, c1));
    v4 vi = ADD(MUL(wasm_v128_load(v + i), b2), MUL(MUL(gi, gi), c2));
    v4 base = wasm_v128_load(p + i);
    if (applyDecay) base = MUL(base, dec);
    wasm_v128_store(mOut + i, mi);
    wasm_v128_store(vOut + i, vi);
    wasm_v128_store(pOut + i, SUB(base, MUL(DIV(mi, ADD(wasm_f32x4_sqrt(vi), eps)), lr)));
  }
  int k = n - i;
  if (k > 0) {
    v4 gi = load_partial(g + i, k);
    v4 mi = ADD(MUL(load_partial(m + i, k), b1), MUL(gi, c1));
    v4 vi = ADD(MUL(load_partial(v + i, k), b2), MUL(MUL(gi, gi), c2));
    v4 base = load_partial(p + i, k);
    if (applyDecay) base = MUL(base, dec);
    store_partial(mOut + i, mi, k);
    store_partial(vOut + i, vi, k);
    store_partial(pOut + i, SUB(base, MUL(DIV(mi, ADD(wasm_f32x4_sqrt(vi), eps)), lr)), k);
  }
}

/* GPT-2 tanh-GELU through σ: y = x·σ(x·(c + a·c·x²)), c = 2√(2/π), a = 0.044715 (exact identity). */
#define GELU_C 1.5957691216057308f
#define GELU_AC 0.0713548162726009f /* 0.044715 · c */
#define GELU_3AC 0.2140644488178027f

static inline v4 gelu_v(v4 x) {
  v4 s = v_sigmoid(MUL(x, ADD(MUL(MUL(x, x), SPLAT(GELU_AC)), SPLAT(GELU_C))));
  return MUL(x, s);
}
/* dy·(s + x·s·(1−s)·(c + 3a·c·x²)) */
static inline v4 gelu_grad_v(v4 dy, v4 x) {
  v4 x2 = MUL(x, x);
  v4 s = v_sigmoid(MUL(x, ADD(MUL(x2, SPLAT(GELU_AC)), SPLAT(GELU_C))));
  v4 slope = MUL(MUL(x, SUB(s, MUL(s, s))), ADD(MUL(x2, SPLAT(GELU_3AC)), SPLAT(GELU_C)));
  return MUL(dy, ADD(s, slope));
}

__attribute__((export_name("gelu")))
void gelu(const f32 *x, f32 *y, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, gelu_v(wasm_v128_load(x + i)));
  if (n - i > 0) store_partial(y + i, gelu_v(load_partial(x + i, n - i)), n - i);
}

__attribute__((export_name("gelu_grad")))
void gelu_grad(const f32 *dy, const f32 *x, f32 *dx, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(dx + i, gelu_grad_v(wasm_v128_load(dy + i), wasm_v128_load(x + i)));
  int k = n - i;
  if (k > 0) store_partial(dx + i, gelu_grad_v(load_partial(dy + i, k), load_partial(x + i, k)), k);
}

/* SwiGLU gate: y = g·σ(g)·u; dg = dy·u·(σ + silu − silu·σ), du = dy·silu (silu = g·σ(g)). */
__attribute__((export_name("silu_gate")))
void silu_gate(const f32 *g, const f32 *u, f32 *y, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v4 gi = wasm_v128_load(g + i);
    wasm_v128_store(y + i, MUL(MUL(gi, v_sigmoid(gi)), wasm_v128_load(u + i)));
  }
  int k = n - i;
  if (k > 0) {
    v4 gi = load_partial(g + i, k);
    store_partial(y + i, MUL(MUL(gi, v_sigmoid(gi)), load_partial(u + i, k)), k);
  }
}

static inline void silu_gate_grad_v(v4 dy, v4 g, v4 u, v4 *dg, v4 *du) {
  v4 s = v_sigmoid(g);
  v4 silu = MUL(g, s);
  *dg = MUL(MUL(dy, u), ADD(s, SUB(silu, MUL(silu, s))));
  *du = MUL(dy, silu);
}

__attribute__((export_name("silu_gate_grad")))
void silu_gate_grad(const f32 *dy, const f32 *g, const f32 *u, f32 *dg, f32 *du, int n) {
  int i = 0;
  v4 a, b;
  for (; i + 4 <= n; i += 4) {
    silu_gate_grad_v(wasm_v128_load(dy + i), wasm_v128_load(g + i), wasm_v128_load(u + i), &a, &b);
    wasm_v128_store(dg + i, a);
    wasm_v128_store(du + i, b);
  }
  int k = n - i;
  if (k > 0) {
    silu_gate_grad_v(load_partial(dy + i, k), load_partial(g + i, k), load_partial(u + i, k), &a, &b);
    store_partial(dg + i, a, k);
    store_partial(du + i, b, k);
  }
}

/* Σ x over a row of d values, and Σ (x − μ)². */
static inline f32 row_sum(const f32 *x, int d) {
  v4 acc = SPLAT(0.0f);
  int j = 0;
  for (; j + 4 <= d; j += 4) acc = ADD(acc, wasm_v128_load(x + j));
  f32 s = hsum(acc);
  for (; j < d; j++) s += x[j];
  return s;
}
static inline f32 row_centered_sq(const f32 *x, int d, f32 mu) {
  v4 acc = SPLAT(0.0f), m = SPLAT(mu);
  int j = 0;
  for (; j + 4 <= d; j += 4) {
    v4 c = SUB(wasm_v128_load(x + j), m);
    acc = ADD(acc, MUL(c, c));
  }
  f32 s = hsum(acc);
  for (; j < d; j++) s += (x[j] - mu) * (x[j] - mu);
  return s;
}

/*
 * LayerNorm over rows of d: y = (x − μ)·r·w + b, r = 1/√(σ² + ε), population variance
 * (Ba et al. 2016; PyTorch nn.LayerNorm). x, y [rows, d]; w, b [d].
 */
__attribute__((export_name("layer_norm")))
void layer_norm(const f32 *x, const f32 *w, const f32 *b, f32 *y, int rows, int d, f32 eps) {
  const f32 invD = 1.0f / (f32)d;
  for (int row = 0; row < rows; row++) {
    const f32 *xr = x + row * d;
    f32 *yr = y + row * d;
    f32 mu = row_sum(xr, d) * invD;
    f32 r = 1.0f / __builtin_sqrtf(row_centered_sq(xr, d, mu) * invD + eps);
    v4 vm = SPLAT(mu), vr = SPLAT(r);
    int j = 0;
    for (; j + 4 <= d; j += 4) {
      v4 xh = MUL(SUB(wasm_v128_load(xr + j), vm), vr);
      wasm_v128_store(yr + j, ADD(MUL(xh, wasm_v128_load(w + j)), wasm_v128_load(b + j)));
    }
    for (; j < d; j++) yr[j] = (xr[j] - mu) * r * w[j] + b[j];
  }
}

/*
 * LayerNorm backward: with x̂ = (x − μ)·r and g = dy ⊙ w,
 *   dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂)),  dw = Σ_rows dy ⊙ x̂,  db = Σ_rows dy.
 * dw and db are overwritten (zeroed first), dx [rows, d].
 */
__attribute__((export_name("layer_norm_grad")))
void layer_norm_grad(const f32 *dy, const f32 *x, const f32 *w, f32 *dx, f32 *dw, f32 *db,
                     int rows, int d, f32 eps) {
  const f32 invD = 1.0f / (f32)d;
  for (int j = 0; j < d; j++) {
    dw[j] = 0.0f;
    db[j] = 0.0f;
  }
  for (int row = 0; row < rows; row++) {
    const f32 *xr = x + row * d;
    const f32 *dyr = dy + row * d;
    f32 *dxr = dx + row * d;
    f32 mu = row_sum(xr, d) * invD;
    f32 r = 1.0f / __builtin_sqrtf(row_centered_sq(xr, d, mu) * invD + eps);
    v4 vm = SPLAT(mu), vr = SPLAT(r);
    v4 sg = SPLAT(0.0f), sgx = SPLAT(0.0f);
    int j = 0;
    for (; j + 4 <= d; j += 4) {
      v4 xh = MUL(SUB(wasm_v128_load(xr + j), vm), vr);
      v4 dyj = wasm_v128_load(dyr + j);
      v4 gj = MUL(dyj, wasm_v128_load(w + j));
      sg = ADD(sg, gj);
      sgx = ADD(sgx, MUL(gj, xh));
      wasm_v128_store(dw + j, ADD(wasm_v128_load(dw + j), MUL(dyj, xh)));
      wasm_v128_store(db + j, ADD(wasm_v128_load(db + j), dyj));
    }
    f32 sumG = hsum(sg), sumGx = hsum(sgx);
    for (; j < d; j++) {
      f32 xh = (xr[j] - mu) * r;
      f32 gj = dyr[j] * w[j];
      sumG += gj;
      sumGx += gj * xh;
      dw[j] += dyr[j] * xh;
      db[j] += dyr[j];
    }
    f32 meanG = sumG * invD, meanGx = sumGx * invD;
    v4 vmg = SPLAT(meanG), vmgx = SPLAT(meanGx);
    j = 0;
    for (; j + 4 <= d; j += 4) {
      v4 xh = MUL(SUB(wasm_v128_load(xr + j), vm), vr);
      v4 gj = MUL(wasm_v128_load(dyr + j), wasm_v128_load(w + j));
      wasm_v128_store(dxr + j, MUL(SUB(SUB(gj, vmg), MUL(xh, vmgx)), vr));
    }
    for (; j < d; j++) {
      f32 xh = (xr[j] - mu) * r;
      dxr[j] = ((dyr[j] * w[j] - meanG) - xh * meanGx) * r;
    }
  }
}

/* RMSNorm over rows of d: y = x·r·w, r = 1/√(mean(x²) + ε) (Zhang & Sennrich 2019; HF LlamaRMSNorm). */
static inline f32 row_sq(const f32 *x, int d) {
  v4 acc = SPLAT(0.0f);
  int j = 0;
  for (; j + 4 <= d; j += 4) {
    v4 v = wasm_v128_load(x + j);
    acc = ADD(acc, MUL(v, v));
  }
  f32 s = hsum(acc);
  for (; j < d; j++) s += x[j] * x[j];
  return s;
}

__attribute__((export_name("rms_norm")))
void rms_norm(const f32 *x, const f32 *w, f32 *y, int rows, int d, f32 eps) {
  const f32 invD = 1.0f / (f32)d;
  for (int row = 0; row < rows; row++) {
    const f32 *xr = x + row * d;
    f32 *yr = y + row * d;
    f32 r = 1.0f / __builtin_sqrtf(row_sq(xr, d) * invD + eps);
    v4 vr = SPLAT(r);
    int j = 0;
    for (; j + 4 <= d; j += 4)
      wasm_v128_store(yr + j, MUL(MUL(wasm_v128_load(xr + j), vr), wasm_v128_load(w + j)));
    for (; j < d; j++) yr[j] = xr[j] * r * w[j];
  }
}

/* RMSNorm backward: x̂ = x·r, g = dy ⊙ w: dx = r·(g − x̂·mean(g ⊙ x̂)), dw = Σ_rows dy ⊙ x̂. */
__attribute__((export_name("rms_norm_grad")))
void rms_norm_grad(const f32 *dy, const f32 *x, const f32 *w, f32 *dx, f32 *dw, int rows, int d,
                   f32 eps) {
  const f32 invD = 1.0f / (f32)d;
  for (int j = 0; j < d; j++) dw[j] = 0.0f;
  for (int row = 0; row < rows; row++) {
    const f32 *xr = x + row * d;
    const f32 *dyr = dy + row * d;
    f32 *dxr = dx + row * d;
    f32 r = 1.0f / __builtin_sqrtf(row_sq(xr, d) * invD + eps);
    v4 vr = SPLAT(r), sgx = SPLAT(0.0f);
    int j = 0;
    for (; j + 4 <= d; j += 4) {
      v4 xh = MUL(wasm_v128_load(xr + j), vr);
      v4 dyj = wasm_v128_load(dyr + j);
      sgx = ADD(sgx, MUL(MUL(dyj, wasm_v128_load(w + j)), xh));
      wasm_v128_store(dw + j, ADD(wasm_v128_load(dw + j), MUL(dyj, xh)));
    }
    f32 sumGx = hsum(sgx);
    for (; j < d; j++) {
      f32 xh = xr[j] * r;
      sumGx += dyr[j] * w[j] * xh;
      dw[j] += dyr[j] * xh;
    }
    v4 vmgx = SPLAT(sumGx * invD);
    j = 0;
    for (; j + 4 <= d; j += 4) {
      v4 xh = MUL(wasm_v128_load(xr + j), vr);
      v4 gj = MUL(wasm_v128_load(dyr + j), wasm_v128_load(w + j));
      wasm_v128_store(dxr + j, MUL(SUB(gj, MUL(xh, vmgx)), vr));
    }
    for (; j < d; j++) dxr[j] = (dyr[j] * w[j] - xr[j] * r * (sumGx * invD)) * r;
  }
}

/*
 * Single-precision GEMM, batched, on the backend's heap:
 *
 *   C[e][i][j] = Σ_p opA[e][i][p] · opB[e][p][j]  (+ bias[j] when hasBias)
 *
 * for e < batch, i < m, j < n, p < k, where opA[e][i][p] = a[e·strideA + i·rsA + p·csA] and
 * opB[e][p][j] = b[e·strideB + p·rsB + j·csB] (element strides, in floats). The strides express
 * both transposes with no copy: A stored [m, k] has (rsA, csA) = (k, 1), stored [k, m] (transposeA)
 * (1, m); likewise B stored [k, n] is (n, 1), stored [n, k] (transposeB) (1, k). A stride of 0
 * for a whole operand (strideA or strideB) broadcasts a batch-1 operand over the batch. C is
 * [batch, m, n], dense (row stride n, batch stride m·n). k = 0 writes the bias (or zeros).
 *
 * Blocking (the Goto/BLIS scheme; K. Goto and R. van de Geijn, "Anatomy of high-performance matrix
 * multiplication", ACM TOMS 34(3), 2008): K is cut into blocks of GEMM_KC and N into blocks of
 * GEMM_NC; each (K, N) block of opB is packed into `scratch` as panels of GEMM_NR columns, k-major
 * (panel[p][0..NR), zero-padded past n), so the micro-kernel reads it with two aligned-stride
 * vector loads per p whatever B's layout. A is not packed: the micro-kernel reads GEMM_MR rows of
 * opA through their strides, one splat load per row and p (contiguous for both layouts: the rows
 * advance by csA). The micro-kernel keeps a GEMM_MR × 8 tile of C in 2·GEMM_MR f32x4 accumulators
 * (8 with MR 4, leaving registers for the two B vectors and the splat under x64's 16); the first
 * K block starts from the bias (or zero), later ones from C. Tails: rows past m alias the last
 * valid row (computed, never stored), columns past n read packed zeros and are not stored.
 * No fused multiply-add (SIMD128 has none), so the sums round like a plain loop's mul-then-add,
 * in the order p = 0, 1, ... within each K block.
 *
 * `scratch` must hold min(k, GEMM_KC) · (roundup(min(n, GEMM_NC), GEMM_NR) + GEMM_MC) floats: the
 * packed B panels, then a copy of an MC-row block of A when A is stored transposed (rsA = 1).
 * A single-row product (m = 1: decoding, one query per head) takes gemm_row instead.
 */
#define GEMM_MR 4
#define GEMM_NR 8
#define GEMM_KC 256
#define GEMM_NC 512
#define GEMM_MC 64 /* rows of a transposed A copied at once (a multiple of GEMM_MR) */

static inline int imin(int x, int y) { return x < y ? x : y; }

/* Packs opB[pc .. pc+kc)[jc .. jc+nc) into NR-column panels, k-major, zero-padded to NR. */
static void gemm_pack_b(const f32 *b, f32 *bp, int rsB, int csB, int pc, int kc, int jc, int nc) {
  for (int jp = 0; jp < nc; jp += GEMM_NR) {
    const int nr = imin(GEMM_NR, nc - jp);
    f32 *dst = bp + jp * kc;
    const f32 *src = b + pc * rsB + (jc + jp) * csB;
    if (csB == 1 && nr == GEMM_NR) {
      /* B stored [k, n]: each p is 8 contiguous floats. */
      for (int p = 0; p < kc; p++) {
        wasm_v128_store(dst + p * GEMM_NR, wasm_v128_load(src + p * rsB));
        wasm_v128_store(dst + p * GEMM_NR + 4, wasm_v128_load(src + p * rsB + 4));
      }
    } else if (rsB == 1 && nr == GEMM_NR) {
      /* B stored [n, k] (transposeB): 8 rows of B, contiguous in p; 4×4 transposes. */
      int p = 0;
      for (; p + 4 <= kc; p += 4) {
        for (int h = 0; h < 2; h++) {
          const f32 *s = src + (4 * h) * csB + p;
          v4 r0 = wasm_v128_load(s), r1 = wasm_v128_load(s + csB);
          v4 r2 = wasm_v128_load(s + 2 * csB), r3 = wasm_v128_load(s + 3 * csB);
          v4 t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
          v4 t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
          f32 *d = dst + p * GEMM_NR + 4 * h;
          wasm_v128_store(d, wasm_i64x2_shuffle(t0, t2, 0, 2));
          wasm_v128_store(d + GEMM_NR, wasm_i64x2_shuffle(t0, t2, 1, 3));
          wasm_v128_store(d + 2 * GEMM_NR, wasm_i64x2_shuffle(t1, t3, 0, 2));
          wasm_v128_store(d + 3 * GEMM_NR, wasm_i64x2_shuffle(t1, t3, 1, 3));
        }
      }
      for (; p < kc; p++)
        for (int j = 0; j < GEMM_NR; j++) dst[p * GEMM_NR + j] = src[j * csB + p];
    } else {
      /* Any other layout, and the last panel of a block whose width is not a multiple of NR. */
      for (int p = 0; p < kc; p++) {
        int j = 0;
        for (; j < nr; j++) dst[p * GEMM_NR + j] = src[p * rsB + j * csB];
        for (; j < GEMM_NR; j++) dst[p * GEMM_NR + j] = 0.0f;
      }
    }
  }
}

/* Stores the first nr (1..8) columns of one 8-wide row of C. */
static inline void gemm_store_row(f32 *c, v4 lo, v4 hi, int nr) {
  if (nr >= 4) {
    wasm_v128_store(c, lo);
    if (nr == 8) wasm_v128_store(c + 4, hi);
    else store_partial(c + 4, hi, nr - 4);
  } else {
    store_partial(c, lo, nr);
  }
}
static inline v4 gemm_load_lo(const f32 *c, int nr) {
  return nr >= 4 ? wasm_v128_load(c) : load_partial(c, nr);
}
static inline v4 gemm_load_hi(const f32 *c, int nr) {
  return nr == 8 ? wasm_v128_load(c + 4) : nr > 4 ? load_partial(c + 4, nr - 4) : SPLAT(0.0f);
}

/*
 * One MR × 8 tile: C[0..mr)[0..nr) = init + Σ_{p<kc} opA[r][p]·bp[p][0..8). `init` is 0 (zero),
 * 1 (the bias row `bias[0..nr)`) or 2 (the current C). a0..a3 point at opA's rows (rows past mr
 * repeat a valid row), advancing by csA per p.
 */
static inline void gemm_micro(int kc, const f32 *a0, const f32 *a1, const f32 *a2, const f32 *a3,
                              int csA, const f32 *bp, f32 *c, int ldc, int mr, int nr, int init,
                              const f32 *bias) {
  v4 c00, c01, c10, c11, c20, c21, c30, c31;
  if (init == 2) {
    c00 = gemm_load_lo(c, nr), c01 = gemm_load_hi(c, nr);
    c10 = mr > 1 ? gemm_load_lo(c + ldc, nr) : SPLAT(0.0f);
    c11 = mr > 1 ? gemm_load_hi(c + ldc, nr) : SPLAT(0.0f);
    c20 = mr > 2 ? gemm_load_lo(c + 2 * ldc, nr) : SPLAT(0.0f);
    c21 = mr > 2 ? gemm_load_hi(c + 2 * ldc, nr) : SPLAT(0.0f);
    c30 = mr > 3 ? gemm_load_lo(c + 3 * ldc, nr) : SPLAT(0.0f);
    c31 = mr > 3 ? gemm_load_hi(c + 3 * ldc, nr) : SPLAT(0.0f);
  } else if (init == 1) {
    c00 = c10 = c20 = c30 = gemm_load_lo(bias, nr);
    c01 = c11 = c21 = c31 = gemm_load_hi(bias, nr);
  } else {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = SPLAT(0.0f);
  }
  for (int p = 0; p < kc; p++) {
    const v4 b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
    bp += GEMM_NR;
    v4 x = wasm_v128_load32_splat(a0);
    c00 = ADD(c00, MUL(x, b0)), c01 = ADD(c01, MUL(x, b1));
    x = wasm_v128_load32_splat(a1);
    c10 = ADD(c10, MUL(x, b0)), c11 = ADD(c11, MUL(x, b1));
    x = wasm_v128_load32_splat(a2);
    c20 = ADD(c20, MUL(x, b0)), c21 = ADD(c21, MUL(x, b1));
    x = wasm_v128_load32_splat(a3);
    c30 = ADD(c30, MUL(x, b0)), c31 = ADD(c31, MUL(x, b1));
    a0 += csA, a1 += csA, a2 += csA, a3 += csA;
  }
  gemm_store_row(c, c00, c01, nr);
  if (mr > 1) gemm_store_row(c + ldc, c10, c11, nr);
  if (mr > 2) gemm_store_row(c + 2 * ldc, c20, c21, nr);
  if (mr > 3) gemm_store_row(c + 3 * ldc, c30, c31, nr);
}

/*
 * One output row (m = 1, where opA is contiguous: csA is 1 for either layout), without packing:
 * the GEMM's MR-row micro-kernel would compute three ignored rows and pack B for a single use.
 * B stored [k, n] (csB = 1): 16 columns at a time, summed in k order like the GEMM. B stored
 * [n, k] (rsB = 1, transposeB): four dot products at a time along contiguous k, each in four
 * interleaved partial sums (so these round differently from a k-ordered sum, within the same
 * error bound). Any other layout: a plain k-ordered loop.
 */
static void gemm_row(const f32 *a, const f32 *b, f32 *c, const f32 *bias, int hasBias, int n,
                     int k, int rsB, int csB) {
  if (csB == 1) {
    int j = 0;
    for (; j + 16 <= n; j += 16) {
      v4 c0 = hasBias ? wasm_v128_load(bias + j) : SPLAT(0.0f);
      v4 c1 = hasBias ? wasm_v128_load(bias + j + 4) : SPLAT(0.0f);
      v4 c2 = hasBias ? wasm_v128_load(bias + j + 8) : SPLAT(0.0f);
      v4 c3 = hasBias ? wasm_v128_load(bias + j + 12) : SPLAT(0.0f);
      const f32 *row = b + j;
      for (int p = 0; p < k; p++, row += rsB) {
        const v4 x = wasm_v128_load32_splat(a + p);
        c0 = ADD(c0, MUL(x, wasm_v128_load(row)));
        c1 = ADD(c1, MUL(x, wasm_v128_load(row + 4)));
        c2 = ADD(c2, MUL(x, wasm_v128_load(row + 8)));
        c3 = ADD(c3, MUL(x, wasm_v128_load(row + 12)));
      }
      wasm_v128_store(c + j, c0);
      wasm_v128_store(c + j + 4, c1);
      wasm_v128_store(c + j + 8, c2);
      wasm_v128_store(c + j + 12, c3);
    }
    for (; j + 4 <= n; j += 4) {
      v4 c0 = hasBias ? wasm_v128_load(bias + j) : SPLAT(0.0f);
      const f32 *row = b + j;
      for (int p = 0; p < k; p++, row += rsB)
        c0 = ADD(c0, MUL(wasm_v128_load32_splat(a + p), wasm_v128_load(row)));
      wasm_v128_store(c + j, c0);
    }
    for (; j < n; j++) {
      f32 sum = hasBias ? bias[j] : 0.0f;
      for (int p = 0; p < k; p++) sum += a[p] * b[p * rsB + j];
      c[j] = sum;
    }
  } else if (rsB == 1) {
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      const f32 *r0 = b + j * csB, *r1 = r0 + csB, *r2 = r1 + csB, *r3 = r2 + csB;
      v4 s0 = SPLAT(0.0f), s1 = SPLAT(0.0f), s2 = SPLAT(0.0f), s3 = SPLAT(0.0f);
      int p = 0;
      for (; p + 4 <= k; p += 4) {
        const v4 x = wasm_v128_load(a + p);
        s0 = ADD(s0, MUL(x, wasm_v128_load(r0 + p)));
        s1 = ADD(s1, MUL(x, wasm_v128_load(r1 + p)));
        s2 = ADD(s2, MUL(x, wasm_v128_load(r2 + p)));
        s3 = ADD(s3, MUL(x, wasm_v128_load(r3 + p)));
      }
      f32 t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3);
      for (; p < k; p++) {
        t0 += a[p] * r0[p];
        t1 += a[p] * r1[p];
        t2 += a[p] * r2[p];
        t3 += a[p] * r3[p];
      }
      c[j] = (hasBias ? bias[j] : 0.0f) + t0;
      c[j + 1] = (hasBias ? bias[j + 1] : 0.0f) + t1;
      c[j + 2] = (hasBias ? bias[j + 2] : 0.0f) + t2;
      c[j + 3] = (hasBias ? bias[j + 3] : 0.0f) + t3;
    }
    for (; j < n; j++) {
      f32 sum = hasBias ? bias[j] : 0.0f;
      for (int p = 0; p < k; p++) sum += a[p] * b[j * csB + p];
      c[j] = sum;
    }
  } else {
    for (int j = 0; j < n; j++) {
      f32 sum = hasBias ? bias[j] : 0.0f;
      for (int p = 0; p < k; p++) sum += a[p] * b[p * rsB + j * csB];
      c[j] = sum;
    }
  }
}

__attribute__((export_name("gemm")))
void gemm(const f32 *a, const f32 *b, f32 *c, const f32 *bias, int hasBias, f32 *scratch, int m,
          int n, int k, int rsA, int csA, int rsB, int csB, int batch, int strideA, int strideB) {
  for (int e = 0; e < batch; e++) {
    const f32 *ae = a + e * strideA;
    const f32 *be = b + e * strideB;
    f32 *ce = c + e * m * n;
    if (m == 1) {
      gemm_row(ae, be, ce, bias, hasBias, n, k, rsB, csB);
      continue;
    }
    for (int jc = 0; jc < n; jc += GEMM_NC) {
      const int nc = imin(GEMM_NC, n - jc);
      int pc = 0;
      do {
        const int kc = imin(GEMM_KC, k - pc);
        gemm_pack_b(be, scratch, rsB, csB, pc, kc, jc, nc);
        const int init = pc > 0 ? 2 : hasBias ? 1 : 0;
        /* A transposed block buffer follows the packed B panels (roundup(nc, NR)·kc floats). */
        f32 *ap = scratch + ((nc + GEMM_NR - 1) / GEMM_NR) * GEMM_NR * kc;
        const int packA = rsA == 1 && csA != 1;
        for (int ic = 0; ic < m; ic += GEMM_MC) {
          const int mc = imin(GEMM_MC, m - ic);
          if (packA) {
            /* A stored [k, m] (transposeA): an MR-row strip's k values lie csA floats apart, and
             * a power-of-two csA maps them onto a few cache sets. Copy the MC × kc block once,
             * reading mc contiguous floats per k, as MR-row strips (strip s: kc × MR floats). */
            for (int p = 0; p < kc; p++) {
              const f32 *src = ae + ic + (pc + p) * csA;
              for (int r = 0; r < mc; r += GEMM_MR) {
                const int w = imin(GEMM_MR, mc - r);
                const v4 v = w == GEMM_MR ? wasm_v128_load(src + r) : load_partial(src + r, w);
                wasm_v128_store(ap + r * kc + p * GEMM_MR, v);
              }
            }
          }
          for (int i = ic; i < ic + mc; i += GEMM_MR) {
            const int mr = imin(GEMM_MR, ic + mc - i);
            const f32 *a0, *a1, *a2, *a3;
            int step;
            if (packA) {
              a0 = ap + (i - ic) * kc, a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3;
              step = GEMM_MR;
            } else {
              a0 = ae + i * rsA + pc * csA;
              a1 = mr > 1 ? a0 + rsA : a0;
              a2 = mr > 2 ? a0 + 2 * rsA : a0;
              a3 = mr > 3 ? a0 + 3 * rsA : a0;
              step = csA;
            }
            for (int jp = 0; jp < nc; jp += GEMM_NR) {
              gemm_micro(kc, a0, a1, a2, a3, step, scratch + jp * kc, ce + i * n + jc + jp, n, mr,
                         imin(GEMM_NR, nc - jp), init, bias + jc + jp);
            }
          }
        }
        pc += kc;
      } while (pc < k);
    }
  }
}

/*
 * UnsortedSegmentSum (TF's `tf.math.unsorted_segment_sum`), the gradient of a row gather:
 *   out[s][0..inner) = Σ_{r : ids[r] = s} x[r][0..inner)   for s < numSegments,
 * x [rows, inner], ids [rows] int32, out [numSegments, inner]. Rows whose id is outside
 * [0, numSegments) are dropped (as TF drops negative ids; TF.js's cpu kernel drops both). Cost:
 * one zero-fill of out plus rows·inner adds, O(rows·inner + numSegments·inner), instead of the
 * one-hot product's O(rows·numSegments·inner). Rows are added in order r = 0, 1, ..., so a
 * segment's sum rounds as a left-to-right float32 sum of its rows.
 */
__attribute__((export_name("segment_sum")))
void segment_sum(const f32 *x, const int *ids, f32 *out, int rows, int inner, int numSegments) {
  const int total = numSegments * inner;
  int i = 0;
  for (; i + 4 <= total; i += 4) wasm_v128_store(out + i, SPLAT(0.0f));
  for (; i < total; i++) out[i] = 0.0f;
  for (int r = 0; r < rows; r++) {
    const int s = ids[r];
    if (s < 0 || s >= numSegments) continue;
    const f32 *src = x + r * inner;
    f32 *dst = out + s * inner;
    int j = 0;
    for (; j + 4 <= inner; j += 4)
      wasm_v128_store(dst + j, ADD(wasm_v128_load(dst + j), wasm_v128_load(src + j)));
    for (; j < inner; j++) dst[j] += src[j];
  }
}
