use super::*;
use crate::kernels::testing::{assert_close, random_vec, TestBed};

/// Runs `p` with random inputs, each tensor placed inside a larger poisoned buffer
/// when `placed` (offsets and channel strides as a Concat's inputs would have), and
/// compares every output element with the reference.
fn check_with(bed: &TestBed, p: ConvParams, placed: bool) {
    let (oh, ow) = p.out_size();
    let (in_plane, out_plane) = (p.in_height * p.in_width, oh * ow);
    let input = random_vec(p.input_len(), 1.0);
    let weight = random_vec(p.weight_len(), 0.5);
    let bias = random_vec(p.out_channels, 0.5);
    let residual = random_vec(p.output_len(), 1.0);
    // A placed tensor sits after `pre` channels of a wider tensor with `extra` more.
    let view = |channels: usize, plane: usize, pre: usize| {
        if placed {
            let stride = plane + 4;
            TensorView {
                offset: pre * stride + 4,
                channel_stride: stride,
                batch_stride: (channels + pre + 3) * stride,
            }
        } else {
            TensorView::contiguous(channels, plane)
        }
    };
    let views = ConvViews {
        input: view(p.in_channels, in_plane, 2),
        output: view(p.out_channels, out_plane, 3),
        residual: view(p.out_channels, out_plane, 1),
    };
    let scatter = |values: &[f32], v: &TensorView, channels: usize, plane: usize, fill: f32| {
        let mut buf = vec![fill; v.end(p.batch, channels, plane) + 8];
        for n in 0..p.batch {
            for c in 0..channels {
                for i in 0..plane {
                    buf[v.offset + n * v.batch_stride + c * v.channel_stride + i] =
                        values[(n * channels + c) * plane + i];
                }
            }
        }
        buf
    };
    let input_buf = scatter(&input, &views.input, p.in_channels, in_plane, f32::NAN);
    let residual_buf = scatter(
        &residual,
        &views.residual,
        p.out_channels,
        out_plane,
        f32::NAN,
    );
    let out_len = views.output.end(p.batch, p.out_channels, out_plane) + 8;
    // Around a placed output, values the kernel must leave alone.
    let out_init: Vec<f32> = (0..out_len).map(|i| i as f32).collect();
    let out = bed.upload(&out_init);
    let poisoned_out = bed.poisoned(out_len);
    let out = if placed { out } else { poisoned_out };
    launch(
        &bed.client,
        &p,
        &views,
        &ConvBuffers {
            input: &bed.upload(&input_buf),
            weight: &bed.upload(&prepare_weight(&p, &weight)),
            bias: &bed.upload(&bias),
            residual: p.residual.then(|| bed.upload(&residual_buf)).as_ref(),
            output: &out,
        },
    );
    let got = bed.download(&out);
    let ov = views.output;
    let mut gathered = Vec::with_capacity(p.output_len());
    let mut written = vec![false; got.len()];
    for n in 0..p.batch {
        for c in 0..p.out_channels {
            for i in 0..out_plane {
                let at = ov.offset + n * ov.batch_stride + c * ov.channel_stride + i;
                gathered.push(got[at]);
                written[at] = true;
            }
        }
    }
    let what = format!("{p:?} placed={placed} seed={}", bed.seed());
    assert_close(
        &gathered,
        &reference(&p, &input, &weight, &bias, &residual),
        &what,
    );
    if placed {
        for (i, (&v, &w)) in got.iter().zip(&written).enumerate() {
            assert!(w || v == i as f32, "{what}: wrote outside its view at {i}");
        }
    }
}

fn check(bed: &TestBed, p: ConvParams) {
    check_with(bed, p, false);
    check_with(bed, p, true);
}

#[allow(clippy::too_many_arguments)]
fn params(
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    groups: usize,
) -> ConvParams {
    ConvParams {
        batch: 1,
        in_channels: cin,
        in_height: h,
        in_width: w,
        out_channels: cout,
        kernel,
        stride,
        pad_top: pad,
        pad_left: pad,
        groups,
        activation: Activation::None,
        residual: false,
    }
}

#[test]
fn pointwise_odd_sizes() {
    let bed = TestBed::new();
    check(&bed, params(3, 7, 9, 5, 1, 1, 0, 1));
    check(&bed, params(16, 13, 13, 24, 1, 1, 0, 1));
    // planes of 4k pixels take the vectorized path, with and without a partial block
    check(&bed, params(12, 8, 10, 20, 1, 1, 0, 1));
    check(&bed, params(64, 8, 8, 64, 1, 1, 0, 1));
    check(
        &bed,
        ConvParams {
            activation: Activation::Silu,
            batch: 2,
            ..params(7, 6, 6, 12, 1, 1, 0, 1)
        },
    );
    check(
        &bed,
        ConvParams {
            activation: Activation::Sigmoid,
            batch: 2,
            ..params(8, 5, 11, 8, 1, 1, 0, 1)
        },
    );
}

#[test]
fn pointwise_with_fewer_output_channels_than_a_vector() {
    let bed = TestBed::new();
    // planes of 4k pixels: the vectorized path, whose residual binding wants 16 bytes
    for cout in 1..=3 {
        check(&bed, params(5, 8, 8, cout, 1, 1, 0, 1));
        check(&bed, params(4, 6, 6, cout, 3, 1, 1, 1));
    }
}

#[test]
fn epilogue_residual_after_activation() {
    let bed = TestBed::new();
    for p in [
        params(16, 12, 12, 32, 1, 1, 0, 1),
        params(6, 9, 7, 8, 1, 1, 0, 1),
        params(8, 9, 10, 8, 3, 1, 1, 8),
        params(4, 9, 10, 6, 3, 1, 1, 1),
    ] {
        check(&bed, silu_and_residual(p));
    }
}

/// `p` with YOLOX's fused epilogue: SiLU, then the residual added.
fn silu_and_residual(p: ConvParams) -> ConvParams {
    ConvParams {
        activation: Activation::Silu,
        residual: true,
        ..p
    }
}

#[test]
fn dense_3x3_stride_and_padding() {
    let bed = TestBed::new();
    check(&bed, params(12, 17, 15, 16, 3, 1, 1, 1));
    check(&bed, params(4, 16, 19, 6, 3, 2, 1, 1));
    check(&bed, params(3, 9, 10, 7, 3, 1, 0, 1));
    // the stem with Focus folded in: 6×6, stride 2, pad 2
    check(&bed, params(3, 20, 22, 16, 6, 2, 2, 1));
    check(
        &bed,
        ConvParams {
            activation: Activation::Silu,
            ..params(5, 11, 6, 4, 5, 2, 2, 1)
        },
    );
}

#[test]
fn grouped_and_depthwise() {
    let bed = TestBed::new();
    check(&bed, params(16, 13, 14, 16, 3, 1, 1, 16));
    check(
        &bed,
        ConvParams {
            activation: Activation::Silu,
            ..params(24, 15, 9, 24, 3, 2, 1, 24)
        },
    );
    check(&bed, params(12, 8, 7, 18, 3, 1, 1, 3));
}

#[test]
fn depthwise_rows_read_as_vectors_or_scalars() {
    let bed = TestBed::new();
    // `depthwise_rows_kernel` on rows of 4k pixels (vec4 loads), with whole and partial
    // tiles, and on other widths (scalar loads), as YOLOX-Nano's 13- and 26-wide layers
    let cases = [
        (params(8, 9, 16, 8, 3, 1, 1, 8), 4),
        (params(8, 10, 12, 8, 3, 2, 1, 8), 4),
        (params(4, 7, 4, 4, 3, 1, 1, 4), 4),
        (params(4, 6, 20, 4, 3, 2, 1, 4), 4),
        (params(4, 13, 13, 4, 3, 1, 1, 4), 1),
        (params(4, 26, 26, 4, 3, 2, 1, 4), 1),
        (params(3, 5, 7, 3, 3, 2, 1, 3), 1),
        (params(2, 3, 2, 2, 3, 1, 1, 2), 1),
    ];
    for (p, lanes) in cases {
        assert!(p.is_depthwise_3x3(), "{p:?}");
        assert_eq!(
            p.depthwise_input_lanes(&ConvViews::contiguous(&p), conv_blocks(&p).1),
            lanes,
            "{p:?}"
        );
        check(&bed, p);
    }
    for p in [
        params(8, 9, 20, 8, 3, 1, 1, 8),
        params(8, 13, 26, 8, 3, 2, 1, 8),
    ] {
        check(&bed, silu_and_residual(ConvParams { batch: 2, ..p }));
    }
}
