pub mod annotate;
pub mod bag;
pub mod detect;
pub mod eval;
pub mod replay;
