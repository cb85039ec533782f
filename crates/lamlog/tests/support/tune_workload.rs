//! A generated workload read back through decode and assemble into tuner
//! samples, and the held-out checks of the duration model against the
//! generator's truth. Shared by `tests/tune_generated.rs` and
//! `examples/tune_holdout.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use lamlog_core::assemble::Assembler;
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};
use lamlog_core::meta::Architecture;
use lamlog_core::tune::{fit, observe, DurationModel, FitOptions, Sample};
use serde::Deserialize;

/// One function of `truth.json`, as far as the tuner cares.
#[derive(Debug, Clone, Deserialize)]
pub struct FunctionTruth {
    /// The log group (the key back from invocations).
    pub log_group: String,
    /// `x86_64` or `arm64`.
    pub architecture: Architecture,
    /// The median duration model.
    pub duration_model: TruthModel,
}

/// The generator's coefficients.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct TruthModel {
    /// ms.
    pub a_ms: f64,
    /// ms × MB.
    pub b_ms_mb: f64,
    /// ms × MB.
    pub c_ms_mb: f64,
}

impl TruthModel {
    /// As the tuner's model type.
    pub fn model(&self) -> DurationModel {
        DurationModel {
            a_ms: self.a_ms,
            b_ms_mb: self.b_ms_mb,
            c_ms_mb: self.c_ms_mb,
        }
    }
}

#[derive(Deserialize)]
struct Truth {
    functions: Vec<FunctionTruth>,
}

/// Samples of every reported invocation, and the truth per function name.
pub struct Loaded {
    /// The samples.
    pub samples: Vec<Sample>,
    /// The truth, keyed by the function name the invocations carry.
    pub truth: BTreeMap<String, FunctionTruth>,
}

/// Reads the `cwl-*` or `kinesis-*` files of `dir` through decode and assemble.
pub fn load(dir: &Path) -> Loaded {
    let truth: Truth =
        serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap();
    let by_group: BTreeMap<&str, &FunctionTruth> = truth
        .functions
        .iter()
        .map(|function| (function.log_group.as_str(), function))
        .collect();
    let mut assembler = Assembler::new();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("cwl-") || name.starts_with("kinesis-")
        })
        .collect();
    names.sort();
    for path in names {
        let bytes = std::fs::read(&path).unwrap();
        for record in decode(&bytes, Format::Auto, &DecodeLimits::default()).records {
            if let Ok(Record::Data(envelope)) = record {
                assembler.add_envelope(&envelope);
            }
        }
    }
    let (invocations, _) = assembler.finish();
    let mut truth_by_function = BTreeMap::new();
    let samples = invocations
        .iter()
        .filter_map(|invocation| {
            let function = by_group.get(invocation.log_group.as_str());
            let architecture = function.map_or(Architecture::X86_64, |f| f.architecture);
            if let Some(function) = function {
                truth_by_function
                    .entry(invocation.function.clone())
                    .or_insert_with(|| (*function).clone());
            }
            Sample::from_invocation(invocation, architecture)
        })
        .collect();
    Loaded {
        samples,
        truth: truth_by_function,
    }
}

/// One held-out prediction.
#[derive(Debug, Clone)]
pub struct Holdout {
    /// The function.
    pub function: String,
    /// What was held out and how.
    pub check: &'static str,
    /// Sizes the model was fitted on.
    pub fitted_on_mb: Vec<u32>,
    /// The size predicted.
    pub predicted_at_mb: u32,
    /// The prediction, ms.
    pub predicted_ms: f64,
    /// The truth's median there, ms.
    pub truth_ms: f64,
    /// |predicted − truth| / truth, %.
    pub error_pct: f64,
}

fn fit_on(samples: &[Sample], function: &str, sizes: &[u32]) -> Option<DurationModel> {
    let subset: Vec<Sample> = samples
        .iter()
        .filter(|sample| sample.function == function && sizes.contains(&sample.memory_size_mb))
        .cloned()
        .collect();
    let observations = observe(&subset);
    let options = FitOptions {
        resamples: 0,
        ..FitOptions::default()
    };
    fit(observations.first()?, &options).map(|fitted| fitted.model)
}

fn row(
    function: &str,
    check: &'static str,
    fitted_on_mb: &[u32],
    model: &DurationModel,
    truth: &DurationModel,
    size: u32,
) -> Holdout {
    let predicted_ms = model.predict_ms(size);
    let truth_ms = truth.predict_ms(size);
    Holdout {
        function: function.to_owned(),
        check,
        fitted_on_mb: fitted_on_mb.to_vec(),
        predicted_at_mb: size,
        predicted_ms,
        truth_ms,
        error_pct: 100.0 * (predicted_ms - truth_ms).abs() / truth_ms,
    }
}

/// The held-out checks of every function:
/// - `leave-one-out`: with ≥ 3 sizes, fit on all but one, predict it;
/// - `one-size`: with 2 sizes, fit on one (the one-size prior), predict the other;
/// - `interpolate`: with 2 sizes, fit on both, predict their geometric mean;
/// - `in-sample`: fit on every size, predict each (noise and pipeline only).
pub fn holdout(loaded: &Loaded) -> Vec<Holdout> {
    let mut rows = Vec::new();
    for (function, truth) in &loaded.truth {
        let truth_model = truth.duration_model.model();
        let mut sizes: Vec<u32> = loaded
            .samples
            .iter()
            .filter(|sample| &sample.function == function && sample.success)
            .map(|sample| sample.memory_size_mb)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        if sizes.len() >= 3 {
            for &held in &sizes {
                let fitted_on: Vec<u32> =
                    sizes.iter().copied().filter(|&size| size != held).collect();
                if let Some(model) = fit_on(&loaded.samples, function, &fitted_on) {
                    rows.push(row(
                        function,
                        "leave-one-out",
                        &fitted_on,
                        &model,
                        &truth_model,
                        held,
                    ));
                }
            }
        }
        if sizes.len() == 2 {
            for (fitted, held) in [(sizes[0], sizes[1]), (sizes[1], sizes[0])] {
                if let Some(model) = fit_on(&loaded.samples, function, &[fitted]) {
                    rows.push(row(
                        function,
                        "one-size",
                        &[fitted],
                        &model,
                        &truth_model,
                        held,
                    ));
                }
            }
            if let Some(model) = fit_on(&loaded.samples, function, &sizes) {
                let middle = (f64::from(sizes[0]) * f64::from(sizes[1])).sqrt().round() as u32;
                rows.push(row(
                    function,
                    "interpolate",
                    &sizes,
                    &model,
                    &truth_model,
                    middle,
                ));
            }
        }
        if let Some(model) = fit_on(&loaded.samples, function, &sizes) {
            for &size in &sizes {
                rows.push(row(
                    function,
                    "in-sample",
                    &sizes,
                    &model,
                    &truth_model,
                    size,
                ));
            }
        }
    }
    rows
}
