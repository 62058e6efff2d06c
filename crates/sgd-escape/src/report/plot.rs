//! Figures as values, rendered to PNG and SVG with plotters and a bundled font (DejaVu Sans,
//! `assets/fonts/`, Bitstream Vera licence), so no system font library is needed.

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::coord::combinators::LogCoord;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The bundled file is a valid TrueType font; failure here is a build defect.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Markers only (measurements), with error bars when given.
    Points,
    /// Hollow markers: measurements of a second kind beside [`Style::Points`] of the same
    /// colour (e.g. another estimator), with error bars when given.
    OpenPoints,
    /// A solid line (exact references).
    Line,
    /// A dashed line (approximate theories).
    Dashed,
}

/// One labelled series.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend entry.
    pub label: String,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
    /// Symmetric y error bars (half-widths), one per point.
    pub errors: Option<Vec<f64>>,
    /// Drawing style.
    pub style: Style,
    /// Palette index; `None` takes the series' position in the figure.
    pub colour: Option<usize>,
}

impl Series {
    /// Measurements: markers with optional error bars.
    pub fn points(label: impl Into<String>, points: Vec<(f64, f64)>, errors: Option<Vec<f64>>) -> Self {
        Series { label: label.into(), points, errors, style: Style::Points, colour: None }
    }

    /// Measurements of a second kind: hollow markers with optional error bars.
    pub fn open_points(label: impl Into<String>, points: Vec<(f64, f64)>, errors: Option<Vec<f64>>) -> Self {
        Series { style: Style::OpenPoints, ..Series::points(label, points, errors) }
    }

    /// An exact reference: a solid line.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { label: label.into(), points, errors: None, style: Style::Line, colour: None }
    }

    /// An approximate theory: a dashed line.
    pub fn dashed(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { label: label.into(), points, errors: None, style: Style::Dashed, colour: None }
    }

    /// Draws in palette colour `index` (series that belong together share a colour).
    pub fn colour(mut self, index: usize) -> Self {
        self.colour = Some(index);
        self
    }
}

/// A 2-D figure.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Caption.
    pub title: String,
    /// x-axis label, with units.
    pub x_label: String,
    /// y-axis label, with units.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The series, drawn in order with colours from a fixed palette.
    pub series: Vec<Series>,
    /// Where the legend goes (choose the corner the data leave empty).
    pub legend: Legend,
}

/// Where the legend goes: a corner of the plotting area, or a panel to the right of it (off
/// the data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legend {
    /// A panel right of the plotting area.
    Right,
    /// Upper left.
    UpperLeft,
    /// Upper right.
    UpperRight,
    /// Lower left.
    LowerLeft,
    /// Lower right.
    LowerRight,
}

const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 90, 181),
    RGBColor(220, 50, 32),
    RGBColor(0, 140, 60),
    RGBColor(150, 60, 170),
    RGBColor(230, 140, 0),
    RGBColor(60, 60, 60),
    RGBColor(140, 86, 40),
];

/// A compact tick label: plain decimals between 10⁻³ and 10⁴, scientific otherwise (1e5).
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        // Shortest mantissa: 1e5, 2.5e-4.
        let s = format!("{v:.3e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
        format!("{mantissa}e{exponent}")
    }
}

fn bounds(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite() && (!log || *v > 0.0)).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (l, h) = (lo.log10(), hi.log10());
        if h - l < 1.0 {
            // Sub-decade axis: widen to one significant digit on each side (1.25–3 becomes
            // 1–3), where the log axis has labelled ticks, without the empty rest of the decade.
            let down = 10f64.powf(l.floor());
            let up = 10f64.powf(h.floor());
            let (a, b) = ((lo / down).floor() * down, (hi / up).ceil() * up);
            return if b > a * 1.5 { (a, b) } else { (10f64.powf(l.floor()), 10f64.powf(h.ceil().max(l.floor() + 1.0))) };
        }
        let pad = ((h - l) * 0.05).max(0.05);
        (10f64.powf(l - pad), 10f64.powf(h + pad))
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-12 * hi.abs().max(1.0));
        (lo - pad, hi + pad)
    }
}

/// An axis (linear or logarithmic) with the tick positions of [`ticks`]: labels and bold grid
/// lines at the ticks, light grid lines from the axis itself.
struct Ticked<R> {
    axis: R,
    ticks: Vec<f64>,
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;
    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.axis.map(value, limit)
    }
    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() && hint.max_num_points() > self.ticks.len() {
            self.axis.key_points(hint)
        } else {
            self.ticks.clone()
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.axis.range()
    }
}

/// Tick positions over [lo, hi]: for a linear axis multiples of 1, 2 or 5 × 10^k, about six;
/// for a log axis the decades, with 2 and 5 (and 3 under two decades) between them while the
/// axis spans few decades, so that every part of the range is labelled and labels do not
/// collide.
fn ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    let linear = |lo: f64, hi: f64| {
        let raw = (hi - lo) / 6.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        (first..=last).map(|k| k as f64 * step).collect::<Vec<f64>>()
    };
    if !log {
        return linear(lo, hi);
    }
    let decades = hi.log10() - lo.log10();
    let mantissas: &[f64] = if decades > 4.0 {
        &[1.0]
    } else if decades > 2.0 {
        &[1.0, 2.0, 5.0]
    } else if decades > 0.8 {
        &[1.0, 2.0, 3.0, 5.0]
    } else {
        &[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    };
    let every = if decades > 10.0 { (decades / 8.0).ceil() as i64 } else { 1 };
    let mut out = Vec::new();
    for k in (lo.log10().floor() as i64)..=(hi.log10().ceil() as i64) {
        if k.rem_euclid(every) != 0 {
            continue;
        }
        for m in mantissas {
            let v = m * 10f64.powi(k as i32);
            if v >= lo * (1.0 - 1e-12) && v <= hi * (1.0 + 1e-12) {
                out.push(v);
            }
        }
    }
    if out.len() < 3 { linear(lo, hi).into_iter().filter(|v| *v > 0.0).collect() } else { out }
}

fn draw<DB, X, Y>(root: &DrawingArea<DB, Shift>, figure: &Figure, x: X, y: Y) -> std::result::Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(&figure.title, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(&figure.x_label)
        .y_desc(&figure.y_label)
        .axis_desc_style(("sans-serif", 20))
        .label_style(("sans-serif", 16))
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()
        .map_err(|e| e.to_string())?;
    for (k, s) in figure.series.iter().enumerate() {
        let colour = COLOURS[s.colour.unwrap_or(k) % COLOURS.len()];
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(a, b)| a.is_finite() && b.is_finite() && (!figure.log_x || *a > 0.0) && (!figure.log_y || *b > 0.0))
            .collect();
        let anno = match s.style {
            Style::Points | Style::OpenPoints => {
                if let Some(errors) = &s.errors {
                    chart
                        .draw_series(
                            s.points
                                .iter()
                                .zip(errors)
                                .filter(|((_, b), e)| b.is_finite() && e.is_finite() && (!figure.log_y || *b - **e > 0.0))
                                .map(|((a, b), e)| ErrorBar::new_vertical(*a, b - e, *b, b + e, colour.stroke_width(2), 8)),
                        )
                        .map_err(|e| e.to_string())?;
                }
                let marker = if s.style == Style::Points { colour.filled() } else { colour.stroke_width(2) };
                let radius = if s.style == Style::Points { 5 } else { 7 };
                chart.draw_series(points.iter().map(|p| Circle::new(*p, radius, marker))).map_err(|e| e.to_string())?
            }
            Style::Line => chart.draw_series(LineSeries::new(points, colour.stroke_width(3))).map_err(|e| e.to_string())?,
            Style::Dashed => chart.draw_series(DashedLineSeries::new(points, 10, 6, colour.stroke_width(3))).map_err(|e| e.to_string())?,
        };
        let anno = anno.label(&s.label);
        match s.style {
            Style::Points => anno.legend(move |(a, b)| Circle::new((a + 12, b), 5, colour.filled())),
            Style::OpenPoints => anno.legend(move |(a, b)| Circle::new((a + 12, b), 7, colour.stroke_width(2))),
            Style::Line => anno.legend(move |(a, b)| PathElement::new(vec![(a, b), (a + 28, b)], colour.stroke_width(3))),
            Style::Dashed => anno
                .legend(move |(a, b)| plotters::element::DashedPathElement::new(vec![(a, b), (a + 28, b)], 7, 4, colour.stroke_width(3))),
        };
    }
    let corner = match figure.legend {
        Legend::Right => return Ok(()),
        Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
        Legend::UpperRight => SeriesLabelPosition::UpperRight,
        Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
        Legend::LowerRight => SeriesLabelPosition::LowerRight,
    };
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(corner)
        .draw()
        .map_err(|e| e.to_string())
}

/// The legend in its own panel: one entry per series, its symbol then its label, wrapped to
/// the panel's width.
fn draw_legend_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, figure: &Figure) -> std::result::Result<(), String> {
    let (w, _) = area.dim_in_pixel();
    let style = TextStyle::from(("sans-serif", 15).into_font()).color(&BLACK);
    let chars = ((w as usize).saturating_sub(60) / 8).max(12);
    let mut y = 70;
    for (k, s) in figure.series.iter().enumerate() {
        let colour = COLOURS[s.colour.unwrap_or(k) % COLOURS.len()];
        let (x, mid) = (12, y + 8);
        match s.style {
            Style::Points => area.draw(&Circle::new((x + 14, mid), 5, colour.filled())),
            Style::OpenPoints => area.draw(&Circle::new((x + 14, mid), 7, colour.stroke_width(2))),
            Style::Line => area.draw(&PathElement::new(vec![(x, mid), (x + 28, mid)], colour.stroke_width(3))),
            Style::Dashed => {
                area.draw(&plotters::element::DashedPathElement::new(vec![(x, mid), (x + 28, mid)], 7, 4, colour.stroke_width(3)))
            }
        }
        .map_err(|e| e.to_string())?;
        for line in wrap(&s.label, chars) {
            area.draw_text(&line, &style, (x + 40, y)).map_err(|e| e.to_string())?;
            y += 19;
        }
        y += 9;
    }
    Ok(())
}

/// Splits text into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

impl Figure {
    fn render<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        let xs = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let ys = self.series.iter().flat_map(|s| {
            let errors = s.errors.clone().unwrap_or_default();
            s.points.iter().enumerate().flat_map(move |(i, p)| {
                let e = errors.get(i).copied().unwrap_or(0.0);
                [p.1 - e, p.1 + e]
            })
        });
        let (x0, x1) = bounds(xs, self.log_x);
        let (y0, y1) = bounds(ys, self.log_y);
        let (tx, ty) = (ticks(x0, x1, self.log_x), ticks(y0, y1, self.log_y));
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (plot, legend) = match self.legend {
            Legend::Right => {
                let (w, _) = root.dim_in_pixel();
                let (plot, legend) = root.split_horizontally(w * 68 / 100);
                (plot, Some(legend))
            }
            _ => (root.clone(), None),
        };
        let linear = |lo: f64, hi: f64, ticks: Vec<f64>| Ticked { axis: RangedCoordf64::from(lo..hi), ticks };
        let log = |lo: f64, hi: f64, ticks: Vec<f64>| Ticked { axis: LogCoord::<f64>::from((lo..hi).log_scale()), ticks };
        match (self.log_x, self.log_y) {
            (false, false) => draw(&plot, self, linear(x0, x1, tx), linear(y0, y1, ty)),
            (true, false) => draw(&plot, self, log(x0, x1, tx), linear(y0, y1, ty)),
            (false, true) => draw(&plot, self, linear(x0, x1, tx), log(y0, y1, ty)),
            (true, true) => draw(&plot, self, log(x0, x1, tx), log(y0, y1, ty)),
        }?;
        if let Some(area) = legend {
            draw_legend_panel(&area, self)?;
        }
        root.present().map_err(|e| e.to_string())
    }

    /// Writes `stem.png` and `stem.svg` (1000 × 700, or 1400 × 700 with the legend in its own
    /// panel).
    pub fn save(&self, stem: &Path) -> Result<()> {
        register_font();
        let fail =
            |what: &str, e: String| Error::Io { action: "cannot draw", path: stem.with_extension(what), source: std::io::Error::other(e) };
        let size = if self.legend == Legend::Right { (1400, 700) } else { (1000, 700) };
        let png = stem.with_extension("png");
        self.render(BitMapBackend::new(&png, size).into_drawing_area()).map_err(|e| fail("png", e))?;
        let svg = stem.with_extension("svg");
        self.render(SVGBackend::new(&svg, size).into_drawing_area()).map_err(|e| fail("svg", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ticks label every part of the range without crowding: log axes get 1-2-5 (or 1-2-3-5)
    /// ticks over a few decades, decades only over many; linear axes multiples of 1, 2 or 5.
    #[test]
    fn ticks_cover_the_range() {
        assert_eq!(ticks(2.5, 32.0, true), vec![3.0, 5.0, 10.0, 20.0, 30.0]);
        assert_eq!(ticks(0.004, 0.12, true), vec![0.005, 0.01, 0.02, 0.03, 0.05, 0.1]);
        assert_eq!(ticks(1e-3, 1e6, true), vec![1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]);
        assert_eq!(ticks(0.0, 1.0, false), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
    }

    #[test]
    fn tick_labels_are_short() {
        let labels: Vec<String> = [0.0, 0.002, 0.25, 3.0, 1000.0, 1e4, 2.5e5, 1e8, 1.5e-4].iter().map(|v| tick(*v)).collect();
        assert_eq!(labels, ["0", "0.002", "0.25", "3", "1000", "1e4", "2.5e5", "1e8", "1.5e-4"]);
    }

    #[test]
    fn renders_png_and_svg_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let figure = Figure {
            title: "power law against exponential".into(),
            x_label: "barrier ratio c = L(θˢ)/L*".into(),
            y_label: "mean escape time t".into(),
            log_x: true,
            log_y: true,
            series: vec![
                Series {
                    label: "measured".into(),
                    points: vec![(1.5, 10.0), (2.0, 40.0), (3.0, 300.0)],
                    errors: Some(vec![1.0, 3.0, 20.0]),
                    style: Style::Points,
                    colour: None,
                },
                Series {
                    label: "c^5.5".into(),
                    points: (0..20).map(|i| 1.4 + 0.1 * i as f64).map(|c| (c, 2.0 * c.powf(5.5))).collect(),
                    errors: None,
                    style: Style::Dashed,
                    colour: None,
                },
                Series {
                    label: "quadrature".into(),
                    points: vec![(1.5, 11.0), (2.0, 38.0), (3.0, 310.0)],
                    errors: None,
                    style: Style::Line,
                    colour: None,
                },
            ],
            legend: Legend::Right,
        };
        figure.save(&dir.path().join("fig")).unwrap();
        let png = std::fs::read(dir.path().join("fig.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(dir.path().join("fig.svg")).unwrap();
        for text in ["mean escape time t", "measured", "quadrature", "power law against exponential"] {
            assert!(svg.contains(text), "svg lacks {text}");
        }
    }
}
