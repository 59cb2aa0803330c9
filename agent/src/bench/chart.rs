//! The grouped bar chart of `lanner bench --svg`: per test, one bar per driver, its median ratio
//! to bare; a dashed line at 1.0 (free).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// Colours for drivers, in order.
const COLOURS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
];

/// Draws `ratios` (per test: per driver, the ratio) to an SVG file.
pub fn draw(
    path: &Path,
    title: &str,
    drivers: &[String],
    ratios: &[(String, Vec<f64>)],
) -> Result<()> {
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let top = ratios
        .iter()
        .flat_map(|(_, r)| r.iter().copied())
        .fold(1.1f64, f64::max);
    let groups = ratios.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..groups as f64, 0f64..top)
        .map_err(|e| anyhow!("{e}"))?;
    let names: Vec<String> = ratios.iter().map(|(t, _)| t.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 {
                names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("score / bare score")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let width = 0.8 / drivers.len().max(1) as f64;
    for (d, driver) in drivers.iter().enumerate() {
        let colour = COLOURS[d % COLOURS.len()];
        chart
            .draw_series(ratios.iter().enumerate().filter_map(|(g, (_, r))| {
                let ratio = *r.get(d)?;
                let x0 = g as f64 + 0.1 + d as f64 * width;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.95, ratio)],
                    colour.filled(),
                ))
            }))
            .map_err(|e| anyhow!("{e}"))?
            .label(driver.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .draw_series(DashedLineSeries::new(
            vec![(0.0, 1.0), (groups as f64, 1.0)],
            6,
            4,
            BLACK.stroke_width(1),
        ))
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// "host, CPU model, kernel" for the chart's title.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|_| "unknown kernel".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores, Linux {kernel}")
}
