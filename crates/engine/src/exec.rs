//! Planning and execution: device buffers are allocated once at load (intermediate
//! tensors share buffers when their lifetimes do not overlap), weights are uploaded
//! once, and a run is a fixed list of kernel launches with no host work in between.

use crate::kernels::conv::TensorView;
use crate::kernels::{self, conv::ConvBuffers};
use crate::onnx::{self, Graph, Op};
use crate::plan::{self, Kernel};
use crate::taps::{self, Tap, TapInfo};
use crate::{EngineError, Gpu};
use cubecl::prelude::*;
use cubecl::server::Handle;
use std::path::Path;
use std::time::{Duration, Instant};

type BufferId = usize;

struct Step {
    planned: plan::PlannedStep,
    /// Convolutions' weights and biases, uploaded once.
    weights: Option<(Handle, Handle)>,
}

impl Step {
    fn flops(&self) -> f64 {
        match &self.planned.kernel {
            Kernel::Conv { params, .. } => params.flops(),
            _ => 0.0,
        }
    }

    /// Compulsory traffic: every input, weight and output element once.
    fn bytes(&self) -> f64 {
        let elements = match &self.planned.kernel {
            Kernel::Conv { params, .. } => {
                let out = params.output_len() * if params.residual { 2 } else { 1 };
                params.input_len() + params.weight_len() + params.out_channels + out
            }
            Kernel::Elementwise { op, len } => len * if op.is_binary() { 3 } else { 2 },
            Kernel::Copy(p) => 2 * p.len(),
            Kernel::MaxPool { params, .. } => {
                let p = params;
                p.batch * p.channels * p.in_height * p.in_width + p.output_len()
            }
            Kernel::Resize { params, .. } => {
                let p = params;
                p.batch * p.channels * p.in_height * p.in_width + p.output_len()
            }
        };
        4.0 * elements as f64
    }
}

/// Wall time of one step, measured with a device sync after it.
#[derive(Debug, Clone)]
pub struct StepTiming {
    pub node: String,
    pub op_type: &'static str,
    /// The op type, or for a convolution its kernel family ([`crate::kernels::conv::ConvParams::family`]).
    pub family: &'static str,
    pub duration: Duration,
    /// Floating-point operations of the step (convolutions only; 0 for the rest).
    pub flops: f64,
    /// Bytes the step reads and writes at least once (tensors and weights).
    pub bytes: f64,
}

/// A model loaded onto a device, ready to run.
pub struct Model {
    gpu: Gpu,
    buffers: Vec<Handle>,
    steps: Vec<Step>,
    input: (BufferId, Vec<usize>),
    output: (BufferId, Vec<usize>),
    /// Values kept readable after a run: what they are, their buffer and view.
    taps: Vec<(TapInfo, BufferId, TensorView)>,
}

impl Model {
    /// Reads, checks, plans and uploads an ONNX model.
    pub fn load(path: &Path, gpu: &Gpu) -> Result<Model, EngineError> {
        load_plan(&read_graph(path)?, gpu, &[])
    }

    /// [`Model::load`] for a caller that knows the input shape it will feed: a model that
    /// takes another is refused before any device memory is planned for it.
    pub fn load_for_input(
        path: &Path,
        gpu: &Gpu,
        input_shape: &[usize],
    ) -> Result<Model, EngineError> {
        Model::load_for_input_with_taps(path, gpu, input_shape, &[])
    }

    /// [`Model::load_for_input`], also keeping the intermediate values `taps` select
    /// readable after each run ([`Model::taps`], [`Model::read_tap`]). A selection
    /// the graph has no value for is an error.
    pub fn load_for_input_with_taps(
        path: &Path,
        gpu: &Gpu,
        input_shape: &[usize],
        taps: &[Tap],
    ) -> Result<Model, EngineError> {
        let graph = read_graph(path)?;
        let model_input = &graph.values[graph.input].shape;
        if model_input != input_shape {
            return Err(EngineError::InputShape {
                path: path.to_path_buf(),
                model: model_input.clone(),
                expected: input_shape.to_vec(),
            });
        }
        load_plan(&graph, gpu, taps)
    }

    /// The tapped values, in the order [`Model::read_tap`] takes them.
    pub fn taps(&self) -> impl Iterator<Item = &TapInfo> {
        self.taps.iter().map(|(info, _, _)| info)
    }

    /// Waits for the run and copies tapped value `index` to the host, as a dense
    /// tensor of its shape (a value that lives as a slice of a larger buffer, such as
    /// a Concat's input, is gathered from it).
    pub fn read_tap(&self, index: usize) -> Result<Vec<f32>, EngineError> {
        let (info, buffer, view) = self.taps.get(index).ok_or_else(|| {
            EngineError::Execution(format!(
                "tap {index} requested, the model keeps {}",
                self.taps.len()
            ))
        })?;
        let bytes = self
            .gpu
            .client()
            .read_one(self.buffers[*buffer].clone())
            .map_err(|e| EngineError::Execution(format!("{e:?}")))?;
        gather(f32::from_bytes(&bytes), &info.shape, view).ok_or_else(|| {
            EngineError::Execution(format!(
                "tap of {} {:?} lies outside its buffer",
                info.producer, info.shape
            ))
        })
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

    /// Bytes one run reads and writes at least (see [`StepTiming::bytes`]).
    pub fn bytes_moved(&self) -> f64 {
        self.steps.iter().map(Step::bytes).sum()
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
            timings.push(StepTiming {
                node: step.planned.name.clone(),
                op_type: step.planned.op_type,
                family: match &step.planned.kernel {
                    Kernel::Conv { params, .. } => params.family(),
                    _ => step.planned.op_type,
                },
                flops: step.flops(),
                bytes: step.bytes(),
                duration: start.elapsed(),
            });
        }
        Ok(timings)
    }

    /// Floating-point operations of one run (convolutions).
    pub fn flops(&self) -> f64 {
        self.steps.iter().map(Step::flops).sum()
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
        let planned = &step.planned;
        let b = |i: usize| &self.buffers[planned.inputs[i]];
        let out = &self.buffers[planned.output];
        match &planned.kernel {
            Kernel::Conv { params, views, .. } => {
                let Some((weight, bias)) = &step.weights else {
                    return;
                };
                let buffers = ConvBuffers {
                    input: b(0),
                    weight,
                    bias,
                    residual: params.residual.then(|| b(1)),
                    output: out,
                };
                kernels::conv::launch(client, params, views, &buffers)
            }
            Kernel::Elementwise { op, len } => {
                let second = if op.is_binary() { b(1) } else { b(0) };
                kernels::elementwise::launch(client, *op, b(0), second, out, *len)
            }
            Kernel::Copy(params) => kernels::copy::launch(client, params, b(0), out),
            Kernel::MaxPool { params, src, dst } => {
                kernels::pool::launch(client, params, src, b(0), dst, out)
            }
            Kernel::Resize { params, src, dst } => {
                kernels::resize::launch(client, params, src, b(0), dst, out)
            }
        }
    }
}

/// Reads and checks a model file (size, protobuf, graph) without touching a device.
fn read_graph(path: &Path) -> Result<Graph, EngineError> {
    let read = |source| EngineError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read)?.len();
    if size > onnx::limits::MAX_MODEL_FILE_BYTES {
        return Err(EngineError::Malformed(format!(
            "{} is {size} bytes, over the limit MAX_MODEL_FILE_BYTES = {}",
            path.display(),
            onnx::limits::MAX_MODEL_FILE_BYTES
        )));
    }
    let bytes = std::fs::read(path).map_err(read)?;
    graph_from_bytes(&bytes).map_err(|e| match e {
        GraphError::Decode(source) => EngineError::Decode {
            path: path.to_path_buf(),
            source,
        },
        GraphError::Engine(e) => e,
    })
}

/// Why bytes are not a model this engine runs.
enum GraphError {
    Decode(prost::DecodeError),
    Engine(EngineError),
}

/// Decodes, checks and plans a model from its bytes, with no device: everything the
/// loader does to outside input, for the fuzz target and its regression tests.
pub fn check_model_bytes(bytes: &[u8]) -> Result<(), EngineError> {
    let graph = graph_from_bytes(bytes).map_err(|e| match e {
        GraphError::Decode(source) => EngineError::Malformed(format!("not ONNX: {source}")),
        GraphError::Engine(e) => e,
    })?;
    plan::plan(&graph).map(|_| ())
}

#[cfg(test)]
impl Model {
    /// Fills every buffer with NaN, so that an element no launch writes stays NaN.
    pub(crate) fn poison_buffers(&mut self) {
        let client = self.gpu.client();
        for buffer in &mut self.buffers {
            let len = buffer.size() as usize / 4;
            *buffer = client.create_from_slice(f32::as_bytes(&vec![f32::NAN; len]));
        }
    }
}

fn graph_from_bytes(bytes: &[u8]) -> Result<Graph, GraphError> {
    let proto =
        <crate::proto::ModelProto as prost::Message>::decode(bytes).map_err(GraphError::Decode)?;
    onnx::build_graph(&proto).map_err(GraphError::Engine)
}

/// The dense `[N, C, rest…]` tensor of `shape` that `view` places in `buffer`.
fn gather(buffer: &[f32], shape: &[usize], view: &TensorView) -> Option<Vec<f32>> {
    let (batch, channels) = match shape {
        [] => (1, 1),
        [c] => (1, *c),
        [n, c, ..] => (*n, *c),
    };
    let plane: usize = shape.iter().skip(2).product();
    let plane = if shape.len() < 2 { 1 } else { plane };
    let mut out = Vec::with_capacity(batch * channels * plane);
    for n in 0..batch {
        for c in 0..channels {
            let start = view.offset + n * view.batch_stride + c * view.channel_stride;
            out.extend_from_slice(buffer.get(start..start + plane)?);
        }
    }
    Some(out)
}

/// Plans the graph and uploads its weights.
pub(crate) fn load_plan(graph: &Graph, gpu: &Gpu, selected: &[Tap]) -> Result<Model, EngineError> {
    let client = gpu.client();
    let found = taps::find(graph, selected);
    if let Some(missing) = selected
        .iter()
        .find(|t| !found.iter().any(|(f, _)| f == *t))
    {
        return Err(EngineError::Malformed(format!(
            "no value for tap {missing:?}: the graph has no convolution"
        )));
    }
    let kept: Vec<usize> = found.iter().map(|&(_, v)| v).collect();
    let plan = plan::plan_keeping(graph, &kept)?;
    let steps =
        plan.steps
            .into_iter()
            .map(|planned| {
                let weights = match &planned.kernel {
                    Kernel::Conv { params, node, .. } => match &graph.nodes[*node].op {
                        Op::Conv(conv) => Some((
                            client.create_from_slice(f32::as_bytes(
                                &kernels::conv::prepare_weight(params, &conv.weight),
                            )),
                            client.create_from_slice(f32::as_bytes(&conv.bias)),
                        )),
                        _ => None,
                    },
                    _ => None,
                };
                Step { planned, weights }
            })
            .collect();
    let buffers = plan
        .buffer_lens
        .iter()
        .map(|&len| client.empty(len.max(1) * 4))
        .collect();
    Ok(Model {
        gpu: gpu.clone(),
        buffers,
        steps,
        input: (plan.input_buffer, graph.values[graph.input].shape.clone()),
        output: (plan.output_buffer, graph.values[graph.output].shape.clone()),
        taps: found
            .iter()
            .zip(&plan.kept)
            .map(|(&(tap, value), &(buffer, view))| (taps::info(graph, tap, value), buffer, view))
            .collect(),
    })
}
