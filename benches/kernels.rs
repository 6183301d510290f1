//! Each kernel family at YOLOX-Nano's shapes (416×416 input), on the default device.
//! Run: `cargo bench --bench kernels`. Throughput is reported in elements; conv GFLOP/s
//! follow from `ConvParams::flops` (printed once per shape).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sightline_engine::cubecl::prelude::*;
use sightline_engine::kernels::conv::{ConvParams, TensorView};
use sightline_engine::kernels::{conv, copy, elementwise, pool, resize};
use sightline_engine::{DeviceChoice, Gpu};
use std::time::{Duration, Instant};

fn gpu() -> Gpu {
    DeviceChoice::Auto
        .open()
        .expect("a cubecl device (install mesa-vulkan-drivers)")
}

fn buffer(gpu: &Gpu, len: usize) -> sightline_engine::cubecl::server::Handle {
    let values: Vec<f32> = (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    gpu.client().create_from_slice(f32::as_bytes(&values))
}

/// Times `iters` launches with one device sync at the end, so queued work is counted.
fn timed(gpu: &Gpu, iters: u64, mut launch: impl FnMut()) -> Duration {
    gpu.sync().expect("sync");
    let start = Instant::now();
    for _ in 0..iters {
        launch();
    }
    gpu.sync().expect("sync");
    start.elapsed()
}

fn conv_shape(
    cin: usize,
    hw: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
) -> ConvParams {
    ConvParams {
        batch: 1,
        in_channels: cin,
        in_height: hw,
        in_width: hw,
        out_channels: cout,
        kernel,
        stride,
        pad_top: kernel / 2,
        pad_left: kernel / 2,
        groups,
        activation: conv::Activation::Silu,
        residual: false,
    }
}

fn convolutions(c: &mut Criterion) {
    let gpu = gpu();
    let mut group = c.benchmark_group("conv");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    let shapes = [
        // Focus folded into the stem: 6×6 stride 2 on the 416×416 image
        (
            "stem_6x6_s2_3to16_416",
            ConvParams {
                pad_top: 2,
                pad_left: 2,
                ..conv_shape(3, 416, 16, 6, 2, 1)
            },
        ),
        ("pointwise_64to64_52", conv_shape(64, 52, 64, 1, 1, 1)),
        ("pointwise_256to128_13", conv_shape(256, 13, 128, 1, 1, 1)),
        ("depthwise_3x3_64_52", conv_shape(64, 52, 64, 3, 1, 64)),
        ("depthwise_3x3_s2_64_52", conv_shape(64, 52, 64, 3, 2, 64)),
        // rows 26 wide, not whole vec4s: the scalar-row path
        (
            "depthwise_3x3_s2_128_26",
            conv_shape(128, 26, 128, 3, 2, 128),
        ),
        // bottleneck shortcut fused: SiLU then + residual
        (
            "pointwise_silu_add_32to32_104",
            ConvParams {
                residual: true,
                ..conv_shape(32, 104, 32, 1, 1, 1)
            },
        ),
        // head: sigmoid fused (class scores)
        (
            "pointwise_sigmoid_64to80_52",
            ConvParams {
                activation: conv::Activation::Sigmoid,
                ..conv_shape(64, 52, 80, 1, 1, 1)
            },
        ),
    ];
    for (name, p) in shapes {
        let residual = buffer(&gpu, p.output_len());
        let (input, weight, bias, out) = (
            buffer(&gpu, p.in_channels * p.in_height * p.in_width),
            buffer(&gpu, p.weight_len()),
            buffer(&gpu, p.out_channels),
            buffer(&gpu, p.output_len()),
        );
        eprintln!("conv/{name}: {:.1} MFLOP per launch", p.flops() / 1e6);
        group.throughput(Throughput::Elements(p.flops() as u64));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                timed(&gpu, iters, || {
                    let buffers = conv::ConvBuffers {
                        input: &input,
                        weight: &weight,
                        bias: &bias,
                        residual: p.residual.then_some(&residual),
                        output: &out,
                    };
                    conv::launch(gpu.client(), &p, &conv::ConvViews::contiguous(&p), &buffers)
                })
            })
        });
    }
    group.finish();
}

fn other_families(c: &mut Criterion) {
    let gpu = gpu();
    let mut group = c.benchmark_group("ops");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    let pool_p = pool::MaxPoolParams {
        batch: 1,
        channels: 128,
        in_height: 13,
        in_width: 13,
        kernel: 13,
        stride: 1,
        pad: 6,
    };
    let (pin, pout) = (buffer(&gpu, 128 * 169), buffer(&gpu, pool_p.output_len()));
    group.bench_function("maxpool_13_128x13x13", |b| {
        b.iter_custom(|iters| {
            timed(&gpu, iters, || {
                pool::launch(
                    gpu.client(),
                    &pool_p,
                    &TensorView::contiguous(128, 169),
                    &pin,
                    &TensorView::contiguous(128, 169),
                    &pout,
                )
            })
        })
    });
    let rp = resize::ResizeParams {
        batch: 1,
        channels: 64,
        in_height: 26,
        in_width: 26,
        scale_y: 2,
        scale_x: 2,
    };
    let (rin, rout) = (buffer(&gpu, 64 * 26 * 26), buffer(&gpu, rp.output_len()));
    group.bench_function("resize_2x_64x26x26", |b| {
        b.iter_custom(|iters| {
            timed(&gpu, iters, || {
                resize::launch(
                    gpu.client(),
                    &rp,
                    &TensorView::contiguous(64, 26 * 26),
                    &rin,
                    &TensorView::contiguous(64, rp.out_plane()),
                    &rout,
                )
            })
        })
    });
    let shape = [1, 64, 52, 52];
    let cp = copy::CopyParams {
        shape,
        src: copy::StridedView {
            offset: 0,
            strides: copy::contiguous_strides(shape),
        },
        dst: copy::StridedView {
            offset: 0,
            strides: copy::contiguous_strides([1, 128, 52, 52]),
        },
        src_len: 64 * 52 * 52,
        dst_len: 128 * 52 * 52,
    };
    let (cin, cout) = (buffer(&gpu, cp.src_len), buffer(&gpu, cp.dst_len));
    group.bench_function("concat_half_64of128x52x52", |b| {
        b.iter_custom(|iters| timed(&gpu, iters, || copy::launch(gpu.client(), &cp, &cin, &cout)))
    });
    let n = 64 * 52 * 52;
    let (a, bb, o) = (buffer(&gpu, n), buffer(&gpu, n), buffer(&gpu, n));
    group.bench_function("add_64x52x52", |b| {
        b.iter_custom(|iters| {
            timed(&gpu, iters, || {
                elementwise::launch(
                    gpu.client(),
                    elementwise::ElementwiseOp::Add,
                    &a,
                    &bb,
                    &o,
                    n,
                )
            })
        })
    });
    group.finish();
}

criterion_group!(benches, convolutions, other_families);
criterion_main!(benches);
