//! Model: per-size durations → `t(m) = a + b / min(m, 1769) + c / min(m, 10240)`.
//!
//! Lambda gives CPU in proportion to memory: 1,769 MB buys one full vCPU and
//! 10,240 MB six. So a function's warm duration splits into three parts:
//! `a`, time no CPU buys back (network, I/O waits); `b`, single-threaded work,
//! which speeds up until one vCPU at 1,769 MB and no further; `c`, work that
//! keeps using the extra vCPUs up to 10,240 MB.
//!
//! The model is linear in (a, b, c), so it is fitted by **weighted
//! non-negative least squares** on the per-size medians of warm successful
//! durations, weighted by the number of such durations (the variance of a
//! median falls as 1/n). With three coefficients NNLS is solved exactly by
//! enumeration: the optimum is the unconstrained least-squares solution on
//! some subset of coefficients (its active set) that is feasible, so solving
//! the normal equations of each of the 7 non-empty subsets and keeping the
//! best feasible one finds it. No optimiser, no iteration, no tolerance to tune.
//!
//! Not every data set identifies every coefficient:
//! - below 1,769 MB, `1/min(m,1769) = 1/m = 1/min(m,10240)`: `b` and `c` are
//!   one coefficient, so without a size above 1,769 MB the fit is
//!   `a + b / min(m,1769)`, which predicts no speed-up past one vCPU;
//! - with only sizes at or above 1,769 MB, `b/1769` is a constant like `a`,
//!   so the fit is `a + c / min(m,10240)`;
//! - two sizes fit `a + b / min(m,1769)` (two points, two coefficients);
//! - one size cannot split anything: it is taken as fully CPU-bound and
//!   single-threaded, `t = b / min(m,1769)`, the usual Lambda Power Tuning
//!   prior. Every reduced case is reported as a [`ModelKind`] and a warning.
//!
//! Uncertainty comes from a **bootstrap** over invocations: resample each
//! size's warm durations with replacement, take the median, refit; the 5th and
//! 95th percentiles of the refits' predictions give the interval at any size.
//! It reflects sampling noise only, not a wrong model shape (a one-size fit
//! has a narrow interval and may still be far off). The generator is a fixed
//! SplitMix64 seed, so the same samples give the same interval. Cost:
//! resamples × samples draws and a linear-time median each.

use serde::Serialize;

use super::observe::Observations;

/// Memory that buys one full vCPU.
pub const ONE_VCPU_MB: u32 = 1769;
/// The largest Lambda memory size (six vCPUs).
pub const MAX_MEMORY_MB: u32 = 10_240;
/// The smallest Lambda memory size.
pub const MIN_MEMORY_MB: u32 = 128;

/// `t(m) = a + b / min(m, 1769) + c / min(m, 10240)`, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct DurationModel {
    /// Time no CPU buys back, ms.
    pub a_ms: f64,
    /// Single-threaded work, ms × MB.
    pub b_ms_mb: f64,
    /// Work that scales to six vCPUs, ms × MB.
    pub c_ms_mb: f64,
}

impl DurationModel {
    /// The predicted warm duration at `memory_size_mb`.
    pub fn predict_ms(&self, memory_size_mb: u32) -> f64 {
        let memory = f64::from(memory_size_mb.max(1));
        self.a_ms
            + self.b_ms_mb / memory.min(f64::from(ONE_VCPU_MB))
            + self.c_ms_mb / memory.min(f64::from(MAX_MEMORY_MB))
    }

    /// Every duration multiplied by `factor` (another architecture's speed).
    pub fn scaled(&self, factor: f64) -> DurationModel {
        DurationModel {
            a_ms: self.a_ms * factor,
            b_ms_mb: self.b_ms_mb * factor,
            c_ms_mb: self.c_ms_mb * factor,
        }
    }
}

/// Which form of the model the data allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// `a + b/min(m,1769) + c/min(m,10240)`: three or more sizes, on both
    /// sides of 1,769 MB.
    Full,
    /// `a + b/min(m,1769)`: two sizes, or none above 1,769 MB; predicts no
    /// speed-up beyond one vCPU.
    SingleThread,
    /// `a + c/min(m,10240)`: only sizes at or above 1,769 MB.
    MultiThread,
    /// `b/min(m,1769)`: one size, assumed CPU-bound and single-threaded.
    OneSize,
}

impl ModelKind {
    /// How many coefficients the form has.
    pub fn coefficients(self) -> usize {
        match self {
            ModelKind::Full => 3,
            ModelKind::SingleThread | ModelKind::MultiThread => 2,
            ModelKind::OneSize => 1,
        }
    }
}

/// One memory size as the fit sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SizePoint {
    /// The memory size.
    pub memory_size_mb: u32,
    /// The per-size duration to fit (a median of warm successful durations).
    pub duration_ms: f64,
    /// Its weight (the number of durations behind it).
    pub weight: f64,
}

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FitOptions {
    /// Number of bootstrap refits (0 disables the interval).
    pub resamples: usize,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            resamples: 200,
            seed: 0x7475_6e65,
        }
    }
}

/// A fitted duration model with its error and bootstrap refits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fit {
    /// The form used.
    pub kind: ModelKind,
    /// The coefficients.
    pub model: DurationModel,
    /// The points it was fitted on, smallest size first.
    pub points: Vec<SizePoint>,
    /// Root mean square error on the per-size medians, ms (weighted by sample count).
    pub rmse_ms: f64,
    /// Mean absolute percentage error on the per-size medians (unweighted).
    pub mape_pct: f64,
    /// Points minus coefficients: at 0 the errors are 0 by construction and
    /// say nothing; only a held-out size tests the model then.
    pub degrees_of_freedom: i64,
    /// The bootstrap refits.
    #[serde(skip)]
    pub resamples: Vec<DurationModel>,
}

impl Fit {
    /// The 5th and 95th percentiles of the bootstrap predictions at a size
    /// (the point prediction twice when there are no resamples).
    pub fn interval_ms(&self, memory_size_mb: u32) -> (f64, f64) {
        if self.resamples.is_empty() {
            let point = self.model.predict_ms(memory_size_mb);
            return (point, point);
        }
        let mut predictions: Vec<f64> = self
            .resamples
            .iter()
            .map(|model| model.predict_ms(memory_size_mb))
            .collect();
        predictions.sort_unstable_by(f64::total_cmp);
        (
            percentile_of_sorted(&predictions, 0.05),
            percentile_of_sorted(&predictions, 0.95),
        )
    }

    /// The same fit with every duration multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Fit {
        Fit {
            model: self.model.scaled(factor),
            resamples: self
                .resamples
                .iter()
                .map(|model| model.scaled(factor))
                .collect(),
            points: self
                .points
                .iter()
                .map(|point| SizePoint {
                    duration_ms: point.duration_ms * factor,
                    ..*point
                })
                .collect(),
            rmse_ms: self.rmse_ms * factor,
            ..self.clone()
        }
    }
}

/// The value at fraction `p` of an ascending slice (nearest rank).
fn percentile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let index = ((last as f64) * p).round() as usize;
    sorted.get(index.min(last)).copied().unwrap_or(0.0)
}

/// Fits the model to an observation's warm successful durations, with a
/// bootstrap. `None` when no size has a warm successful duration.
pub fn fit(observations: &Observations, options: &FitOptions) -> Option<Fit> {
    let sizes: Vec<_> = observations.fitted_sizes().collect();
    let points: Vec<SizePoint> = sizes
        .iter()
        .map(|size| SizePoint {
            memory_size_mb: size.memory_size_mb,
            duration_ms: size.warm.median_ms,
            weight: size.warm.count as f64,
        })
        .collect();
    let (kind, model) = fit_points(&points)?;
    let mut rng = SplitMix64(options.seed);
    let mut scratch = Vec::new();
    let mut resampled_points = points.clone();
    let mut resamples = Vec::with_capacity(options.resamples);
    for _ in 0..options.resamples {
        for (point, size) in resampled_points.iter_mut().zip(&sizes) {
            let durations = &size.warm_durations_ms;
            scratch.clear();
            scratch.extend((0..durations.len()).map(|_| durations[rng.below(durations.len())]));
            point.duration_ms = median_in_place(&mut scratch);
        }
        if let Some(model) = fit_kind(kind, &resampled_points) {
            resamples.push(model);
        }
    }
    Some(summarise(kind, model, points, resamples))
}

/// Fits the richest form the points identify (see the module comment).
/// `None` without points.
pub fn fit_points(points: &[SizePoint]) -> Option<(ModelKind, DurationModel)> {
    let kind = match points.len() {
        0 => return None,
        1 => ModelKind::OneSize,
        2 => ModelKind::SingleThread,
        _ => ModelKind::Full,
    };
    let below_vcpu = points
        .iter()
        .filter(|point| point.memory_size_mb < ONE_VCPU_MB)
        .count();
    let kind = match kind {
        ModelKind::Full if below_vcpu == points.len() => ModelKind::SingleThread,
        ModelKind::Full | ModelKind::SingleThread if below_vcpu == 0 => ModelKind::MultiThread,
        other => other,
    };
    if let Some(model) = fit_kind(kind, points) {
        return Some((kind, model));
    }
    // A form that is singular on these sizes (e.g. {1024, 1769, 3008} for
    // the full model is fine, but collinear sets exist): step down.
    [ModelKind::SingleThread, ModelKind::MultiThread]
        .into_iter()
        .find_map(|kind| fit_kind(kind, points).map(|model| (kind, model)))
        .or_else(|| fit_kind(ModelKind::OneSize, points).map(|model| (ModelKind::OneSize, model)))
}

/// Builds a [`Fit`] from a model and its refits.
fn summarise(
    kind: ModelKind,
    model: DurationModel,
    points: Vec<SizePoint>,
    resamples: Vec<DurationModel>,
) -> Fit {
    let total_weight: f64 = points.iter().map(|point| point.weight).sum();
    let weighted_square_error: f64 = points
        .iter()
        .map(|point| {
            point.weight * (model.predict_ms(point.memory_size_mb) - point.duration_ms).powi(2)
        })
        .sum();
    let rmse_ms = if total_weight > 0.0 {
        (weighted_square_error / total_weight).sqrt()
    } else {
        0.0
    };
    let relative: Vec<f64> = points
        .iter()
        .filter(|point| point.duration_ms > 0.0)
        .map(|point| {
            ((model.predict_ms(point.memory_size_mb) - point.duration_ms) / point.duration_ms).abs()
        })
        .collect();
    let mape_pct = if relative.is_empty() {
        0.0
    } else {
        100.0 * relative.iter().sum::<f64>() / relative.len() as f64
    };
    Fit {
        kind,
        model,
        degrees_of_freedom: points.len() as i64 - kind.coefficients() as i64,
        points,
        rmse_ms,
        mape_pct,
        resamples,
    }
}

/// The scaled basis: `[1, 1769/min(m,1769), 10240/min(m,10240)]`, each in
/// [1, 80], so the normal equations stay well conditioned.
fn basis(memory_size_mb: u32) -> [f64; 3] {
    let memory = f64::from(memory_size_mb.max(1));
    let vcpu = f64::from(ONE_VCPU_MB);
    let max = f64::from(MAX_MEMORY_MB);
    [1.0, vcpu / memory.min(vcpu), max / memory.min(max)]
}

/// Back from scaled coefficients to ms and ms × MB.
fn unscale(coefficients: [f64; 3]) -> DurationModel {
    DurationModel {
        a_ms: coefficients[0],
        b_ms_mb: coefficients[1] * f64::from(ONE_VCPU_MB),
        c_ms_mb: coefficients[2] * f64::from(MAX_MEMORY_MB),
    }
}

/// Fits one form by NNLS over its coefficients; `None` when the form is
/// singular on these points (every subset's equations degenerate).
fn fit_kind(kind: ModelKind, points: &[SizePoint]) -> Option<DurationModel> {
    let allowed: &[usize] = match kind {
        ModelKind::Full => &[0, 1, 2],
        ModelKind::SingleThread => &[0, 1],
        ModelKind::MultiThread => &[0, 2],
        ModelKind::OneSize => &[1],
    };
    if points.len() < allowed.len() {
        return None;
    }
    // The full set must be identifiable, or the form is not this data's form.
    solve_subset(allowed, points)?;
    nnls(allowed, points).map(unscale)
}

/// Weighted NNLS over the coefficients in `allowed` by enumerating subsets.
fn nnls(allowed: &[usize], points: &[SizePoint]) -> Option<[f64; 3]> {
    let mut best: Option<([f64; 3], f64)> = None;
    for mask in 1_u32..(1 << allowed.len()) {
        let subset: Vec<usize> = allowed
            .iter()
            .enumerate()
            .filter(|(bit, _)| mask & (1 << bit) != 0)
            .map(|(_, &index)| index)
            .collect();
        let Some(coefficients) = solve_subset(&subset, points) else {
            continue;
        };
        if coefficients.iter().any(|&value| value < 0.0) {
            continue;
        }
        let error = weighted_square_error(&coefficients, points);
        if best.is_none_or(|(_, best_error)| error < best_error) {
            best = Some((coefficients, error));
        }
    }
    best.map(|(coefficients, _)| coefficients)
}

fn weighted_square_error(coefficients: &[f64; 3], points: &[SizePoint]) -> f64 {
    points
        .iter()
        .map(|point| {
            let row = basis(point.memory_size_mb);
            let predicted: f64 = row.iter().zip(coefficients).map(|(x, c)| x * c).sum();
            point.weight * (predicted - point.duration_ms).powi(2)
        })
        .sum()
}

/// Unconstrained weighted least squares on the coefficients in `subset`
/// (the others fixed at 0), by the normal equations and Gaussian elimination
/// with partial pivoting. `None` when the equations are (nearly) singular:
/// the determinant of the normal matrix scaled to unit diagonal is below 1e-9.
fn solve_subset(subset: &[usize], points: &[SizePoint]) -> Option<[f64; 3]> {
    let size = subset.len();
    let mut normal = [[0.0_f64; 4]; 3];
    for point in points {
        let row = basis(point.memory_size_mb);
        for (i, &column_i) in subset.iter().enumerate() {
            for (j, &column_j) in subset.iter().enumerate() {
                normal[i][j] += point.weight * row[column_i] * row[column_j];
            }
            normal[i][size] += point.weight * row[column_i] * point.duration_ms;
        }
    }
    if !is_well_posed(&normal, size) {
        return None;
    }
    for pivot in 0..size {
        let best_row = (pivot..size).max_by(|&left, &right| {
            normal[left][pivot]
                .abs()
                .total_cmp(&normal[right][pivot].abs())
        })?;
        normal.swap(pivot, best_row);
        let pivot_value = normal[pivot][pivot];
        if pivot_value.abs() < f64::MIN_POSITIVE {
            return None;
        }
        let (upper, lower) = normal.split_at_mut(pivot + 1);
        let pivot_row = &upper[pivot];
        for row in lower.iter_mut().take(size - pivot - 1) {
            let factor = row[pivot] / pivot_value;
            for (target, source) in row.iter_mut().zip(pivot_row).take(size + 1).skip(pivot) {
                *target -= factor * source;
            }
        }
    }
    let mut solution = [0.0_f64; 3];
    for row in (0..size).rev() {
        let known: f64 = (row + 1..size)
            .map(|column| normal[row][column] * solution[column])
            .sum();
        solution[row] = (normal[row][size] - known) / normal[row][row];
    }
    let mut coefficients = [0.0_f64; 3];
    for (position, &index) in subset.iter().enumerate() {
        coefficients[index] = solution[position];
    }
    coefficients
        .iter()
        .all(|value| value.is_finite())
        .then_some(coefficients)
}

/// Whether the normal matrix, scaled to unit diagonal, has a determinant
/// above 1e-9 (1 for orthogonal columns, 0 for collinear ones).
fn is_well_posed(normal: &[[f64; 4]; 3], size: usize) -> bool {
    let mut scaled = [[0.0_f64; 3]; 3];
    for i in 0..size {
        for j in 0..size {
            let denominator = (normal[i][i] * normal[j][j]).sqrt();
            if !(denominator > 0.0 && denominator.is_finite()) {
                return false;
            }
            scaled[i][j] = normal[i][j] / denominator;
        }
    }
    let determinant = match size {
        1 => scaled[0][0],
        2 => scaled[0][0] * scaled[1][1] - scaled[0][1] * scaled[1][0],
        _ => {
            scaled[0][0] * (scaled[1][1] * scaled[2][2] - scaled[1][2] * scaled[2][1])
                - scaled[0][1] * (scaled[1][0] * scaled[2][2] - scaled[1][2] * scaled[2][0])
                + scaled[0][2] * (scaled[1][0] * scaled[2][1] - scaled[1][1] * scaled[2][0])
        }
    };
    determinant > 1e-9
}

/// The median of a scratch buffer, reordering it (linear time).
fn median_in_place(values: &mut [f64]) -> f64 {
    let count = values.len();
    if count == 0 {
        return 0.0;
    }
    let (_, &mut upper, _) = values.select_nth_unstable_by(count / 2, f64::total_cmp);
    if count % 2 == 1 {
        return upper;
    }
    let lower = values[..count / 2]
        .iter()
        .copied()
        .max_by(f64::total_cmp)
        .unwrap_or(upper);
    (lower + upper) / 2.0
}

/// SplitMix64: a tiny, well-mixed generator, enough for resampling indices.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A uniform index below `bound` (> 0), by Lemire's multiply-shift.
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }
}
