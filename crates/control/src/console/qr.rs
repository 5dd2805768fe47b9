//! The QR code of a TOTP enrolment, drawn on the server as SVG: one `<path>` of the dark
//! modules, no script, no inline style, no image sent to or fetched from anywhere else.
//!
//! In: the `otpauth://` URI (it holds the secret: the page that carries it is sent once,
//! never cached). Out: an `<svg role="img">`, or `None` when the text cannot be encoded.

use qrcode::{Color, EcLevel, QrCode};

/// Modules of quiet zone around the code (the standard's minimum).
const QUIET: usize = 4;

/// `text` as a QR code in SVG, error correction M, scaled by the stylesheet.
pub fn svg(text: &str, label: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let size = width + 2 * QUIET;
    let mut path = String::new();
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (i % width + QUIET, i / width + QUIET);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Some(format!(
        "<svg class=\"qr\" viewBox=\"0 0 {size} {size}\" role=\"img\" aria-label=\"{label}\" shape-rendering=\"crispEdges\"><rect class=\"qr-light\" width=\"{size}\" height=\"{size}\"></rect><path class=\"qr-dark\" d=\"{path}\"></path></svg>",
        label = super::html::esc(label)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dark_module_is_drawn_once_inside_the_quiet_zone() {
        let uri = "otpauth://totp/Strongroom:alice?secret=JBSWY3DPEHPK3PXP&issuer=Strongroom";
        let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M).unwrap();
        let dark = code
            .to_colors()
            .iter()
            .filter(|c| **c == Color::Dark)
            .count();
        let svg = svg(uri, "QR").unwrap();
        assert_eq!(svg.matches("h1v1h-1z").count(), dark);
        let size = code.width() + 2 * QUIET;
        assert!(svg.contains(&format!("viewBox=\"0 0 {size} {size}\"")));
        assert!(!svg.contains("M0 "), "nothing in the quiet zone");
        assert!(!svg.contains("style="));
    }
}
