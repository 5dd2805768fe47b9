//! Charts as SVG, drawn on the server: no chart library, no script, no inline style (the
//! colours are classes of the stylesheet).
//!
//! In: labelled counts. Out: an `<svg role="img">` whose `<title>` and `<desc>` carry every
//! value, so a screen reader reads the numbers a sighted user sees.

use super::html::esc;

/// One bar.
pub struct Bar {
    /// What it counts.
    pub label: String,
    /// The count.
    pub value: i64,
    /// Its stylesheet class.
    pub class: &'static str,
}

fn describe(bars: &[Bar]) -> String {
    bars.iter()
        .map(|b| format!("{}: {}", b.label, b.value))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Horizontal bars with their labels and counts (a handful of categories).
pub fn horizontal(title: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (110.0, 220.0, 28.0);
    let height = row_h * bars.len() as f64 + 8.0;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 400 {height}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title><desc>{d}</desc>",
        t = esc(title),
        d = esc(&describe(bars))
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = if b.value > 0 {
            (bar_w * b.value as f64 / max as f64).max(2.0)
        } else {
            0.0
        };
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{ty}\">{l}</text><rect class=\"{c}\" x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"18\"></rect><text x=\"{vx:.1}\" y=\"{ty}\">{v}</text>",
            ty = y + 14.0,
            l = esc(&b.label),
            c = b.class,
            vx = label_w + w + 6.0,
            v = b.value
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// Columns over time (one per day), labelled at the first, middle and last.
pub fn columns(title: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let (width, plot_h, base) = (400.0, 120.0, 130.0);
    let step = width / bars.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} 160\" role=\"img\" aria-label=\"{t}\"><title>{t}</title><desc>{d}</desc>",
        t = esc(title),
        d = esc(&describe(bars))
    );
    svg.push_str(&format!(
        "<text x=\"0\" y=\"10\">max {max}</text><line class=\"axis\" x1=\"0\" y1=\"{base}\" x2=\"{width}\" y2=\"{base}\"></line>"
    ));
    let last = bars.len().saturating_sub(1);
    for (i, b) in bars.iter().enumerate() {
        let h = plot_h * b.value as f64 / max as f64;
        let x = step * i as f64;
        svg.push_str(&format!(
            "<rect class=\"{c}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\"><title>{l}: {v}</title></rect>",
            c = b.class,
            y = base - h,
            w = (step - 2.0).max(1.0),
            l = esc(&b.label),
            v = b.value
        ));
        if i == 0 || i == last || i == last / 2 {
            let anchor = match i {
                0 => "start",
                i if i == last => "end",
                _ => "middle",
            };
            let tx = match anchor {
                "start" => x,
                "end" => x + step,
                _ => x + step / 2.0,
            };
            svg.push_str(&format!(
                "<text x=\"{tx:.1}\" y=\"150\" text-anchor=\"{anchor}\">{}</text>",
                esc(&b.label)
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}
