//! `chainsig bench --plot FILE.svg`: one picture of a run — signatures answered per second
//! against the protocol ceiling, each request's latency at the time it was answered, and each
//! node's ready stock — drawn with plotters' SVG backend (no fonts or native libraries).

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

/// What a run recorded, against seconds since it started.
pub struct Run {
    pub title: String,
    /// Signatures answered during each second, at its end.
    pub rate: Vec<(f64, f64)>,
    /// The protocols' ceiling on this machine, signatures per second.
    pub ceiling: f64,
    /// Each answered request: when, and how long it took (ms).
    pub latency: Vec<(f64, f64)>,
    /// Each second: every node's ready stock for the domain (-1: no answer).
    pub stock: Vec<(f64, Vec<i64>)>,
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;
type Area<'b> = DrawingArea<SVGBackend<'b>, plotters::coord::Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One panel: seconds across, `unit` up to `top`, with its caption and grid.
fn panel<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    (end, top): (f64, f64),
    unit: &str,
) -> Result<Chart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    chart.configure_mesh().x_desc("s").y_desc(unit).draw()?;
    Ok(chart)
}

fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> DrawResult {
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    Ok(())
}

/// Writes the SVG.
pub fn draw(path: &Path, run: &Run) -> Result<(), String> {
    draw_svg(path, run).map_err(|e| format!("drawing {}: {e}", path.display()))
}

fn draw_svg(path: &Path, run: &Run) -> DrawResult {
    let root = SVGBackend::new(path, (960, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(&run.title, ("sans-serif", 20))?;
    let panels = root.split_evenly((3, 1));
    let end = run
        .rate
        .iter()
        .chain(&run.latency)
        .map(|(t, _)| *t)
        .fold(1.0, f64::max);
    rate(&panels[0], run, end)?;
    latency(&panels[1], run, end)?;
    stock(&panels[2], run, end)?;
    root.present()?;
    Ok(())
}

fn rate(area: &Area<'_>, run: &Run, end: f64) -> DrawResult {
    let top = run.rate.iter().map(|(_, r)| *r).fold(1.0, f64::max) * 1.15;
    let caption = if run.ceiling < top {
        "answered per second".to_owned()
    } else {
        format!(
            "answered per second (the protocols' ceiling here, {:.0}/s, is above the scale)",
            run.ceiling
        )
    };
    let mut chart = panel(area, &caption, (end, top), "signatures/s")?;
    chart
        .draw_series(LineSeries::new(
            run.rate.iter().copied(),
            BLUE.stroke_width(2),
        ))?
        .label("answered")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    if run.ceiling < top {
        let ceiling = [(0.0, run.ceiling), (end, run.ceiling)];
        chart
            .draw_series(LineSeries::new(ceiling, RED.stroke_width(1)))?
            .label(format!("protocol ceiling {:.0}/s", run.ceiling))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    }
    legend(&mut chart)
}

fn latency(area: &Area<'_>, run: &Run, end: f64) -> DrawResult {
    let top = run.latency.iter().map(|(_, l)| *l).fold(1.0, f64::max) * 1.1;
    let caption = "latency of each request, when answered";
    let mut chart = panel(area, caption, (end, top), "ms")?;
    chart.draw_series(
        run.latency
            .iter()
            .map(|&(t, l)| Circle::new((t, l), 1, GREEN.mix(0.5).filled())),
    )?;
    Ok(())
}

fn stock(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    run: &Run,
    end: f64,
) -> DrawResult {
    let nodes = run.stock.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
    let top = run
        .stock
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .fold(1, i64::max) as f64
        * 1.15;
    let mut chart = panel(area, "ready stock per node", (end, top), "items")?;
    for node in 0..nodes {
        let color = Palette99::pick(node).to_rgba();
        let points = run
            .stock
            .iter()
            .filter_map(|(t, s)| s.get(node).filter(|v| **v >= 0).map(|v| (*t, *v as f64)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(format!("node {node}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
    }
    if nodes > 0 {
        legend(&mut chart)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_draws_as_svg() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.svg");
        let run = Run {
            title: "Ed25519, 200 in flight".into(),
            rate: vec![(1.0, 150.0), (2.0, 210.0), (3.0, 190.0)],
            ceiling: 1200.0,
            latency: vec![(0.9, 800.0), (1.5, 950.0), (2.7, 1200.0)],
            stock: vec![
                (1.0, vec![30, 28]),
                (2.0, vec![12, -1]),
                (3.0, vec![20, 25]),
            ],
        };
        draw(&path, &run).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        for text in ["answered per second", "latency", "ready stock", "node 1"] {
            assert!(svg.contains(text), "{text} missing");
        }
        // An empty run still draws (axes only), rather than failing.
        let empty = Run {
            title: "nothing".into(),
            rate: vec![],
            ceiling: 10.0,
            latency: vec![],
            stock: vec![],
        };
        draw(&dir.path().join("empty.svg"), &empty).unwrap();
    }
}
