//! Tune chart: a [`Recommendation`] → an SVG of duration and cost against
//! memory size, in the spirit of AWS Lambda Power Tuning's visualisation.
//!
//! One picture answers "why this size": memory on a log x axis from 128 to
//! 10,240 MB, expected duration on the left y axis (with the bootstrap band),
//! cost per million invocations on the right y axis, the observed sizes as
//! points (circles for duration, squares for cost), the current size as a
//! grey dashed line and the recommendation as a green line with markers
//! (`id="recommendation"`). x86_64 curves are solid, arm64 dashed; an
//! architecture borrowed from the other is labelled "assumed".
//!
//! The SVG is written by hand, as a string: the chart is a few dozen
//! elements, and a plotting crate would be the largest dependency of the CLI.
//! Pure: no I/O, the caller writes the string where it wants.

use std::fmt::Write as _;

use lamlog_core::meta::Architecture;
use lamlog_core::tune::{Choice, CurvePoint, Recommendation};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 560.0;
const LEFT: f64 = 86.0;
const RIGHT: f64 = 96.0;
const TOP: f64 = 92.0;
const BOTTOM: f64 = 64.0;
const MIN_MB: f64 = 128.0;
const MAX_MB: f64 = 10_240.0;
const DURATION_COLOUR: &str = "#1f77b4";
const COST_COLOUR: &str = "#e8710a";
const RECOMMENDED_COLOUR: &str = "#1a7f37";
const CURRENT_COLOUR: &str = "#6e7781";

/// Renders the chart of one recommendation as a standalone SVG document.
pub fn render_svg(recommendation: &Recommendation) -> String {
    let frame = Frame::new(recommendation);
    let mut svg = String::with_capacity(32 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">"#
    );
    svg.push('\n');
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    title(&mut svg, recommendation);
    frame.axes(&mut svg);
    for architecture in [Architecture::X86_64, Architecture::Arm64] {
        let points: Vec<&CurvePoint> = recommendation
            .curves
            .iter()
            .filter(|point| point.architecture == architecture)
            .collect();
        if !points.is_empty() {
            frame.curves(&mut svg, architecture, &points);
        }
    }
    frame.observed(&mut svg, recommendation);
    frame.marker(&mut svg, &recommendation.current, "current", CURRENT_COLOUR);
    frame.marker(
        &mut svg,
        &recommendation.recommended,
        "recommendation",
        RECOMMENDED_COLOUR,
    );
    legend(&mut svg, recommendation);
    svg.push_str("</svg>\n");
    svg
}

/// The plot area and the three scales.
struct Frame {
    duration_max_ms: f64,
    duration_step_ms: f64,
    cost_max_usd: f64,
    cost_step_usd: f64,
}

impl Frame {
    fn new(recommendation: &Recommendation) -> Frame {
        let duration_top = recommendation
            .curves
            .iter()
            .map(|point| point.duration_high_ms)
            .chain(
                recommendation
                    .observed
                    .iter()
                    .map(|point| point.duration_ms),
            )
            .fold(0.0, f64::max);
        let cost_top = recommendation
            .curves
            .iter()
            .map(|point| point.cost_per_million_usd)
            .chain(
                recommendation
                    .observed
                    .iter()
                    .map(|point| point.cost_per_million_usd),
            )
            .fold(0.0, f64::max);
        let (duration_max_ms, duration_step_ms) = nice_axis(duration_top);
        let (cost_max_usd, cost_step_usd) = nice_axis(cost_top);
        Frame {
            duration_max_ms,
            duration_step_ms,
            cost_max_usd,
            cost_step_usd,
        }
    }

    fn x(&self, memory_size_mb: u32) -> f64 {
        let memory = f64::from(memory_size_mb).clamp(MIN_MB, MAX_MB);
        LEFT + (memory.ln() - MIN_MB.ln()) / (MAX_MB.ln() - MIN_MB.ln()) * (WIDTH - LEFT - RIGHT)
    }

    fn y_duration(&self, duration_ms: f64) -> f64 {
        HEIGHT
            - BOTTOM
            - (duration_ms / self.duration_max_ms).clamp(0.0, 1.0) * (HEIGHT - TOP - BOTTOM)
    }

    fn y_cost(&self, cost_usd: f64) -> f64 {
        HEIGHT - BOTTOM - (cost_usd / self.cost_max_usd).clamp(0.0, 1.0) * (HEIGHT - TOP - BOTTOM)
    }

    fn axes(&self, svg: &mut String) {
        let (left, right, top, bottom) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
        let _ = writeln!(
            svg,
            r##"<g class="grid" stroke="#d0d7de" stroke-width="1">"##
        );
        let steps = (self.duration_max_ms / self.duration_step_ms).round() as usize;
        for step in 0..=steps {
            let y = self.y_duration(step as f64 * self.duration_step_ms);
            let _ = writeln!(
                svg,
                r#"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}"/>"#
            );
        }
        for memory in X_TICKS {
            let x = self.x(memory);
            let _ = writeln!(
                svg,
                r#"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke-dasharray="2 4"/>"#
            );
        }
        svg.push_str("</g>\n");
        let vcpu = self.x(1769);
        let _ = writeln!(
            svg,
            r##"<line x1="{vcpu:.1}" y1="{top}" x2="{vcpu:.1}" y2="{bottom}" stroke="#8250df" stroke-width="1" stroke-dasharray="6 3"/><text x="{x:.1}" y="{y:.1}" fill="#8250df" font-size="11">1 vCPU</text>"##,
            x = vcpu + 4.0,
            y = top + 12.0
        );
        let _ = writeln!(
            svg,
            r##"<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#57606a"/>"##,
            w = right - left,
            h = bottom - top
        );
        let _ = writeln!(
            svg,
            r##"<g class="x-axis" fill="#24292f" text-anchor="middle">"##
        );
        for memory in X_TICKS {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">{memory}</text>"#,
                self.x(memory),
                bottom + 18.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="13">memory size (MB, log scale)</text>"#,
            (left + right) / 2.0,
            bottom + 42.0
        );
        svg.push_str("</g>\n");
        let _ = writeln!(
            svg,
            r#"<g class="y-axis-duration" fill="{DURATION_COLOUR}" text-anchor="end">"#
        );
        for step in 0..=steps {
            let value = step as f64 * self.duration_step_ms;
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                left - 8.0,
                self.y_duration(value) + 4.0,
                format_ms(value)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="middle" font-size="13">expected duration (ms)</text>"#,
            left - 62.0,
            (top + bottom) / 2.0
        );
        svg.push_str("</g>\n");
        let _ = writeln!(
            svg,
            r#"<g class="y-axis-cost" fill="{COST_COLOUR}" text-anchor="start">"#
        );
        let cost_steps = (self.cost_max_usd / self.cost_step_usd).round() as usize;
        for step in 0..=cost_steps {
            let value = step as f64 * self.cost_step_usd;
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                right + 8.0,
                self.y_cost(value) + 4.0,
                format_usd(value)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" font-size="13">cost per 1M invocations (USD)</text>"#,
            right + 78.0,
            (top + bottom) / 2.0
        );
        svg.push_str("</g>\n");
    }

    fn curves(&self, svg: &mut String, architecture: Architecture, points: &[&CurvePoint]) {
        let dash = match architecture {
            Architecture::X86_64 => "",
            Architecture::Arm64 => r#" stroke-dasharray="7 4""#,
        };
        let mut band = String::new();
        for point in points {
            let _ = write!(
                band,
                "{:.1},{:.1} ",
                self.x(point.memory_size_mb),
                self.y_duration(point.duration_high_ms)
            );
        }
        for point in points.iter().rev() {
            let _ = write!(
                band,
                "{:.1},{:.1} ",
                self.x(point.memory_size_mb),
                self.y_duration(point.duration_low_ms)
            );
        }
        let duration: String = points
            .iter()
            .map(|point| {
                format!(
                    "{:.1},{:.1}",
                    self.x(point.memory_size_mb),
                    self.y_duration(point.duration_ms)
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        let cost: String = points
            .iter()
            .map(|point| {
                format!(
                    "{:.1},{:.1}",
                    self.x(point.memory_size_mb),
                    self.y_cost(point.cost_per_million_usd)
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        let name = architecture.as_str();
        let _ = writeln!(svg, r#"<g class="curves-{name}">"#);
        let _ = writeln!(
            svg,
            r#"<polygon class="duration-band" points="{}" fill="{DURATION_COLOUR}" fill-opacity="0.15" stroke="none"/>"#,
            band.trim_end()
        );
        let _ = writeln!(
            svg,
            r#"<polyline class="duration" points="{duration}" fill="none" stroke="{DURATION_COLOUR}" stroke-width="2.2"{dash}/>"#
        );
        let _ = writeln!(
            svg,
            r#"<polyline class="cost" points="{cost}" fill="none" stroke="{COST_COLOUR}" stroke-width="2.2"{dash}/>"#
        );
        svg.push_str("</g>\n");
    }

    fn observed(&self, svg: &mut String, recommendation: &Recommendation) {
        let _ = writeln!(
            svg,
            r##"<g class="observed" stroke="#ffffff" stroke-width="1.2">"##
        );
        for point in &recommendation.observed {
            let x = self.x(point.memory_size_mb);
            let label = format!(
                "{} MB {}: median {} ms over {} warm invocations",
                point.memory_size_mb,
                point.architecture.as_str(),
                format_ms(point.warm_median_ms),
                point.warm_invocations
            );
            let _ = writeln!(
                svg,
                r#"<circle cx="{x:.1}" cy="{:.1}" r="5" fill="{DURATION_COLOUR}"><title>{}</title></circle>"#,
                self.y_duration(point.duration_ms),
                escape(&label)
            );
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="{COST_COLOUR}"><title>{}</title></rect>"#,
                x - 4.5,
                self.y_cost(point.cost_per_million_usd) - 4.5,
                escape(&format!(
                    "{} MB: {} per 1M",
                    point.memory_size_mb,
                    format_usd(point.cost_per_million_usd)
                ))
            );
        }
        svg.push_str("</g>\n");
    }

    fn marker(&self, svg: &mut String, choice: &Choice, id: &str, colour: &str) {
        let x = self.x(choice.memory_size_mb);
        let (top, bottom) = (TOP, HEIGHT - BOTTOM);
        let dash = if id == "current" {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let label = format!(
            "{} {} MB · {} ms · {} /1M",
            if id == "current" {
                "current"
            } else {
                "recommended"
            },
            choice.memory_size_mb,
            format_ms(choice.duration_ms),
            format_usd(choice.cost_per_million_usd)
        );
        // Labels sit on the side of the line with more room.
        let (anchor, label_x) = if x > (LEFT + WIDTH - RIGHT) / 2.0 {
            ("end", x - 6.0)
        } else {
            ("start", x + 6.0)
        };
        let label_y = if id == "current" {
            top + 30.0
        } else {
            top + 48.0
        };
        let _ = writeln!(svg, r#"<g id="{id}" class="marker">"#);
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="{colour}" stroke-width="2"{dash}/>"#
        );
        let _ = writeln!(
            svg,
            r##"<circle cx="{x:.1}" cy="{:.1}" r="6" fill="none" stroke="{colour}" stroke-width="2.5"/>"##,
            self.y_duration(choice.duration_ms)
        );
        let _ = writeln!(
            svg,
            r##"<circle cx="{x:.1}" cy="{:.1}" r="6" fill="none" stroke="{colour}" stroke-width="2.5"/>"##,
            self.y_cost(choice.cost_per_million_usd)
        );
        let _ = writeln!(
            svg,
            r##"<text x="{label_x:.1}" y="{label_y:.1}" fill="{colour}" text-anchor="{anchor}" font-weight="600" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
            escape(&label)
        );
        svg.push_str("</g>\n");
    }
}

const X_TICKS: [u32; 8] = [128, 256, 512, 1024, 2048, 3008, 4096, 10_240];

fn title(svg: &mut String, recommendation: &Recommendation) {
    let heading = format!("{} · {}", recommendation.function, recommendation.account);
    let recommended = &recommendation.recommended;
    let subtitle = format!(
        "strategy {} · {} ms billing · recommended {} MB {} ({}–{} ms, {} per 1M) · current {} MB ({} per 1M)",
        recommendation.strategy.name(),
        recommendation.granularity_ms,
        recommended.memory_size_mb,
        recommended.architecture.as_str(),
        format_ms(recommended.duration_low_ms),
        format_ms(recommended.duration_high_ms),
        format_usd(recommended.cost_per_million_usd),
        recommendation.current.memory_size_mb,
        format_usd(recommendation.current.cost_per_million_usd),
    );
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="28" font-size="17" font-weight="600" fill="#24292f">{}</text>"##,
        escape(&heading)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="48" fill="#57606a">{}</text>"##,
        escape(&subtitle)
    );
}

fn legend(svg: &mut String, recommendation: &Recommendation) {
    let mut entries: Vec<(String, &str, &str)> = Vec::new();
    for model in &recommendation.models {
        let suffix = if model.assumed { " (assumed)" } else { "" };
        let dash = match model.architecture {
            Architecture::X86_64 => "",
            Architecture::Arm64 => "7 4",
        };
        entries.push((
            format!("duration {}{suffix}", model.architecture.as_str()),
            DURATION_COLOUR,
            dash,
        ));
        entries.push((
            format!("cost {}{suffix}", model.architecture.as_str()),
            COST_COLOUR,
            dash,
        ));
    }
    let _ = writeln!(svg, r##"<g class="legend" fill="#24292f">"##);
    let mut x = LEFT;
    let y = 72.0;
    for (label, colour, dash) in &entries {
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{y}" x2="{:.1}" y2="{y}" stroke="{colour}" stroke-width="2.5" stroke-dasharray="{dash}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 22.0,
            x + 27.0,
            y + 4.0,
            escape(label)
        );
        x += 40.0 + 7.2 * label.chars().count() as f64;
    }
    let _ = writeln!(
        svg,
        r#"<circle cx="{:.1}" cy="{y}" r="4.5" fill="{DURATION_COLOUR}"/><rect x="{:.1}" y="{:.1}" width="8" height="8" fill="{COST_COLOUR}"/><text x="{:.1}" y="{:.1}">observed</text>"#,
        x + 4.0,
        x + 11.0,
        y - 4.0,
        x + 24.0,
        y + 4.0
    );
    let _ = writeln!(
        svg,
        r#"<rect x="{:.1}" y="{:.1}" width="18" height="9" fill="{DURATION_COLOUR}" fill-opacity="0.15"/><text x="{:.1}" y="{:.1}">90 % interval</text>"#,
        x + 90.0,
        y - 4.5,
        x + 113.0,
        y + 4.0
    );
    svg.push_str("</g>\n");
}

/// A top ≥ `value` and a step giving 4–8 gridlines of 1, 2 or 5 × 10ⁿ.
fn nice_axis(value: f64) -> (f64, f64) {
    if !(value.is_finite() && value > 0.0) {
        return (1.0, 0.25);
    }
    let rough = value * 1.05 / 5.0;
    let magnitude = 10_f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude);
    ((value * 1.05 / step).ceil() * step, step)
}

fn format_ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn format_usd(value: f64) -> String {
    if value == 0.0 {
        "$0".to_owned()
    } else if value >= 100.0 {
        format!("${value:.0}")
    } else if value >= 1.0 {
        format!("${value:.2}")
    } else {
        format!("${value:.3}")
    }
}

/// Escapes text for an XML text node or attribute.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_axis(950.0), (1000.0, 200.0));
        assert_eq!(nice_axis(3.3), (4.0, 1.0));
        assert_eq!(nice_axis(0.0), (1.0, 0.25));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
