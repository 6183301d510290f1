//! Buffer assignment: each owner's lifetime in launches, and buffers shared between
//! owners whose lifetimes do not overlap.

use super::lowering::LoweredStep;
use super::placement::Placement;
use super::{Plan, PlannedStep};
use crate::onnx::{Graph, ValueId};
use crate::EngineError;

/// The launches from an owner's first write (or read) to its last read, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lifetime {
    pub first: usize,
    pub last: usize,
}

/// A tensor that needs storage: its f32 length and when it is alive.
#[derive(Debug, Clone, Copy)]
pub(super) struct Need {
    pub len: usize,
    pub lifetime: Lifetime,
}

pub(super) struct Assignment {
    /// f32 capacity of each buffer.
    pub buffer_lens: Vec<usize>,
    /// The buffer of each owner; `usize::MAX` for values that own no storage.
    pub buffer_of: Vec<usize>,
}

/// Greedy best fit in order of first write: an owner takes the smallest buffer that
/// is large enough and whose last reader ran strictly before the owner's first write
/// (a launch never reads and writes one buffer), else a new buffer.
pub(super) fn share_buffers(needs: &[Option<Need>]) -> Assignment {
    let mut owners: Vec<usize> = (0..needs.len()).filter(|&o| needs[o].is_some()).collect();
    owners.sort_by_key(|&o| (needs[o].map(|n| n.lifetime.first), o));
    let mut buffer_lens: Vec<usize> = Vec::new();
    let mut busy_until: Vec<usize> = Vec::new();
    let mut buffer_of = vec![usize::MAX; needs.len()];
    for o in owners {
        let Some(need) = needs[o] else { continue };
        let len = need.len.max(1);
        let free = (0..buffer_lens.len())
            .filter(|&b| busy_until[b] < need.lifetime.first && buffer_lens[b] >= len)
            .min_by_key(|&b| buffer_lens[b]);
        let b = free.unwrap_or_else(|| {
            buffer_lens.push(len);
            busy_until.push(0);
            buffer_lens.len() - 1
        });
        busy_until[b] = need.lifetime.last;
        buffer_of[o] = b;
    }
    Assignment {
        buffer_lens,
        buffer_of,
    }
}

pub(super) fn assign(
    graph: &Graph,
    placement: &Placement,
    steps: Vec<LoweredStep>,
    keep: &[ValueId],
) -> Result<Plan, EngineError> {
    let n_values = graph.values.len();
    let mut first = vec![usize::MAX; n_values];
    let mut last = vec![0usize; n_values];
    for (s, step) in steps.iter().enumerate() {
        first[step.write] = first[step.write].min(s);
        last[step.write] = last[step.write].max(s);
        for &r in &step.reads {
            last[r] = last[r].max(s);
            first[r] = first[r].min(s);
        }
    }
    // The graph's input and output live throughout: the caller writes and reads them
    // between runs.
    let input_owner = placement.owner(graph.input);
    let output_owner = placement.owner(graph.output);
    first[input_owner] = 0;
    last[input_owner] = usize::MAX;
    last[output_owner] = usize::MAX;
    if first[output_owner] == usize::MAX {
        first[output_owner] = 0;
    }
    // A kept value is read after the run, so its storage is nobody else's after its
    // first write (before it, an earlier tensor may still use the buffer).
    for &v in keep {
        let owner = placement.owner(v);
        last[owner] = usize::MAX;
        if first[owner] == usize::MAX {
            first[owner] = 0;
        }
    }
    let needs: Vec<Option<Need>> = (0..n_values)
        .map(|v| {
            (first[v] != usize::MAX).then(|| Need {
                len: graph.values[v].shape.iter().product(),
                lifetime: Lifetime {
                    first: first[v],
                    last: last[v],
                },
            })
        })
        .collect();
    let Assignment {
        buffer_lens,
        buffer_of,
    } = share_buffers(&needs);

    // Each tensor is within MAX_TENSOR_VALUES (onnx::limits); their sum need not be.
    let planned_bytes = buffer_lens
        .iter()
        .try_fold(0usize, |sum, &len| sum.checked_add(len.checked_mul(4)?));
    if planned_bytes.is_none_or(|b| b > crate::onnx::limits::MAX_ACTIVATION_BYTES) {
        return Err(EngineError::Malformed(format!(
            "its activations need {} buffers of {} bytes in all, over the limit \
             MAX_ACTIVATION_BYTES = {}",
            buffer_lens.len(),
            planned_bytes.map_or("> 2^64".to_string(), |b| b.to_string()),
            crate::onnx::limits::MAX_ACTIVATION_BYTES
        )));
    }
    let steps = steps
        .into_iter()
        .map(|step| PlannedStep {
            name: step.name,
            op_type: step.op_type,
            kernel: step.kernel,
            inputs: step.reads.iter().map(|&r| buffer_of[r]).collect(),
            output: buffer_of[step.write],
        })
        .collect();
    Ok(Plan {
        buffer_lens,
        steps,
        input_buffer: buffer_of[input_owner],
        output_buffer: buffer_of[output_owner],
        kept: keep
            .iter()
            .map(|&v| (buffer_of[placement.owner(v)], placement.home(v).view))
            .collect(),
    })
}
