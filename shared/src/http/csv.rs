//! `text/csv` answers (RFC 4180) for the routes that offer them beside JSON, chosen by `Accept`.

use lambda_http::{Body, Request, Response};

/// The media type of a CSV answer: UTF-8, its first row the column names.
pub const CSV: &str = "text/csv; charset=utf-8; header=present";

/// Does the request prefer `text/csv` to `application/json`? By `Accept`'s quality values, the
/// most specific range naming each type deciding its quality (RFC 9110 §12.5.1); a tie, no
/// `Accept`, or one that accepts neither, answers JSON (the default: a server may disregard an
/// `Accept` it cannot satisfy rather than answer 406).
pub fn prefers_csv(req: &Request) -> bool {
    let accept = req.headers().get_all("accept").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    quality(&accept, "text", "csv") > quality(&accept, "application", "json")
}

/// The quality `Accept` gives `kind/sub`: that of its most specific matching range, 0 if none.
fn quality(accept: &str, kind: &str, sub: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let Some((k, s)) = media.split_once('/') else { continue };
        let specificity = match (k, s) {
            (k, s) if k == kind && s == sub => 2,
            (k, "*") if k == kind => 1,
            ("*", "*") => 0,
            _ => continue,
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

/// One cell: a text a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return) gets a leading apostrophe (OWASP's CSV injection advice), then a cell
/// holding a comma, a quote or a line break is quoted, its quotes doubled.
pub fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// A CSV document: the header row, then each row; CRLF line ends.
pub fn document<I, R>(header: &[&str], rows: I) -> String
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = String>,
{
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    };
    line(header.iter().map(|h| cell(h)).collect());
    for row in rows {
        line(row.into_iter().map(|c| cell(&c)).collect());
    }
    out
}

/// 200 with `body` as CSV, the next page's cursor in `X-Next-Cursor` (absent on the last page),
/// and `Vary: Accept` (the same URL answers JSON too).
pub fn csv_page(body: String, next: Option<String>, filename: &str) -> Response<Body> {
    let mut builder = super::response::builder(200)
        .header("content-type", CSV)
        .header("content-disposition", format!("attachment; filename=\"{filename}\""))
        .header("vary", "Accept");
    if let Some(next) = next {
        builder = builder.header("x-next-cursor", next);
    }
    builder.body(Body::Text(body)).expect("valid response parts")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: Option<&str>) -> Request {
        let mut builder = http::Request::builder();
        if let Some(value) = value {
            builder = builder.header("accept", value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn accept_chooses_csv_only_when_it_is_preferred() {
        for (accept, csv) in [
            (None, false),
            (Some("*/*"), false),
            (Some("application/json"), false),
            (Some("text/html"), false),
            (Some("text/csv"), true),
            (Some("TEXT/CSV; charset=utf-8"), true),
            (Some("text/*"), true),
            (Some("text/csv, application/json"), false),
            (Some("application/json;q=0.5, text/csv"), true),
            (Some("text/csv;q=0.2, */*;q=0.5"), false),
            (Some("text/csv;q=0, */*"), false),
            (Some("text/csv;q=0.9, application/*;q=0.8"), true),
        ] {
            assert_eq!(prefers_csv(&accepting(accept)), csv, "{accept:?}");
        }
    }

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        for formula in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(formula).trim_start_matches('"').starts_with('\''), "{formula:?}");
        }
        assert_eq!(cell(""), "");
        assert_eq!(cell("2026-11-22T10:00:00Z"), "2026-11-22T10:00:00Z");
    }

    #[test]
    fn a_document_has_its_header_and_crlf_rows() {
        let doc = document(&["a", "b"], vec![vec!["1".to_string(), "x,y".to_string()]]);
        assert_eq!(doc, "a,b\r\n1,\"x,y\"\r\n");
    }
}
