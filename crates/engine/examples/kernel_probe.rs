//! Compares our conv kernels with the lavapipe notes' NHWC tiled probe kernel on this
//! machine: `cargo run -p sightline-engine --example kernel_probe`.
mod timing;
use sightline_engine::cubecl;
use sightline_engine::cubecl::prelude::*;
use sightline_engine::kernels::conv::{self, ConvParams};
use sightline_engine::DeviceChoice;

/// Verbatim from the notes' `probe_main.rs`, so that the numbers compare.
#[cube(launch_unchecked)]
#[allow(clippy::assign_op_pattern, clippy::too_many_arguments)]
fn conv3x3_nhwc_tiled<F: Float, N: Size>(
    input: &[F],
    weight: &[Vector<F, N>],
    bias: &[Vector<F, N>],
    output: &mut [Vector<F, N>],
    #[comptime] cin: usize,
    #[comptime] h: usize,
    #[comptime] w: usize,
    #[comptime] num_tiles: usize,
    #[comptime] nvec: usize,
    #[comptime] px: usize,
) {
    let tile = ABSOLUTE_POS;
    if tile >= num_tiles {
        terminate!();
    }
    let tiles_per_row = comptime!(w / px);
    let x0 = (tile % tiles_per_row) * px;
    let y = (tile / tiles_per_row) % h;
    let n = tile / comptime!(tiles_per_row * h);
    let mut acc = Array::<Vector<F, N>>::new(comptime!(px * nvec));
    #[unroll]
    for p in 0..px {
        #[unroll]
        for v in 0..nvec {
            acc[p * nvec + v] = bias[v];
        }
    }
    let mut row = Array::<F>::new(comptime!(px + 2));
    #[unroll]
    for ky in 0..3usize {
        let yy = y + ky;
        if yy >= 1 && yy <= h {
            let row_base = (n * h + yy - 1) * w;
            for ci in 0..cin {
                #[unroll]
                for j in 0..comptime!(px + 2) {
                    let xx = x0 + j;
                    let mut val = F::new(0.0);
                    if xx >= 1 && xx <= w {
                        val = input[(row_base + xx - 1) * cin + ci];
                    }
                    row[j] = val;
                }
                #[unroll]
                for kx in 0..3usize {
                    let wbase = ((ky * 3 + kx) * cin + ci) * nvec;
                    #[unroll]
                    for v in 0..nvec {
                        let wv = weight[wbase + v];
                        #[unroll]
                        for p in 0..px {
                            acc[p * nvec + v] = acc[p * nvec + v] + Vector::new(row[p + kx]) * wv;
                        }
                    }
                }
            }
        }
    }
    let pix = (n * h + y) * w + x0;
    #[unroll]
    for p in 0..px {
        #[unroll]
        for v in 0..nvec {
            output[(pix + p) * nvec + v] = acc[p * nvec + v];
        }
    }
}

fn main() {
    let choice: DeviceChoice = std::env::var("PROBE_DEVICE")
        .unwrap_or("auto".into())
        .parse()
        .unwrap();
    let gpu = choice.open().unwrap();
    println!("device {}", gpu.name());
    let client = gpu.client().clone();
    let buf = |n: usize| {
        let v: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        client.create_from_slice(f32::as_bytes(&v))
    };
    // probe shape: 16x160x160 -> 32, 3x3 pad 1
    let (cin, h, w, cout, px, vs) = (16usize, 160usize, 160usize, 32usize, 8usize, 4usize);
    let flops = 2.0 * (cout * h * w * cin * 9) as f64;
    let (i, wt, b, o) = (
        buf(cin * h * w),
        buf(9 * cin * cout),
        buf(cout),
        buf(cout * h * w),
    );
    let tiles = h * (w / px);
    let timed = timing::time(&client, || unsafe {
        conv3x3_nhwc_tiled::launch_unchecked::<f32>(
            &client,
            CubeCount::Static((tiles as u32).div_ceil(64), 1, 1),
            CubeDim::new_1d(64),
            vs,
            BufferArg::from_raw_parts(i.clone(), cin * h * w),
            BufferArg::from_raw_parts(wt.clone(), 9 * cin * cout / vs),
            BufferArg::from_raw_parts(b.clone(), cout / vs),
            BufferArg::from_raw_parts(o.clone(), cout * h * w / vs),
            cin,
            h,
            w,
            tiles,
            cout / vs,
            px,
        )
    });
    let notes_gf = (flops / timed.median_ms / 1e6, flops / timed.queued_ms / 1e6);
    println!(
        "probe nhwc tiled 16x160x160->32: waited {:.2} ms {:.2} GF/s; queued {:.2} ms {:.2} GF/s",
        timed.median_ms, notes_gf.0, timed.queued_ms, notes_gf.1
    );
    let shapes = [
        ("ours 3x3 16x160x160->32", (16, 160, 32, 3, 1, 1, 1)),
        ("ours pw 64x52x52->64", (64, 52, 64, 1, 1, 0, 1)),
        ("ours pw 32x104x104->32", (32, 104, 32, 1, 1, 0, 1)),
        ("ours pw 128x26x26->128", (128, 26, 128, 1, 1, 0, 1)),
        ("ours pw 256x13x13->128", (256, 13, 128, 1, 1, 0, 1)),
        ("ours dw 64x52x52", (64, 52, 64, 3, 1, 1, 64)),
        ("ours dw 32x104x104", (32, 104, 32, 3, 1, 1, 32)),
        ("ours dw s2 64x52x52", (64, 52, 64, 3, 2, 1, 64)),
        (
            "ours stem (Focus folded) 3x416->16 6x6 s2",
            (3, 416, 16, 6, 2, 2, 1),
        ),
    ];
    for (name, (cin, hw, cout, k, s, pad, g)) in shapes {
        let p = ConvParams {
            batch: 1,
            in_channels: cin,
            in_height: hw,
            in_width: hw,
            out_channels: cout,
            kernel: k,
            stride: s,
            pad_top: pad,
            pad_left: pad,
            groups: g,
            activation: conv::Activation::Silu,
            residual: false,
        };
        let (i, wt, b, o) = (
            buf(cin * hw * hw),
            buf(p.weight_len()),
            buf(cout),
            buf(p.output_len()),
        );
        let timed = timing::time(&client, || {
            conv::launch_contiguous(&client, &p, &i, &wt, &b, &o)
        });
        let gf = (
            p.flops() / timed.median_ms / 1e6,
            p.flops() / timed.queued_ms / 1e6,
        );
        println!(
            "{name}: waited {:.2} ms {:.2} GF/s ({:.2}× probe); queued {:.2} ms {:.2} GF/s \
             ({:.2}× probe) (first launch {:.0} ms, compilation included)",
            timed.median_ms,
            gf.0,
            gf.0 / notes_gf.0,
            timed.queued_ms,
            gf.1,
            gf.1 / notes_gf.1,
            timed.first_ms
        );
    }
    // sync overhead alone
    let ms = timing::time(&client, || {}).median_ms;
    println!("empty sync: {ms:.3} ms");
}
