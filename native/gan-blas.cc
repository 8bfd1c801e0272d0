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

// The arguments im2col and col2im share: two Float32Arrays (the image side and the columns side) and the geometry.
bool moveArgs(napi_env env, napi_callback_info info, bool imageFirst, float** image, float** cols, Geometry* g) {
  size_t argc = 14;
  napi_value argv[14];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  size_t li, lc;
  if (argc != 14 || !floats(env, argv[imageFirst ? 0 : 1], image, &li) || !floats(env, argv[imageFirst ? 1 : 0], cols, &lc) || !geometry(env, argv, 2, g)) return false;
  return li >= g->image() && lc >= g->cols();
}

// Calls tap(columns, image pixel or nullptr outside the image) for every (output pixel, kernel tap) of image b,
// in the columns' order: cols[((b·oh + y)·ow + x), ((ky·kw + kx)·ci + c)] ↔ image[b, y·sh − padTop + ky, x·sw − padLeft + kx, c].
template <typename Cols, typename Image, typename Tap>
void forEachTap(const Geometry& g, int32_t b, Cols* cols, Image* image, Tap tap) {
  Cols* at = cols + size_t(b) * g.oh * g.ow * g.kh * g.kw * g.ci;
  Image* img = image + size_t(b) * g.h * g.w * g.ci;
  for (int32_t y = 0; y < g.oh; y++) {
    for (int32_t xo = 0; xo < g.ow; xo++) {
      for (int32_t ky = 0; ky < g.kh; ky++) {
        const int32_t iy = y * g.sh - g.pt + ky;
        for (int32_t kx = 0; kx < g.kw; kx++, at += g.ci) {
          const int32_t ix = xo * g.sw - g.pl + kx;
          const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
          tap(at, inside ? img + (size_t(iy) * g.w + ix) * g.ci : nullptr);
        }
      }
    }
  }
}

// im2col(x, cols, n, h, w, ci, kh, kw, sh, sw, padTop, padLeft, oh, ow): cols from x, zeros outside the image.
napi_value Im2col(napi_env env, napi_callback_info info) {
  float *x, *cols;
  Geometry g;
  if (!moveArgs(env, info, true, &x, &cols, &g)) return fail(env, "im2col(x, cols, n, h, w, ci, kh, kw, sh, sw, padTop, padLeft, oh, ow), arrays as large as the geometry");
  const size_t bytes = sizeof(float) * g.ci;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int32_t b = 0; b < g.n; b++) {
    forEachTap(g, b, cols, static_cast<const float*>(x), [bytes](float* dst, const float* src) {
      if (src) std::memcpy(dst, src, bytes);
      else std::memset(dst, 0, bytes);
    });
  }
  return nullptr;
}

// col2im(cols, dx, …same geometry): dx = 0, then every column value added back to its image pixel (im2col's adjoint).
napi_value Col2im(napi_env env, napi_callback_info info) {
  float *cols, *dx;
  Geometry g;
  if (!moveArgs(env, info, false, &dx, &cols, &g)) return fail(env, "col2im(cols, dx, n, h, w, ci, kh, kw, sh, sw, padTop, padLeft, oh, ow), arrays as large as the geometry");
  const int32_t ci = g.ci;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int32_t b = 0; b < g.n; b++) {
    std::memset(dx + size_t(b) * g.h * g.w * ci, 0, sizeof(float) * size_t(g.h) * g.w * ci);
    forEachTap(g, b, static_cast<const float*>(cols), dx, [ci](const float* src, float* dst) {
      if (dst) for (int32_t c = 0; c < ci; c++) dst[c] += src[c];
    });
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
