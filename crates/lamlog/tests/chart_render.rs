//! The tuner's chart is checked the way a person sees it: rendered to PNG by
//! a real SVG renderer (librsvg's `rsvg-convert`, which `.ci/run` installs).
//! A missing renderer fails the test; it never skips.

use std::process::Command;

use lamlog::tune_chart::render_svg;
use lamlog_core::meta::Architecture;
use lamlog_core::tune::{tune, Sample, TuneOptions};

/// Deterministic samples of `t(m) = 40 + 90000/min(m,1769) + 30000/min(m,10240)`
/// at three sizes, with ±5 % spread.
fn samples() -> Vec<Sample> {
    let mut out = Vec::new();
    for (size_index, size) in [256u32, 1024, 3008].into_iter().enumerate() {
        let memory = f64::from(size);
        let model_ms = 40.0 + 90_000.0 / memory.min(1769.0) + 30_000.0 / memory.min(10240.0);
        for index in 0..200 {
            let spread = 1.0 + 0.05 * ((index * 37 % 21) as f64 - 10.0) / 10.0;
            out.push(Sample {
                account: "123456789012".to_owned(),
                function: "orders-api".to_owned(),
                architecture: Architecture::X86_64,
                memory_size_mb: size,
                duration_ms: (model_ms * spread * 100.0).round() / 100.0,
                billed_duration_ms: None,
                max_memory_used_mb: Some(90),
                init_duration_ms: None,
                success: true,
                start_time_ms: 1_793_491_200_000 + (size_index * 200 + index) as i64 * 1000,
            });
        }
    }
    out
}

#[test]
fn the_tune_chart_renders_to_a_png() {
    let tuned = tune(&samples(), &TuneOptions::default());
    let recommendation = tuned
        .recommendations
        .first()
        .expect("one function is tuned");
    let svg = render_svg(recommendation);
    let directory = std::env::temp_dir().join(format!("lamlog-chart-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let svg_path = directory.join("chart.svg");
    let png_path = directory.join("chart.png");
    std::fs::write(&svg_path, &svg).unwrap();

    let output = Command::new("rsvg-convert")
        .arg("--width")
        .arg("900")
        .arg("--output")
        .arg(&png_path)
        .arg(&svg_path)
        .output()
        .expect("rsvg-convert must be installed (apt-get install librsvg2-bin; .ci/run does)");
    assert!(
        output.status.success(),
        "the renderer refused the SVG: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let png = std::fs::read(&png_path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(width, 900);
    assert!(height > 300, "a chart, not a sliver: {height} px high");
    assert!(
        png.len() > 20_000,
        "a chart has curves and text, not a blank page: {} bytes",
        png.len()
    );
    let _ = std::fs::remove_dir_all(&directory);
}
