//! Planning and execution: device buffers are allocated once at load (intermediate
//! tensors share buffers when their lifetimes do not overlap), weights are uploaded
//! once, and a run is a fixed list of kernel launches with no host work in between.

use crate::kernels::{
    self, conv::ConvParams, copy, copy::CopyParams, copy::StridedView, copy::RANK,
};
use crate::onnx::{self, Graph, Op, ValueId};
use crate::{EngineError, Gpu};
use cubecl::prelude::*;
use cubecl::server::Handle;
use std::path::Path;
use std::time::{Duration, Instant};

type BufferId = usize;

enum Kernel {
    Conv {
        params: ConvParams,
        weight: Handle,
        bias: Handle,
    },
    Elementwise {
        op: kernels::elementwise::ElementwiseOp,
        len: usize,
        binary: bool,
    },
    Copy(CopyParams),
    MaxPool(kernels::pool::MaxPoolParams),
    Resize(kernels::resize::ResizeParams),
}

struct Step {
    /// Node name and op type, for timings and errors.
    name: String,
    op_type: &'static str,
    kernel: Kernel,
    inputs: Vec<BufferId>,
    output: BufferId,
}

/// Wall time of one step, measured with a device sync after it.
#[derive(Debug, Clone)]
pub struct StepTiming {
    pub node: String,
    pub op_type: &'static str,
    pub duration: Duration,
    /// Floating-point operations of the step (convolutions only; 0 for the rest).
    pub flops: f64,
}

/// A model loaded onto a device, ready to run.
pub struct Model {
    gpu: Gpu,
    buffers: Vec<Handle>,
    steps: Vec<Step>,
    input: (BufferId, Vec<usize>),
    output: (BufferId, Vec<usize>),
}

impl Model {
    /// Reads, checks, plans and uploads an ONNX model.
    pub fn load(path: &Path, gpu: &Gpu) -> Result<Model, EngineError> {
        let bytes = std::fs::read(path).map_err(|source| EngineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let proto = <crate::proto::ModelProto as prost::Message>::decode(bytes.as_slice())
            .map_err(|source| EngineError::Decode {
                path: path.to_path_buf(),
                source,
            })?;
        let graph = onnx::build_graph(&proto)?;
        plan(&graph, gpu)
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    pub fn input_shape(&self) -> &[usize] {
        &self.input.1
    }

    pub fn output_shape(&self) -> &[usize] {
        &self.output.1
    }

    pub fn input_len(&self) -> usize {
        self.input.1.iter().product()
    }

    pub fn output_len(&self) -> usize {
        self.output.1.iter().product()
    }

    /// The device buffer the model reads its input from (`input_len` f32 values), for
    /// pre-processing kernels that write it directly.
    pub fn input_buffer(&self) -> &Handle {
        &self.buffers[self.input.0]
    }

    /// The device buffer holding the output after [`Model::run`] (`output_len` f32 values).
    pub fn output_buffer(&self) -> &Handle {
        &self.buffers[self.output.0]
    }

    /// Number of kernel launches per run.
    pub fn kernel_count(&self) -> usize {
        self.steps.len()
    }

    /// Uploads a host tensor as the input.
    pub fn write_input(&mut self, values: &[f32]) -> Result<(), EngineError> {
        if values.len() != self.input_len() {
            return Err(EngineError::InputSize {
                expected: self.input_len(),
                actual: values.len(),
                shape: self.input.1.clone(),
            });
        }
        self.buffers[self.input.0] = self.gpu.client().create_from_slice(f32::as_bytes(values));
        Ok(())
    }

    /// Enqueues every kernel of the model; returns without waiting.
    pub fn run(&self) {
        for step in &self.steps {
            self.launch(step);
        }
    }

    /// Runs step by step with a device sync after each, for per-op timing.
    pub fn run_timed(&self) -> Result<Vec<StepTiming>, EngineError> {
        self.gpu.sync()?;
        let mut timings = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let start = Instant::now();
            self.launch(step);
            self.gpu.sync()?;
            let flops = match &step.kernel {
                Kernel::Conv { params, .. } => params.flops(),
                _ => 0.0,
            };
            timings.push(StepTiming {
                node: step.name.clone(),
                op_type: step.op_type,
                duration: start.elapsed(),
                flops,
            });
        }
        Ok(timings)
    }

    /// Floating-point operations of one run (convolutions).
    pub fn flops(&self) -> f64 {
        self.steps
            .iter()
            .map(|s| match &s.kernel {
                Kernel::Conv { params, .. } => params.flops(),
                _ => 0.0,
            })
            .sum()
    }

    /// Waits for the run and copies the output to the host.
    pub fn read_output(&self) -> Result<Vec<f32>, EngineError> {
        let bytes = self
            .gpu
            .client()
            .read_one(self.output_buffer().clone())
            .map_err(|e| EngineError::Execution(format!("{e:?}")))?;
        Ok(f32::from_bytes(&bytes)[..self.output_len()].to_vec())
    }

    fn launch(&self, step: &Step) {
        let client = self.gpu.client();
        let b = |i: usize| &self.buffers[step.inputs[i]];
        let out = &self.buffers[step.output];
        match &step.kernel {
            Kernel::Conv {
                params,
                weight,
                bias,
            } => kernels::conv::launch(client, params, b(0), weight, bias, out),
            Kernel::Elementwise { op, len, binary } => {
                let second = if *binary { b(1) } else { b(0) };
                kernels::elementwise::launch(client, *op, b(0), second, out, *len)
            }
            Kernel::Copy(params) => copy::launch(client, params, b(0), out),
            Kernel::MaxPool(p) => kernels::pool::launch(client, p, b(0), out),
            Kernel::Resize(p) => kernels::resize::launch(client, p, b(0), out),
        }
    }
}

/// Assigns buffers by liveness and turns nodes into kernel launches.
fn plan(graph: &Graph, gpu: &Gpu) -> Result<Model, EngineError> {
    let client = gpu.client();
    let n_values = graph.values.len();
    let len_of = |v: ValueId| graph.values[v].shape.iter().product::<usize>();

    // Reshape outputs alias their input: resolve every value to the value that owns
    // its storage.
    let mut root: Vec<ValueId> = (0..n_values).collect();
    for node in &graph.nodes {
        if matches!(node.op, Op::Reshape) {
            root[node.output] = root[node.inputs[0]];
        }
    }
    // Last step at which each storage root is read (the graph output lives forever).
    let mut last_use = vec![0usize; n_values];
    for (i, node) in graph.nodes.iter().enumerate() {
        for &v in &node.inputs {
            last_use[root[v]] = i;
        }
    }
    last_use[root[graph.output]] = usize::MAX;
    last_use[root[graph.input]] = usize::MAX;

    let mut sizes: Vec<usize> = Vec::new(); // capacity (f32 values) of each buffer
    let mut free: Vec<BufferId> = Vec::new();
    let mut buffer_of = vec![usize::MAX; n_values];
    let allocate = |len: usize, sizes: &mut Vec<usize>, free: &mut Vec<BufferId>| -> BufferId {
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, &b)| sizes[b] >= len)
            .min_by_key(|(_, &b)| sizes[b])
            .map(|(i, _)| i);
        match best {
            Some(i) => free.swap_remove(i),
            None => {
                sizes.push(len);
                sizes.len() - 1
            }
        }
    };
    buffer_of[graph.input] = allocate(len_of(graph.input), &mut sizes, &mut free);

    let mut steps = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        if matches!(node.op, Op::Reshape) {
            buffer_of[node.output] = buffer_of[root[node.inputs[0]]];
            continue;
        }
        let output = allocate(len_of(node.output), &mut sizes, &mut free);
        buffer_of[node.output] = output;
        let inputs: Vec<BufferId> = node.inputs.iter().map(|&v| buffer_of[root[v]]).collect();
        let in_shape = |k: usize| graph.values[node.inputs[k]].shape.as_slice();
        let out_shape = graph.values[node.output].shape.as_slice();
        let mut push = |kernel: Kernel, inputs: Vec<BufferId>| {
            steps.push(Step {
                name: node.name.clone(),
                op_type: node.op.type_name(),
                kernel,
                inputs,
                output,
            })
        };
        match &node.op {
            Op::Conv(conv) => push(
                Kernel::Conv {
                    params: conv.params,
                    weight: client.create_from_slice(f32::as_bytes(
                        &kernels::conv::prepare_weight(&conv.params, &conv.weight),
                    )),
                    bias: client.create_from_slice(f32::as_bytes(&conv.bias)),
                },
                inputs,
            ),
            Op::Elementwise(op) => push(
                Kernel::Elementwise {
                    op: *op,
                    len: len_of(node.output),
                    binary: op.is_binary(),
                },
                inputs,
            ),
            Op::MaxPool(p) => push(Kernel::MaxPool(p.params), inputs),
            Op::Resize(r) => {
                let s = in_shape(0);
                let params = kernels::resize::ResizeParams {
                    planes: s[0] * s[1],
                    in_height: s[2],
                    in_width: s[3],
                    scale_y: r.scale_y,
                    scale_x: r.scale_x,
                };
                push(Kernel::Resize(params), inputs)
            }
            Op::Slice(_) | Op::Transpose(_) => {
                let view = source_view(&node.op, in_shape(0));
                let params = copy_params(
                    padded(out_shape),
                    view,
                    None,
                    len_of(node.inputs[0]),
                    len_of(node.output),
                )?;
                push(Kernel::Copy(params), inputs)
            }
            Op::Concat(c) => {
                let out_strides = copy::contiguous_strides(padded(out_shape));
                let axis = c.axis + RANK - out_shape.len();
                let mut at = 0;
                for (k, &buffer) in inputs.iter().enumerate() {
                    let shape = padded(in_shape(k));
                    let src = StridedView {
                        offset: 0,
                        strides: copy::contiguous_strides(shape),
                    };
                    let dst = StridedView {
                        offset: at * out_strides[axis],
                        strides: out_strides,
                    };
                    let params = copy_params(
                        shape,
                        src,
                        Some(dst),
                        len_of(node.inputs[k]),
                        len_of(node.output),
                    )?;
                    at += shape[axis];
                    push(Kernel::Copy(params), vec![buffer]);
                }
            }
            Op::Reshape => unreachable!("handled above"),
        }
        for &v in &node.inputs {
            let r = root[v];
            if last_use[r] == i && !free.contains(&buffer_of[r]) {
                free.push(buffer_of[r]);
            }
        }
    }

    let buffers = sizes
        .iter()
        .map(|&len| client.empty(len.max(1) * 4))
        .collect();
    Ok(Model {
        gpu: gpu.clone(),
        buffers,
        steps,
        input: (
            buffer_of[graph.input],
            graph.values[graph.input].shape.clone(),
        ),
        output: (
            buffer_of[root[graph.output]],
            graph.values[graph.output].shape.clone(),
        ),
    })
}

/// How Slice and Transpose read their (padded, contiguous) input: a strided view whose
/// offset and strides encode the slice starts/steps or the permutation.
fn source_view(op: &Op, in_shape: &[usize]) -> StridedView {
    let strides = copy::contiguous_strides(padded(in_shape));
    let lead = RANK - in_shape.len();
    let mut view = StridedView { offset: 0, strides };
    match op {
        Op::Slice(slice) => {
            for (d, a) in slice.axes.iter().enumerate() {
                view.offset += a.start * strides[lead + d];
                view.strides[lead + d] = a.step as usize * strides[lead + d];
            }
        }
        Op::Transpose(t) => {
            for (d, &p) in t.perm.iter().enumerate() {
                view.strides[lead + d] = strides[lead + p];
            }
        }
        _ => {}
    }
    view
}

fn padded(shape: &[usize]) -> [usize; RANK] {
    let mut out = [1; RANK];
    out[RANK - shape.len()..].copy_from_slice(shape);
    out
}

/// A copy of `shape` from `src` into `dst` (default: a contiguous output), checked to
/// stay inside both buffers — the guarantee the copy kernel's unchecked launch needs.
fn copy_params(
    shape: [usize; RANK],
    src: StridedView,
    dst: Option<StridedView>,
    src_len: usize,
    dst_len: usize,
) -> Result<CopyParams, EngineError> {
    let dst = dst.unwrap_or(StridedView {
        offset: 0,
        strides: copy::contiguous_strides(shape),
    });
    let params = CopyParams {
        shape,
        src,
        dst,
        src_len,
        dst_len,
    };
    let inside = |view: &StridedView, len: usize| params.last_index(view).is_none_or(|i| i < len);
    if !inside(&params.src, src_len) || !inside(&params.dst, dst_len) {
        return Err(EngineError::Malformed(format!(
            "copy {params:?} leaves its buffers"
        )));
    }
    Ok(params)
}
