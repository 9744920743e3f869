/* Kernels of the device benchmark that measure the device itself, not
 * clnet: the fused multiply-add peak, copy bandwidth and launch latency. */

#ifndef VW
#define VW 8 /* lanes per multiply-add: 1 lets the compiler vectorise across work-items */
#endif
#if VW != 1 && VW != 2 && VW != 4 && VW != 8 && VW != 16
#error "VW must be 1 or an OpenCL vector width: 2, 4, 8 or 16"
#endif

#if VW == 1
#define floatv float
#else
#define PASTE(a, b) a##b
#define JOIN(a, b) PASTE(a, b)
#define floatv JOIN(float, VW)
#endif

/* Eight independent chains per work-item: enough to cover the latency of
 * the multiply-add units (4 to 5 cycles on two pipes) without running out
 * of registers. Each step is 8 x VW fused multiply-adds, 2 FLOP each.
 * x * a + b with a slightly below 1 stays bounded and never denormal. */
__kernel void bench_fma(__global float *out, float a, float b, int iterations) {
    const int gid = (int)get_global_id(0);
    floatv x0 = (floatv)(gid * 1e-6f), x1 = x0 + 0.1f, x2 = x0 + 0.2f, x3 = x0 + 0.3f;
    floatv x4 = x0 + 0.4f, x5 = x0 + 0.5f, x6 = x0 + 0.6f, x7 = x0 + 0.7f;
    for (int i = 0; i < iterations; i++) {
        x0 = fma(x0, (floatv)(a), (floatv)(b));
        x1 = fma(x1, (floatv)(a), (floatv)(b));
        x2 = fma(x2, (floatv)(a), (floatv)(b));
        x3 = fma(x3, (floatv)(a), (floatv)(b));
        x4 = fma(x4, (floatv)(a), (floatv)(b));
        x5 = fma(x5, (floatv)(a), (floatv)(b));
        x6 = fma(x6, (floatv)(a), (floatv)(b));
        x7 = fma(x7, (floatv)(a), (floatv)(b));
    }
    /* One store per work-item keeps every chain alive. */
    floatv s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
#if VW == 1
    out[gid] = s;
#else
    float lanes[VW];
    JOIN(vstore, VW)(s, 0, lanes);
    float t = 0.0f;
    for (int j = 0; j < VW; j++)
        t += lanes[j];
    out[gid] = t;
#endif
}

/* dst = src in float4 units: every byte is read once and written once. */
__kernel void bench_copy(__global const float4 *src, __global float4 *dst) {
    const size_t i = get_global_id(0);
    dst[i] = src[i];
}

/* Does nothing: its launch plus wait is the fixed cost of one step. */
__kernel void bench_empty(__global float *out) {
    (void)out;
}
