// GAN Studio's native kernels for TensorFlow.js's wasm backend (lib/gan/backends/native-blas.ts loads them):
// OpenBLAS's sgemm (the BLAS PyTorch's CPU build links) and the im2col / col2im moves that turn a convolution and
// both its gradients into one sgemm each. Every argument is a Float32Array (views into the wasm heap) or an
// integer; nothing is kept between calls, nothing allocates in the wasm heap. Row-major, NHWC, filters HWIO.
#include <node_api.h>
#include <cblas.h>
#include <cstring>
#include <omp.h>

extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_num_threads(void);

namespace {

int threads = 1;

bool floats(napi_env env, napi_value v, float** out, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void* data;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, &data, &buffer, &offset) != napi_ok) return false;
  if (type != napi_float32_array) return false;
  *out = static_cast<float*>(data);
  return true;
}

bool ints(napi_env env, napi_value* argv, size_t from, size_t count, int32_t* out) {
  for (size_t i = 0; i < count; i++) {
    if (napi_get_value_int32(env, argv[from + i], &out[i]) != napi_ok) return false;
  }
  return true;
}

napi_value fail(napi_env env, const char* message) {
  napi_throw_type_error(env, "GAN_NATIVE_ARGS", message);
  return nullptr;
}

// sgemm(a, b, c, M, N, K, transA, transB, accumulate): c[M,N] (+)= op(a)[M,K] · op(b)[K,N].
napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 9) return fail(env, "sgemm(a, b, c, M, N, K, transA, transB, accumulate)");
  float *a, *b, *c;
  size_t la, lb, lc;
  int32_t d[3];
  bool ta, tb, acc;
  if (!floats(env, argv[0], &a, &la) || !floats(env, argv[1], &b, &lb) || !floats(env, argv[2], &c, &lc)) return fail(env, "sgemm: a, b, c must be Float32Arrays");
  if (!ints(env, argv, 3, 3, d) || napi_get_value_bool(env, argv[6], &ta) != napi_ok || napi_get_value_bool(env, argv[7], &tb) != napi_ok ||
      napi_get_value_bool(env, argv[8], &acc) != napi_ok)
    return fail(env, "sgemm: M, N, K must be integers and transA, transB, accumulate booleans");
  const int32_t M = d[0], N = d[1], K = d[2];
  if (M <= 0 || N <= 0 || K <= 0 || la < size_t(M) * K || lb < size_t(K) * N || lc < size_t(M) * N) return fail(env, "sgemm: arrays smaller than M, N, K say");
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a, ta ? M : K, b, tb ? K : N, acc ? 1.0f : 0.0f, c, N);
  return nullptr;
}

struct Geometry {
  int32_t n, h, w, ci, kh, kw, sh, sw, pt, pl, oh, ow;
  size_t cols() const { return size_t(n) * oh * ow * kh * kw * ci; }
  size_t image() const { return size_t(n) * h * w * ci; }
};

bool geometry(napi_env env, napi_value* argv, size_t from, Geometry* g) {
  int32_t v[12];
  if (!ints(env, argv, from, 12, v)) return false;
  *g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]};
  for (int32_t x : v) if (x < 0) return false;
  return g->n > 0 && g->h > 0 && g->w > 0 && g->ci > 0 && g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0 && g->oh > 0 && g->ow > 0;
}

// im2col(x, cols, n, h, w, ci, kh, kw, sh, sw, padTop, padLeft, oh, ow):
// cols[((b·oh + y)·ow + x), ((ky·kw + kx)·ci + c)] = x[b, y·sh − padTop + ky, x·sw − padLeft + kx, c], 0 outside.
napi_value Im2col(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  float *x, *cols;
  size_t lx, lc;
  Geometry g;
  if (argc != 14 || !floats(env, argv[0], &x, &lx) || !floats(env, argv[1], &cols, &lc) || !geometry(env, argv, 2, &g)) {
    return fail(env, "im2col(x, cols, n, h, w, ci, kh, kw, sh, sw, padTop, padLeft, oh, ow)");
  }
  if (lx < g.image() || lc < g.cols()) return fail(env, "im2col: arrays smaller than the geometry says");
  const size_t row = size_t(g.kh) * g.kw * g.ci;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int32_t b = 0; b < g.n; b++) {
    for (int32_t y = 0; y < g.oh; y++) {
      for (int32_t xo = 0; xo < g.ow; xo++) {
        float* dst = cols + ((size_t(b) * g.oh + y) * g.ow + xo) * row;
        for (int32_t ky = 0; ky < g.kh; ky++) {
          const int32_t iy = y * g.sh - g.pt + ky;
          for (int32_t kx = 0; kx < g.kw; kx++, dst += g.ci) {
            const int32_t ix = xo * g.sw - g.pl + kx;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) std::memset(dst, 0, sizeof(float) * g.ci);
            else std::memcpy(dst, x + ((size_t(b) * g.h + iy) * g.w + ix) * g.ci, sizeof(float) * g.ci);
          }
        }
      }
    }
  }
  return nullptr;
}

// col2im(cols, dx, …same geometry): dx = 0, then dx[b, y·sh − padTop + ky, x·sw − padLeft + kx, c] += cols[…].
napi_value Col2im(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  float *cols, *dx;
  size_t lc, lx;
  Geometry g;
  if (argc != 14 || !floats(env, argv[0], &cols, &lc) || !floats(env, argv[1], &dx, &lx) || !geometry(env, argv, 2, &g)) {
    return fail(env, "col2im(cols, dx, n, h, w, ci, kh, kw, sh, sw, padTop, padLeft, oh, ow)");
  }
  if (lx < g.image() || lc < g.cols()) return fail(env, "col2im: arrays smaller than the geometry says");
  const size_t row = size_t(g.kh) * g.kw * g.ci;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int32_t b = 0; b < g.n; b++) {
    float* image = dx + size_t(b) * g.h * g.w * g.ci;
    std::memset(image, 0, sizeof(float) * size_t(g.h) * g.w * g.ci);
    for (int32_t y = 0; y < g.oh; y++) {
      for (int32_t xo = 0; xo < g.ow; xo++) {
        const float* src = cols + ((size_t(b) * g.oh + y) * g.ow + xo) * row;
        for (int32_t ky = 0; ky < g.kh; ky++) {
          const int32_t iy = y * g.sh - g.pt + ky;
          for (int32_t kx = 0; kx < g.kw; kx++, src += g.ci) {
            const int32_t ix = xo * g.sw - g.pl + kx;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
            float* dst = image + (size_t(iy) * g.w + ix) * g.ci;
            for (int32_t c = 0; c < g.ci; c++) dst[c] += src[c];
          }
        }
      }
    }
  }
  return nullptr;
}

// setThreads(n): threads for OpenBLAS and for im2col / col2im. Returns the count OpenBLAS reports.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t n = 0;
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1 || n > 64) return fail(env, "setThreads(n), 1 ≤ n ≤ 64");
  threads = n;
  openblas_set_num_threads(n);
  napi_value result;
  napi_create_int32(env, openblas_get_num_threads(), &result);
  return result;
}

}  // namespace

NAPI_MODULE_INIT() {
  const struct {
    const char* name;
    napi_callback fn;
  } fns[] = {{"sgemm", Sgemm}, {"im2col", Im2col}, {"col2im", Col2im}, {"setThreads", SetThreads}};
  for (const auto& f : fns) {
    napi_value value;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &value);
    napi_set_named_property(env, exports, f.name, value);
  }
  return exports;
}
