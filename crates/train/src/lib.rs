//! Teaching the detector new classes from a few hundred labelled photos, with its own
//! engine: the base model runs frozen, its head's final-convolution inputs are read
//! back ([`sightline_engine::Tap::FinalConvInputs`]), and per pyramid level and new
//! class two 1×1 output channels are fitted on them by logistic regression (an
//! objectness of the class's own on the box-branch features, a class score on the
//! class-branch features). [`head`] appends them to the ONNX graph; the old channels
//! are untouched, so the old classes' outputs stay bit-identical. A manifest beside the
//! written model names the new classes, their thresholds (best F1 on a held-out split
//! the fit never sees) and the provenance.

pub mod assign;
mod checks;
mod collect;
pub mod fit;
pub mod head;
mod train;
mod validate;
mod written;

pub use train::{train, NewClass, Summary, TrainConfig};

use std::path::PathBuf;

/// Why a head could not be trained; each names the thing at fault.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("--class {spec:?}: {reason}")]
    ClassSpec { spec: String, reason: String },
    #[error("--out {path}: {reason}")]
    Out { path: PathBuf, reason: String },
    #[error("class {name}: the base model already has a class of that name")]
    ClassExists { name: String },
    #[error("class {name}: no boxes labelled {label:?} in {dataset} (labels there: {seen})")]
    NoBoxes {
        name: String,
        label: String,
        dataset: String,
        seen: String,
    },
    #[error("class {name}: all {boxes} boxes labelled {label:?} are in the validation split; nothing to fit on")]
    NoTrainingBoxes {
        name: String,
        label: String,
        boxes: usize,
    },
    #[error("{count} image(s) of {dataset} cannot be read: {list}")]
    MissingImages {
        dataset: String,
        count: usize,
        list: String,
    },
    #[error("image {path}: {reason}")]
    Image { path: PathBuf, reason: String },
    #[error("model {path}: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("the base model's head does not have the expected shape: {0}")]
    HeadShape(String),
    #[error("fit: {0}")]
    Fit(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Dataset(#[from] sightline_eval::EvalError),
    #[error(transparent)]
    Detect(#[from] sightline_detect::DetectError),
    #[error(transparent)]
    Engine(#[from] sightline_engine::EngineError),
}
