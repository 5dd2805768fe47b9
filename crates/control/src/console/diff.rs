//! A line diff for approvers: what a pending change (a profile's new text) would change.
//!
//! In: the current text and the proposed one. Out: HTML lines marked as kept, removed or
//! added (escaped). Longest common subsequence over lines; texts past [`MAX_LINES`] are
//! shown whole instead of diffed.

use super::html::esc;

/// Longest text diffed line by line (a profile is well under a hundred lines; the table is
/// this squared, 1 MB of counts at most).
const MAX_LINES: usize = 500;

/// `before` → `after` as a `<pre>` of `  `, `- ` and `+ ` lines.
pub fn lines(before: &str, after: &str) -> String {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let mut out = String::from("<pre class=\"diff mono\">");
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        out.push_str(&esc(after));
        out.push_str("</pre>");
        return out;
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut line = |class: &str, mark: &str, text: &str| {
        out.push_str(&format!(
            "<span class=\"{class}\">{mark} {}</span>\n",
            esc(text)
        ));
    };
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            line("same", " ", a[i]);
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            line("added", "+", b[j]);
            j += 1;
        } else {
            line("removed", "-", a[i]);
            i += 1;
        }
    }
    out.push_str("</pre>");
    out
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn a_changed_line_is_one_removal_and_one_addition_and_text_is_escaped() {
        let d = lines("a\nb\nc", "a\n<b>\nc");
        assert!(d.contains("<span class=\"same\">  a</span>"), "{d}");
        assert!(d.contains("<span class=\"removed\">- b</span>"), "{d}");
        assert!(
            d.contains("<span class=\"added\">+ &lt;b&gt;</span>"),
            "{d}"
        );
        assert_eq!(d.matches("class=\"same\"").count(), 2);
    }
}
