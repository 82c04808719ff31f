//! SVG charts (plotters, no fonts needed: the viewer renders the text): load, replicas and
//! latency over time with every policy overlaid, and the cost-vs-SLO frontier of a sweep.

use plotters::prelude::*;

use crate::engine::RunResult;
use crate::stats::Summary;

/// A chart could not be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("drawing the {chart} chart failed: {error}")]
pub struct PlotError {
    /// Which chart.
    pub chart: &'static str,
    /// plotters' message.
    pub error: String,
}

const SIZE: (u32, u32) = (960, 340);

/// Colours that stay apart on white, in order.
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// One line of a chart: a name and points; `None` breaks the line (no data there).
struct Series {
    name: String,
    points: Vec<(f64, Option<f64>)>,
}

/// Contiguous runs of defined points.
fn runs(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for &(x, y) in points {
        match y {
            Some(y) if y.is_finite() => cur.push((x, y)),
            _ => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Time axis unit for a horizon in seconds: minutes up to 3 h, hours beyond.
fn time_unit(horizon_s: f64) -> (f64, &'static str) {
    if horizon_s > 3.0 * 3600.0 {
        (3600.0, "time (h)")
    } else {
        (60.0, "time (min)")
    }
}

/// `20.0` → `20`, `2.5` → `2.5`: axis labels without needless decimals.
fn short_number(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn err(chart: &'static str) -> impl Fn(String) -> PlotError {
    move |error| PlotError { chart, error }
}

fn line_chart(
    chart: &'static str,
    title: &str,
    y_desc: &str,
    series: &[Series],
    log_y: bool,
) -> Result<String, PlotError> {
    let e = err(chart);
    let horizon = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let (unit, x_desc) = time_unit(horizon);
    let values = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
        (if v > 0.0 { lo.min(v) } else { lo }, hi.max(v))
    });
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(62);
        let x_range = 0.0..horizon / unit;
        if log_y {
            let lo = if lo.is_finite() { lo / 1.5 } else { 0.001 };
            let hi = (hi * 1.5).max(lo * 10.0);
            let mut c = builder
                .build_cartesian_2d(x_range, (lo..hi).log_scale())
                .map_err(|x| e(x.to_string()))?;
            c.configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .y_label_formatter(&|v| crate::dist::format_secs(*v))
                .x_label_formatter(&|v| short_number(*v))
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(|x| e(x.to_string()))?;
            draw_lines(&mut c, series, unit, &e)?;
        } else {
            let hi = if hi > 0.0 { hi * 1.1 } else { 1.0 };
            let mut c = builder
                .build_cartesian_2d(x_range, 0.0..hi)
                .map_err(|x| e(x.to_string()))?;
            c.configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .y_label_formatter(&|v| short_number(*v))
                .x_label_formatter(&|v| short_number(*v))
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(|x| e(x.to_string()))?;
            draw_lines(&mut c, series, unit, &e)?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// The series as lines over time (a lone point as a dot), with a legend when there are
/// several; the same on a linear or a logarithmic y axis.
fn draw_lines<'a, DB, X, Y>(
    c: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    series: &[Series],
    unit: f64,
    e: &impl Fn(String) -> PlotError,
) -> Result<(), PlotError>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in series.iter().enumerate() {
        let style = colour(i).stroke_width(2);
        for (k, run) in runs(&s.points).into_iter().enumerate() {
            let pts: Vec<(f64, f64)> = run.iter().map(|(x, y)| (x / unit, *y)).collect();
            if pts.len() == 1 {
                c.draw_series(pts.iter().map(|p| Circle::new(*p, 2, style.filled())))
                    .map_err(|x| e(x.to_string()))?;
            }
            let drawn = c
                .draw_series(LineSeries::new(pts, style))
                .map_err(|x| e(x.to_string()))?;
            if k == 0 {
                drawn
                    .label(s.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
        }
    }
    if series.len() > 1 {
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|x| e(x.to_string()))?;
    }
    Ok(())
}

/// Arrivals per second over time (the workload; the same for every policy).
pub fn load_chart(run: &RunResult) -> Result<String, PlotError> {
    let series = [Series {
        name: "arrivals/s".into(),
        points: run
            .rows
            .iter()
            .map(|r| (r.time_s, Some(r.arrival_rate)))
            .collect(),
    }];
    line_chart(
        "load",
        "Load: arrivals per second",
        "requests/s",
        &series,
        false,
    )
}

/// Replicas over time (mean over each interval, every state counted), per policy.
pub fn replicas_chart(runs: &[RunResult]) -> Result<String, PlotError> {
    let series: Vec<Series> = runs
        .iter()
        .map(|r| Series {
            name: r.summary.policy.clone(),
            points: r
                .rows
                .iter()
                .map(|row| (row.time_s, Some(row.replicas)))
                .collect(),
        })
        .collect();
    line_chart(
        "replicas",
        "Replicas (starting, ready and draining)",
        "replicas",
        &series,
        false,
    )
}

/// p95 latency of the requests served in each interval, per policy (log scale).
pub fn latency_chart(runs: &[RunResult]) -> Result<String, PlotError> {
    let series: Vec<Series> = runs
        .iter()
        .map(|r| Series {
            name: r.summary.policy.clone(),
            points: r
                .rows
                .iter()
                .map(|row| (row.time_s, row.latency_p95_s))
                .collect(),
        })
        .collect();
    line_chart(
        "latency",
        "Latency: p95 per interval (log scale)",
        "p95 latency",
        &series,
        true,
    )
}

/// Cost (replica-hours) against SLO attainment, one point per run, points of one sweep joined.
/// `groups` are (label, indices into `summaries`) in sweep order.
pub fn frontier_chart(
    summaries: &[Summary],
    groups: &[(String, Vec<(String, usize)>)],
) -> Result<String, PlotError> {
    let e = err("frontier");
    let pts: Vec<(f64, f64)> = summaries
        .iter()
        .map(|s| {
            (
                s.replica_seconds / 3600.0,
                100.0 * s.slo_attainment.unwrap_or(0.0),
            )
        })
        .collect();
    let x_hi = pts.iter().map(|p| p.0).fold(0.0_f64, f64::max).max(0.1) * 1.15;
    let y_lo = pts.iter().map(|p| p.1).fold(100.0_f64, f64::min);
    let y_lo = (y_lo - 5.0).clamp(0.0, 99.0).floor();
    let slo = summaries
        .iter()
        .find_map(|s| s.slo_s)
        .map_or("SLO".to_string(), |s| {
            format!("≤ {}", crate::dist::format_secs(s))
        });
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut c = ChartBuilder::on(&root)
            .caption("Cost against SLO attainment", ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(62)
            .build_cartesian_2d(0.0..x_hi, y_lo..100.5)
            .map_err(|x| e(x.to_string()))?;
        c.configure_mesh()
            .x_label_formatter(&|v| short_number(*v))
            .y_label_formatter(&|v| short_number(*v))
            .x_desc("cost (replica-hours)")
            .y_desc(format!("requests served {slo} (%)"))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (i, (label, members)) in groups.iter().enumerate() {
            let style = colour(i).stroke_width(2);
            let line: Vec<(f64, f64)> = members.iter().map(|(_, k)| pts[*k]).collect();
            c.draw_series(LineSeries::new(line.clone(), style))
                .map_err(|x| e(x.to_string()))?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            c.draw_series(line.iter().map(|p| Circle::new(*p, 4, colour(i).filled())))
                .map_err(|x| e(x.to_string()))?;
            c.draw_series(members.iter().map(|(value, k)| {
                EmptyElement::at(pts[*k])
                    + Text::new(value.clone(), (7, -16), ("sans-serif", 13).into_font())
            }))
            .map_err(|x| e(x.to_string()))?;
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|x| e(x.to_string()))?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_break_lines() {
        let r = runs(&[
            (0.0, Some(1.0)),
            (1.0, None),
            (2.0, Some(2.0)),
            (3.0, Some(3.0)),
        ]);
        assert_eq!(r, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }

    #[test]
    fn units_follow_the_horizon() {
        assert_eq!(time_unit(3600.0).1, "time (min)");
        assert_eq!(time_unit(86_400.0).1, "time (h)");
    }
}
