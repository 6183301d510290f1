//! Pointwise-convolution layouts side by side, each checked against a host product:
//! NCHW with `vec4` along pixels (scalar or `vec4` weight loads) and NHWC like the
//! lavapipe notes' kernel (scalar or `vec4` input loads), lanes over output channels
//! (`co`) and the channel loop unrolled (`full`). This measurement is why the engine kept
//! NCHW (docs/performance.md, "Engine v2 kernels" and "lavapipe's code for our kernels").
//!
//! `cargo run --release -p sightline-engine --example pw_sweep`; `CONFIGS=kind:channels:pixels,...`
//! picks the candidates (kinds `nchw`, `nchw_wv`, `lanes`, `nhwc`, `nhwc_v`, `co`, `full`;
//! for `co` the channels are the workgroup's lanes), each run twice.
mod timing;
use sightline_engine::cubecl;
use sightline_engine::cubecl::prelude::*;
use sightline_engine::DeviceChoice;

/// NCHW, vec4 along pixels; each thread `pv` vectors × `cob` output channels; weights
/// `[ci][co]` read as uniform scalars.
#[cube(launch_unchecked)]
fn pw_nchw<F: Float, N: Size>(
    input: &[Vector<F, N>],
    weight: &[F],
    output: &mut [Vector<F, N>],
    #[comptime] cin: usize,
    #[comptime] cout: usize,
    #[comptime] planev: usize,
    #[comptime] pv: usize,
    #[comptime] cob: usize,
) {
    let block = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let co0 = CUBE_POS_Y as usize * cob;
    let p0 = block * pv;
    let mut acc = Array::<Vector<F, N>>::new(comptime!(cob * pv));
    #[unroll]
    for i in 0..comptime!(cob * pv) {
        acc[i] = Vector::new(F::new(0.0));
    }
    let mut vals = Array::<Vector<F, N>>::new(pv);
    for ci in 0..cin {
        #[unroll]
        for q in 0..pv {
            vals[q] = input[ci * planev + min(p0 + q, comptime!(planev - 1))];
        }
        #[unroll]
        for c in 0..cob {
            let w = Vector::new(weight[ci * cout + co0 + c]);
            #[unroll]
            for q in 0..pv {
                acc[c * pv + q] += vals[q] * w;
            }
        }
    }
    #[unroll]
    for c in 0..cob {
        #[unroll]
        for q in 0..pv {
            if p0 + q < planev {
                output[(co0 + c) * planev + p0 + q] = acc[c * pv + q];
            }
        }
    }
}

/// As `pw_nchw` with weights read as uniform vec4s and split. With `unrolled` (kind
/// `full`) the channel loop is unrolled: no loop, so no execution mask for llvmpipe to
/// blend each accumulator with, and input offsets that are constants (llvmpipe loads once
/// for all lanes only where an address is built from constants).
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn pw_nchw_wv<F: Float, N: Size>(
    input: &[Vector<F, N>],
    weight: &[Vector<F, N>],
    output: &mut [Vector<F, N>],
    #[comptime] cin: usize,
    #[comptime] cout: usize,
    #[comptime] planev: usize,
    #[comptime] pv: usize,
    #[comptime] cob: usize,
    #[comptime] unrolled: bool,
) {
    let block = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let co0 = CUBE_POS_Y as usize * cob;
    let p0 = block * pv;
    let mut acc = Array::<Vector<F, N>>::new(comptime!(cob * pv));
    #[unroll]
    for i in 0..comptime!(cob * pv) {
        acc[i] = Vector::new(F::new(0.0));
    }
    let mut vals = Array::<Vector<F, N>>::new(pv);
    #[unroll(unrolled)]
    for ci in 0..cin {
        #[unroll]
        for q in 0..pv {
            vals[q] = input[ci * planev + min(p0 + q, comptime!(planev - 1))];
        }
        #[unroll]
        for c4 in 0..comptime!(cob / 4) {
            let wv = weight[(ci * cout + co0) / 4 + c4];
            #[unroll]
            for k in 0..4usize {
                let w = Vector::new(wv.extract(k));
                #[unroll]
                for q in 0..pv {
                    acc[(c4 * 4 + k) * pv + q] += vals[q] * w;
                }
            }
        }
    }
    #[unroll]
    for c in 0..cob {
        #[unroll]
        for q in 0..pv {
            if p0 + q < planev {
                output[(co0 + c) * planev + p0 + q] = acc[c * pv + q];
            }
        }
    }
}

/// Lanes over output channels: lane `l` of the workgroup computes output channel
/// `co0 + l` for a block of `pv` pixel vectors that the whole workgroup shares, so the
/// input address is the same in every lane and the accumulators (`pv` vectors) stay few
/// enough for registers.
#[cube(launch_unchecked)]
fn pw_co<F: Float, N: Size>(
    input: &[Vector<F, N>],
    weight: &[F],
    output: &mut [Vector<F, N>],
    #[comptime] cin: usize,
    #[comptime] cout: usize,
    #[comptime] planev: usize,
    #[comptime] pv: usize,
) {
    let co = CUBE_POS_Y as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let p0 = CUBE_POS_X as usize * pv;
    let mut acc = Array::<Vector<F, N>>::new(pv);
    #[unroll]
    for q in 0..pv {
        acc[q] = Vector::new(F::new(0.0));
    }
    for ci in 0..cin {
        let w = Vector::new(weight[ci * cout + co]);
        #[unroll]
        for q in 0..pv {
            acc[q] += input[ci * planev + min(p0 + q, comptime!(planev - 1))] * w;
        }
    }
    #[unroll]
    for q in 0..pv {
        if p0 + q < planev {
            output[co * planev + p0 + q] = acc[q];
        }
    }
}

/// NCHW with scalar pixels laid across lanes: thread `t` of `stride` takes pixels
/// `t + q·stride`, so neighbouring lanes read neighbouring addresses (one vector load
/// for llvmpipe if it sees that), weights as uniform vec4s.
#[cube(launch_unchecked)]
fn pw_lanes<F: Float, N: Size>(
    input: &[F],
    weight: &[Vector<F, N>],
    output: &mut [F],
    #[comptime] cin: usize,
    #[comptime] cout: usize,
    #[comptime] plane: usize,
    #[comptime] stride: usize,
    #[comptime] pv: usize,
    #[comptime] cob: usize,
) {
    let t = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let co0 = CUBE_POS_Y as usize * cob;
    let mut acc = Array::<F>::new(comptime!(cob * pv));
    #[unroll]
    for i in 0..comptime!(cob * pv) {
        acc[i] = F::new(0.0);
    }
    let mut vals = Array::<F>::new(pv);
    for ci in 0..cin {
        #[unroll]
        for q in 0..pv {
            vals[q] = input[ci * plane + min(t + q * stride, comptime!(plane - 1))];
        }
        #[unroll]
        for c4 in 0..comptime!(cob / 4) {
            let wv = weight[(ci * cout + co0) / 4 + c4];
            #[unroll]
            for k in 0..4usize {
                let w = wv.extract(k);
                #[unroll]
                for q in 0..pv {
                    acc[(c4 * 4 + k) * pv + q] += vals[q] * w;
                }
            }
        }
    }
    #[unroll]
    for c in 0..cob {
        #[unroll]
        for q in 0..pv {
            if t + q * stride < plane {
                output[(co0 + c) * plane + t + q * stride] = acc[c * pv + q];
            }
        }
    }
}

/// NHWC: input `[p][ci]` scalars gathered, weights `[ci][co/4]` uniform vec4s, output
/// `[p][co/4]`; each thread `px` pixels × `cob` channels.
#[cube(launch_unchecked)]
fn pw_nhwc<F: Float, N: Size>(
    input: &[F],
    weight: &[Vector<F, N>],
    output: &mut [Vector<F, N>],
    #[comptime] cin: usize,
    #[comptime] cout: usize,
    #[comptime] plane: usize,
    #[comptime] px: usize,
    #[comptime] cob: usize,
) {
    let block = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let cv0 = CUBE_POS_Y as usize * comptime!(cob / 4);
    let p0 = block * px;
    let nv = comptime!(cob / 4);
    let mut acc = Array::<Vector<F, N>>::new(comptime!(nv * px));
    #[unroll]
    for i in 0..comptime!(nv * px) {
        acc[i] = Vector::new(F::new(0.0));
    }
    let mut vals = Array::<F>::new(px);
    for ci in 0..cin {
        #[unroll]
        for q in 0..px {
            vals[q] = input[min(p0 + q, comptime!(plane - 1)) * cin + ci];
        }
        #[unroll]
        for v in 0..nv {
            let w = weight[ci * comptime!(cout / 4) + cv0 + v];
            #[unroll]
            for q in 0..px {
                acc[q * nv + v] += Vector::new(vals[q]) * w;
            }
        }
    }
    #[unroll]
    for q in 0..px {
        #[unroll]
        for v in 0..nv {
            if p0 + q < plane {
                output[(p0 + q) * comptime!(cout / 4) + cv0 + v] = acc[q * nv + v];
            }
        }
    }
}

/// NHWC with input vec4 along channels: 4 input channels per gathered load.
#[cube(launch_unchecked)]
fn pw_nhwc_v<F: Float, N: Size>(
    input: &[Vector<F, N>],
    weight: &[Vector<F, N>],
    output: &mut [Vector<F, N>],
    #[comptime] cin: usize,
    #[comptime] cout: usize,
    #[comptime] plane: usize,
    #[comptime] px: usize,
    #[comptime] cob: usize,
) {
    let block = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let cv0 = CUBE_POS_Y as usize * comptime!(cob / 4);
    let p0 = block * px;
    let nv = comptime!(cob / 4);
    let mut acc = Array::<Vector<F, N>>::new(comptime!(nv * px));
    #[unroll]
    for i in 0..comptime!(nv * px) {
        acc[i] = Vector::new(F::new(0.0));
    }
    let mut vals = Array::<Vector<F, N>>::new(px);
    for c4 in 0..comptime!(cin / 4) {
        #[unroll]
        for q in 0..px {
            vals[q] = input[min(p0 + q, comptime!(plane - 1)) * comptime!(cin / 4) + c4];
        }
        #[unroll]
        for k in 0..4usize {
            #[unroll]
            for v in 0..nv {
                let w = weight[(c4 * 4 + k) * comptime!(cout / 4) + cv0 + v];
                #[unroll]
                for q in 0..px {
                    acc[q * nv + v] += Vector::new(vals[q].extract(k)) * w;
                }
            }
        }
    }
    #[unroll]
    for q in 0..px {
        #[unroll]
        for v in 0..nv {
            if p0 + q < plane {
                output[(p0 + q) * comptime!(cout / 4) + cv0 + v] = acc[q * nv + v];
            }
        }
    }
}

fn rand(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn main() {
    let gpu = DeviceChoice::Auto.open().unwrap();
    let client = gpu.client().clone();
    let filter = std::env::args().nth(1).unwrap_or_default();
    let shapes = [
        (64usize, 52usize, 64usize),
        (32, 104, 32),
        (128, 26, 128),
        (256, 13, 128),
    ];
    for (cin, hw, cout) in shapes {
        let plane = hw * hw;
        let x = rand(cin * plane, 1);
        let w = rand(cin * cout, 2); // [co][ci]
        let mut reference = vec![0f32; cout * plane]; // NCHW
        for co in 0..cout {
            for ci in 0..cin {
                let wv = w[co * cin + ci];
                for p in 0..plane {
                    reference[co * plane + p] += wv * x[ci * plane + p];
                }
            }
        }
        let mut w_t = vec![0f32; cin * cout]; // [ci][co]
        for co in 0..cout {
            for ci in 0..cin {
                w_t[ci * cout + co] = w[co * cin + ci];
            }
        }
        let mut x_nhwc = vec![0f32; cin * plane];
        for ci in 0..cin {
            for p in 0..plane {
                x_nhwc[p * cin + ci] = x[ci * plane + p];
            }
        }
        let flops = 2.0 * (cin * cout * plane) as f64;
        let in_nchw = client.create_from_slice(f32::as_bytes(&x));
        let in_nhwc = client.create_from_slice(f32::as_bytes(&x_nhwc));
        let wt = client.create_from_slice(f32::as_bytes(&w_t));
        let check = |out: &cubecl::server::Handle, nhwc: bool| {
            let bytes = client.read_one(out.clone()).unwrap();
            let got = f32::from_bytes(&bytes);
            let mut worst = 0f32;
            for co in 0..cout {
                for p in 0..plane {
                    let g = if nhwc {
                        got[p * cout + co]
                    } else {
                        got[co * plane + p]
                    };
                    let d = (g - reference[co * plane + p]).abs();
                    worst = if d.is_nan() {
                        f32::INFINITY
                    } else {
                        worst.max(d)
                    };
                }
            }
            worst
        };
        let configs: Vec<(String, usize, usize)> = std::env::var("CONFIGS")
            .unwrap_or(
                "nchw_wv:32:2,nchw_wv:32:4,nchw_wv:64:2,nchw_wv:16:4,nchw:8:2,nhwc:32:8".into(),
            )
            .split(',')
            .map(|c| {
                let f: Vec<&str> = c.split(':').collect();
                (
                    f[0].to_string(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                )
            })
            .collect();
        for (kind, a, b) in configs.iter().flat_map(|c| [c.clone(), c.clone()]) {
            let kind = kind.as_str();
            if plane % 4 != 0 && (kind.starts_with("nchw") || kind == "co" || kind == "full") {
                continue;
            }
            if !kind.starts_with(&filter) || cout % a != 0 {
                continue;
            }
            let out = client.create_from_slice(f32::as_bytes(&vec![f32::NAN; cout * plane]));
            let name = format!("{kind} cob {a} p {b} {cin}x{hw}²->{cout}");
            let timed = match kind {
                "nchw" | "nchw_wv" | "full" => {
                    let planev = plane / 4;
                    let blocks = planev.div_ceil(b);
                    let count = CubeCount::Static(blocks.div_ceil(64) as u32, (cout / a) as u32, 1);
                    timing::time(&client, || unsafe {
                        if kind == "nchw" {
                            pw_nchw::launch_unchecked::<f32>(
                                &client,
                                count.clone(),
                                CubeDim::new_1d(64),
                                4,
                                BufferArg::from_raw_parts(in_nchw.clone(), cin * planev),
                                BufferArg::from_raw_parts(wt.clone(), cin * cout),
                                BufferArg::from_raw_parts(out.clone(), cout * planev),
                                cin,
                                cout,
                                planev,
                                b,
                                a,
                            )
                        } else {
                            pw_nchw_wv::launch_unchecked::<f32>(
                                &client,
                                count.clone(),
                                CubeDim::new_1d(64),
                                4,
                                BufferArg::from_raw_parts(in_nchw.clone(), cin * planev),
                                BufferArg::from_raw_parts(wt.clone(), cin * cout / 4),
                                BufferArg::from_raw_parts(out.clone(), cout * planev),
                                cin,
                                cout,
                                planev,
                                b,
                                a,
                                kind == "full",
                            )
                        }
                    })
                }
                "co" => {
                    // `a`: lanes (output channels) per workgroup, `b`: pixel vectors.
                    let planev = plane / 4;
                    let count = CubeCount::Static(planev.div_ceil(b) as u32, (cout / a) as u32, 1);
                    timing::time(&client, || unsafe {
                        pw_co::launch_unchecked::<f32>(
                            &client,
                            count.clone(),
                            CubeDim::new_1d(a as u32),
                            4,
                            BufferArg::from_raw_parts(in_nchw.clone(), cin * planev),
                            BufferArg::from_raw_parts(wt.clone(), cin * cout),
                            BufferArg::from_raw_parts(out.clone(), cout * planev),
                            cin,
                            cout,
                            planev,
                            b,
                        )
                    })
                }
                "lanes" => {
                    let blocks = plane.div_ceil(b);
                    let stride = blocks.div_ceil(64) * 64;
                    let count = CubeCount::Static((stride / 64) as u32, (cout / a) as u32, 1);
                    timing::time(&client, || unsafe {
                        pw_lanes::launch_unchecked::<f32>(
                            &client,
                            count.clone(),
                            CubeDim::new_1d(64),
                            4,
                            BufferArg::from_raw_parts(in_nchw.clone(), cin * plane),
                            BufferArg::from_raw_parts(wt.clone(), cin * cout / 4),
                            BufferArg::from_raw_parts(out.clone(), cout * plane),
                            cin,
                            cout,
                            plane,
                            stride,
                            b,
                            a,
                        )
                    })
                }
                _ => {
                    let blocks = plane.div_ceil(b);
                    let count = CubeCount::Static(blocks.div_ceil(64) as u32, (cout / a) as u32, 1);
                    timing::time(&client, || unsafe {
                        if kind == "nhwc" {
                            pw_nhwc::launch_unchecked::<f32>(
                                &client,
                                count.clone(),
                                CubeDim::new_1d(64),
                                4,
                                BufferArg::from_raw_parts(in_nhwc.clone(), cin * plane),
                                BufferArg::from_raw_parts(wt.clone(), cin * cout / 4),
                                BufferArg::from_raw_parts(out.clone(), cout * plane / 4),
                                cin,
                                cout,
                                plane,
                                b,
                                a,
                            )
                        } else {
                            pw_nhwc_v::launch_unchecked::<f32>(
                                &client,
                                count.clone(),
                                CubeDim::new_1d(64),
                                4,
                                BufferArg::from_raw_parts(in_nhwc.clone(), cin * plane / 4),
                                BufferArg::from_raw_parts(wt.clone(), cin * cout / 4),
                                BufferArg::from_raw_parts(out.clone(), cout * plane / 4),
                                cin,
                                cout,
                                plane,
                                b,
                                a,
                            )
                        }
                    })
                }
            };
            eprint!("(first {:.0} ms) ", timed.first_ms);
            let (ms, queued) = (timed.median_ms, timed.queued_ms);
            let err = check(&out, kind.starts_with("nhwc"));
            println!(
                "{name}: waited {ms:.2} ms {:.2} GF/s; queued {queued:.2} ms {:.2} GF/s  max err {err:.1e}",
                flops / ms / 1e6,
                flops / queued / 1e6
            );
        }
    }
}
