//! Weighted, L2-regularised logistic regression by Newton's method, in f64 on the host:
//! one output channel (a 1×1 convolution and its sigmoid) fitted on `d` feature values.
//! With `d` = 64 the Hessian is 65×65, so each step is one pass over the samples and a
//! Cholesky solve; a dozen steps converge. Deterministic: no randomness, fixed order.

use crate::TrainError;

/// Samples of one fit: `x` row-major (`len × dim`), labels in {0, 1}, weights > 0
/// (a sampled negative stands for `1 / rate` of them).
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub dim: usize,
    pub x: Vec<f32>,
    pub y: Vec<bool>,
    pub w: Vec<f32>,
}

impl Samples {
    pub fn new(dim: usize) -> Samples {
        Samples {
            dim,
            ..Default::default()
        }
    }

    pub fn push(&mut self, x: &[f32], y: bool, w: f32) {
        self.x.extend_from_slice(x);
        self.y.push(y);
        self.w.push(w);
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }
}

/// A fitted channel: `sigmoid(weights · x + bias)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    pub weights: Vec<f32>,
    pub bias: f32,
    /// Newton steps taken and the final mean weighted log-loss, for the log.
    pub steps: usize,
    pub loss: f64,
}

impl Logistic {
    pub fn predict(&self, x: &[f32]) -> f32 {
        let z: f32 = self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// Settings of a fit.
#[derive(Debug, Clone, Copy)]
pub struct FitConfig {
    /// L2 penalty on the weights (not the bias), per unit of total sample weight: the
    /// penalty stays comparable whatever the number of images.
    pub l2: f64,
    pub max_steps: usize,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            l2: 1e-4,
            max_steps: 30,
        }
    }
}

/// Weighted log-loss plus penalty, divided by the total weight.
fn loss(s: &Samples, beta: &[f64], lambda: f64, total: f64) -> f64 {
    let d = s.dim;
    let mut sum = 0.0;
    for i in 0..s.len() {
        let z = margin(s.row(i), beta);
        // log(1 + e^z) − y z, computed without overflow.
        let softplus = if z > 0.0 {
            z + (-z).exp().ln_1p()
        } else {
            z.exp().ln_1p()
        };
        let y = if s.y[i] { 1.0 } else { 0.0 };
        sum += f64::from(s.w[i]) * (softplus - y * z);
    }
    let penalty: f64 = beta[..d].iter().map(|b| b * b).sum::<f64>() * lambda * 0.5;
    (sum + penalty) / total
}

fn margin(x: &[f32], beta: &[f64]) -> f64 {
    let d = x.len();
    beta[d]
        + x.iter()
            .zip(beta)
            .map(|(&v, b)| f64::from(v) * b)
            .sum::<f64>()
}

/// Fits one channel. Fails (naming `what`) without both a positive and a negative.
pub fn fit(s: &Samples, config: &FitConfig, what: &str) -> Result<Logistic, TrainError> {
    let d = s.dim;
    let positives = s.y.iter().filter(|&&y| y).count();
    if positives == 0 || positives == s.len() {
        return Err(TrainError::Fit(format!(
            "{what}: {positives} positive of {} samples; a fit needs both kinds",
            s.len()
        )));
    }
    let total: f64 = s.w.iter().map(|&w| f64::from(w)).sum();
    let lambda = config.l2 * total;
    let n = d + 1;
    let mut beta = vec![0.0f64; n];
    // Start at the base rate: the bias alone, weights zero.
    let pos_w: f64 = (0..s.len())
        .filter(|&i| s.y[i])
        .map(|i| f64::from(s.w[i]))
        .sum();
    beta[d] = (pos_w / (total - pos_w)).ln();
    let mut current = loss(s, &beta, lambda, total);
    let mut steps = 0;
    for _ in 0..config.max_steps {
        let mut grad = vec![0.0f64; n];
        let mut hess = vec![0.0f64; n * n];
        let mut xi = vec![0.0f64; n];
        for i in 0..s.len() {
            for (a, &v) in xi.iter_mut().zip(s.row(i)) {
                *a = f64::from(v);
            }
            xi[d] = 1.0;
            let z = margin(s.row(i), &beta);
            let p = 1.0 / (1.0 + (-z).exp());
            let w = f64::from(s.w[i]);
            let y = if s.y[i] { 1.0 } else { 0.0 };
            let g = w * (p - y);
            let h = w * p * (1.0 - p);
            for a in 0..n {
                grad[a] += g * xi[a];
                let ha = h * xi[a];
                // Lower triangle only; mirrored below.
                for b in 0..=a {
                    hess[a * n + b] += ha * xi[b];
                }
            }
        }
        for a in 0..n {
            for b in 0..a {
                hess[b * n + a] = hess[a * n + b];
            }
        }
        for a in 0..d {
            grad[a] += lambda * beta[a];
            hess[a * n + a] += lambda;
        }
        // A tiny ridge on the bias too, so a separable level cannot make H singular.
        hess[d * n + d] += 1e-9 * total;
        let step = solve_spd(&hess, &grad, n)
            .ok_or_else(|| TrainError::Fit(format!("{what}: Hessian not positive definite")))?;
        // Damped Newton: halve the step until the loss does not rise.
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let trial: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
            let l = loss(s, &trial, lambda, total);
            if l <= current {
                accepted = Some((trial, l));
                break;
            }
            t *= 0.5;
        }
        let Some((next, l)) = accepted else { break };
        let improvement = current - l;
        beta = next;
        current = l;
        steps += 1;
        if improvement < 1e-10 {
            break;
        }
    }
    Ok(Logistic {
        weights: beta[..d].iter().map(|&b| b as f32).collect(),
        bias: beta[d] as f32,
        steps,
        loss: current,
    })
}

/// Ridge regression of the four box values on the rows `use_row` selects: per output
/// `(weights, bias)` minimising squared error + `l2 · n · |weights|²`. For the own box
/// regression experiment (`docs/training.md`, "What was tried").
pub fn fit_box(
    s: &Samples,
    targets: &[[f32; 4]],
    use_row: impl Fn(usize) -> bool,
    l2: f64,
) -> Result<Vec<(Vec<f32>, f32)>, TrainError> {
    let d = s.dim;
    let n = d + 1;
    let mut a = vec![0.0f64; n * n];
    let mut b = vec![[0.0f64; 4]; n];
    let mut rows = 0usize;
    let mut xi = vec![0.0f64; n];
    for i in (0..s.len()).filter(|&i| use_row(i)) {
        rows += 1;
        for (v, &x) in xi.iter_mut().zip(s.row(i)) {
            *v = f64::from(x);
        }
        xi[d] = 1.0;
        for r in 0..n {
            for c in 0..=r {
                a[r * n + c] += xi[r] * xi[c];
            }
            for k in 0..4 {
                b[r][k] += xi[r] * f64::from(targets[i][k]);
            }
        }
    }
    if rows == 0 {
        return Err(TrainError::Fit(
            "box regression: no positive samples".into(),
        ));
    }
    for r in 0..n {
        for c in 0..r {
            a[c * n + r] = a[r * n + c];
        }
    }
    for r in 0..d {
        a[r * n + r] += l2 * rows as f64;
    }
    a[d * n + d] += 1e-9 * rows as f64;
    (0..4)
        .map(|k| {
            let rhs: Vec<f64> = b.iter().map(|row| row[k]).collect();
            let x = solve_spd(&a, &rhs, n)
                .ok_or_else(|| TrainError::Fit("box regression: singular system".into()))?;
            Ok((x[..d].iter().map(|&v| v as f32).collect(), x[d] as f32))
        })
        .collect()
}

/// Solves `a x = b` for a symmetric positive definite `a` (`n × n`) by Cholesky.
fn solve_spd(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j];
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0f64; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0f64; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic generator for test data (splitmix64).
    fn next(state: &mut u64) -> f32 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    }

    #[test]
    fn recovers_a_known_logistic_model() {
        // Labels drawn from sigmoid(2 x0 − 1 x1 + 0.5): the fit should land near it.
        let mut s = Samples::new(2);
        let mut state = 7;
        for _ in 0..20_000 {
            let x = [next(&mut state) * 4.0 - 2.0, next(&mut state) * 4.0 - 2.0];
            let p = 1.0 / (1.0 + (-(2.0 * x[0] - x[1] + 0.5)).exp());
            s.push(&x, next(&mut state) < p, 1.0);
        }
        let config = FitConfig {
            l2: 0.0,
            max_steps: 50,
        };
        let m = fit(&s, &config, "test").unwrap();
        assert!((m.weights[0] - 2.0).abs() < 0.15, "{m:?}");
        assert!((m.weights[1] + 1.0).abs() < 0.15, "{m:?}");
        assert!((m.bias - 0.5).abs() < 0.15, "{m:?}");
        assert!(m.steps < 20, "{m:?}");
    }

    #[test]
    fn weights_count_like_repeated_samples() {
        // One sample of weight 3 fits the same as three copies of it.
        let mut a = Samples::new(1);
        let mut b = Samples::new(1);
        for (x, y) in [
            (0.0, false),
            (1.0, true),
            (0.5, true),
            (0.2, false),
            (0.9, false),
        ] {
            a.push(&[x], y, 3.0);
            for _ in 0..3 {
                b.push(&[x], y, 1.0);
            }
        }
        let c = FitConfig::default();
        let (fa, fb) = (fit(&a, &c, "a").unwrap(), fit(&b, &c, "b").unwrap());
        assert!(
            (fa.weights[0] - fb.weights[0]).abs() < 1e-4,
            "{fa:?} {fb:?}"
        );
        assert!((fa.bias - fb.bias).abs() < 1e-4, "{fa:?} {fb:?}");
    }

    #[test]
    fn box_fit_recovers_a_linear_map() {
        let mut s = Samples::new(2);
        let mut targets = Vec::new();
        let mut state = 3;
        for _ in 0..500 {
            let x = [next(&mut state), next(&mut state)];
            s.push(&x, true, 1.0);
            targets.push([x[0] + 1.0, 2.0 * x[1], -x[0], 0.5]);
        }
        let fits = fit_box(&s, &targets, |_| true, 0.0).unwrap();
        let close = |a: f32, b: f32| (a - b).abs() < 1e-3;
        assert!(
            close(fits[0].0[0], 1.0) && close(fits[0].1, 1.0),
            "{fits:?}"
        );
        assert!(
            close(fits[1].0[1], 2.0) && close(fits[2].0[0], -1.0),
            "{fits:?}"
        );
        assert!(
            close(fits[3].1, 0.5) && close(fits[3].0[0], 0.0),
            "{fits:?}"
        );
    }

    #[test]
    fn separable_data_stays_finite_and_one_class_is_an_error() {
        let mut s = Samples::new(1);
        for i in 0..100 {
            s.push(&[i as f32], i >= 50, 1.0);
        }
        let m = fit(&s, &FitConfig::default(), "sep").unwrap();
        assert!(m.weights[0].is_finite() && m.weights[0] > 0.0, "{m:?}");
        assert!(m.predict(&[99.0]) > 0.9 && m.predict(&[0.0]) < 0.1, "{m:?}");
        let mut one = Samples::new(1);
        one.push(&[1.0], false, 1.0);
        let err = fit(&one, &FitConfig::default(), "level 2 objectness")
            .unwrap_err()
            .to_string();
        assert!(err.contains("level 2 objectness"), "{err}");
    }
}
