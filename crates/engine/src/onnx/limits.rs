//! The engine's size limits. A model file is outside input: a user's model with its own
//! manifest reaches the loader without a digest check, so every dimension, attribute and
//! product is checked here before it can overflow or size an allocation. Each error names
//! its limit; `docs/reliability.md` lists them.

/// Largest dimension, window, stride or padding (`MAX_DIM`): 2^20, far beyond any camera
/// model, and small enough that sums like `size + 2 * pad` cannot overflow.
pub(crate) const MAX_DIM: usize = 1 << 20;
/// Largest tensor (`MAX_TENSOR_VALUES`): 2^28 f32 values, 1 GiB; also keeps every index a
/// kernel computes inside `u32`.
pub(crate) const MAX_TENSOR_VALUES: usize = 1 << 28;
/// Largest total of the planned activation buffers (`MAX_ACTIVATION_BYTES`): 4 GiB.
pub(crate) const MAX_ACTIVATION_BYTES: usize = 4 << 30;
/// Largest model file (`MAX_MODEL_FILE_BYTES`): 2 GiB, protobuf's own limit.
pub(crate) const MAX_MODEL_FILE_BYTES: u64 = 2 << 30;

/// The number of values of `shape`, or why it is too large.
pub(crate) fn values(shape: &[usize]) -> Result<usize, String> {
    let mut n: usize = 1;
    for &d in shape {
        if d > MAX_DIM {
            return Err(format!(
                "dimension {d} of shape {shape:?} is over the limit MAX_DIM = {MAX_DIM}"
            ));
        }
        n = n
            .checked_mul(d)
            .filter(|&n| n <= MAX_TENSOR_VALUES)
            .ok_or_else(|| {
                format!(
                    "shape {shape:?} is over the limit MAX_TENSOR_VALUES = {MAX_TENSOR_VALUES} \
                     values (1 GiB of f32) per tensor"
                )
            })?;
    }
    Ok(n)
}

/// A dimension-like attribute (`what`: "pad", "stride", …) as `usize`, within
/// `0..=MAX_DIM`.
pub(crate) fn dim(v: i64, what: &str) -> Result<usize, String> {
    usize::try_from(v)
        .ok()
        .filter(|&v| v <= MAX_DIM)
        .ok_or_else(|| format!("{what} {v} is outside 0..={MAX_DIM} (the limit MAX_DIM)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_that_would_overflow_are_refused_with_the_limit_named() {
        let err = values(&[1 << 33, 1 << 33]).unwrap_err();
        assert!(err.contains("MAX_DIM"), "{err}");
        let err = values(&[MAX_DIM, MAX_DIM, MAX_DIM, MAX_DIM]).unwrap_err();
        assert!(err.contains("MAX_TENSOR_VALUES"), "{err}");
        assert_eq!(values(&[1, 3, 416, 416]), Ok(3 * 416 * 416));
        assert_eq!(values(&[]), Ok(1));
        assert_eq!(values(&[5, 0, MAX_DIM]), Ok(0));
    }

    #[test]
    fn attributes_are_bounded_both_ways() {
        assert_eq!(dim(3, "pad"), Ok(3));
        assert!(dim(-1, "pad").unwrap_err().contains("pad -1"));
        assert!(dim(i64::MAX, "stride").unwrap_err().contains("MAX_DIM"));
    }
}
