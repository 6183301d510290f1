//! Nearest-neighbour upsampling by integer factors (ONNX Resize, `nearest`, `asymmetric`,
//! `floor`): `out[y, x] = in[y / sy, x / sx]`.

use super::{cube_count, linear_index, CUBE_SIZE};
use cubecl::prelude::*;
use cubecl::server::Handle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeParams {
    pub planes: usize,
    pub in_height: usize,
    pub in_width: usize,
    pub scale_y: usize,
    pub scale_x: usize,
}

impl ResizeParams {
    pub fn output_len(&self) -> usize {
        self.planes * self.in_height * self.scale_y * self.in_width * self.scale_x
    }
}

#[cube(launch_unchecked)]
fn resize_nearest_kernel<F: Float>(
    input: &[F],
    output: &mut [F],
    in_height: u32,
    in_width: u32,
    scale_y: u32,
    scale_x: u32,
    len: u32,
) {
    let i = linear_index();
    if i >= len as usize {
        terminate!();
    }
    let out_width = in_width as usize * scale_x as usize;
    let out_height = in_height as usize * scale_y as usize;
    let ox = i % out_width;
    let oy = (i / out_width) % out_height;
    let plane = i / (out_width * out_height);
    let src = (plane * in_height as usize + oy / scale_y as usize) * in_width as usize
        + ox / scale_x as usize;
    output[i] = input[src];
}

pub fn launch(client: &Client, p: &ResizeParams, input: &Handle, output: &Handle) {
    let len = p.output_len();
    // SAFETY: oy / scale_y < in_height and ox / scale_x < in_width by construction.
    unsafe {
        resize_nearest_kernel::launch_unchecked::<f32>(
            client,
            cube_count(len),
            CubeDim::new_1d(CUBE_SIZE),
            BufferArg::from_raw_parts(input.clone(), p.planes * p.in_height * p.in_width),
            BufferArg::from_raw_parts(output.clone(), len),
            p.in_height as u32,
            p.in_width as u32,
            p.scale_y as u32,
            p.scale_x as u32,
            len as u32,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{assert_close, random_vec, TestBed};

    #[test]
    fn integer_upsampling() {
        let bed = TestBed::new();
        for (planes, h, w, sy, sx) in [(3, 13, 13, 2, 2), (2, 5, 7, 3, 1), (1, 1, 1, 4, 4)] {
            let p = ResizeParams {
                planes,
                in_height: h,
                in_width: w,
                scale_y: sy,
                scale_x: sx,
            };
            let input = random_vec(planes * h * w, 1.0);
            let mut expected = Vec::new();
            for c in 0..planes {
                for y in 0..h * sy {
                    for x in 0..w * sx {
                        expected.push(input[(c * h + y / sy) * w + x / sx]);
                    }
                }
            }
            let out = bed.poisoned(p.output_len());
            launch(&bed.client, &p, &bed.upload(&input), &out);
            assert_close(&bed.download(&out), &expected, &format!("{p:?}"));
        }
    }
}
