//! Prometheus names for OTLP metrics and attributes: unit and type suffixes
//! (`_seconds`, `_total`, `_ratio`), the legacy name/label character sets,
//! label sanitising. Follows `prometheus/otlptranslator` (metric, unit and
//! label namers) as described in the spec.

/// How a metric is typed for naming purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A monotonic cumulative sum: gets `_total`.
    Counter,
    /// A gauge: unit `1` gets `_ratio`.
    Gauge,
    /// Non-monotonic sums, histograms, summaries: unit suffix only.
    Other,
}

fn unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        "1" => "",
        _ => return None,
    })
}

fn per_unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

/// Replaces characters outside `[a-zA-Z0-9_]` with `_`, collapses runs of `_`
/// and trims leading/trailing `_` (how unit words are cleaned).
fn clean_unit(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// The (main, per) unit suffix words of an OTLP unit.
fn unit_suffixes(unit: &str) -> (String, String) {
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m.trim(), Some(p.trim())),
        None => (unit.trim(), None),
    };
    let main = if main.is_empty() || main.contains(['{', '}']) {
        String::new()
    } else {
        clean_unit(unit_word(main).unwrap_or(main))
    };
    let per = match per {
        Some(p) if !p.is_empty() && !p.contains(['{', '}']) => {
            clean_unit(per_unit_word(p).unwrap_or(p))
        }
        _ => String::new(),
    };
    (main, per)
}

/// The Prometheus metric name of an OTLP metric.
pub fn metric_name(
    name: &str,
    unit: &str,
    kind: NameKind,
    namespace: &str,
    add_suffixes: bool,
) -> String {
    if !add_suffixes {
        let mut out = String::with_capacity(namespace.len() + name.len() + 1);
        if !namespace.is_empty() {
            out.push_str(namespace);
            out.push('_');
        }
        out.extend(name.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        }));
        if out.starts_with(|c: char| c.is_ascii_digit()) {
            out.insert(0, '_');
        }
        return out;
    }
    let mut tokens: Vec<&str> = name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|t| !t.is_empty())
        .collect();
    let (main, per) = unit_suffixes(unit);
    if !main.is_empty() && !tokens.contains(&main.as_str()) {
        tokens.push(&main);
    }
    if !per.is_empty() && !tokens.contains(&per.as_str()) {
        tokens.push("per");
        tokens.push(&per);
    }
    if kind == NameKind::Counter {
        tokens.retain(|t| *t != "total");
        tokens.push("total");
    }
    if kind == NameKind::Gauge && unit == "1" {
        tokens.retain(|t| *t != "ratio");
        tokens.push("ratio");
    }
    let mut out = String::with_capacity(name.len() + 16);
    if !namespace.is_empty() {
        out.push_str(namespace);
    }
    for t in tokens {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(t);
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Sanitises an attribute key into a Prometheus label name; `None` when nothing
/// usable is left (empty, or only underscores).
pub fn label_name(key: &str) -> Option<String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if key.is_empty() || key.chars().all(|c| !valid(c) || c == '_') {
        return None;
    }
    let mapped = |c: char| if valid(c) { c } else { '_' };
    let n = key.chars().count();
    let reserved = n > 4
        && key.chars().take(2).all(|c| mapped(c) == '_')
        && key.chars().skip(n - 2).all(|c| mapped(c) == '_');
    // One pass: invalid characters become `_`, runs of `_` collapse (except in
    // reserved `__x__` names, kept as they are).
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars().map(mapped) {
        if c == '_' && !reserved && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if reserved {
        return Some(out);
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') {
        out.insert_str(0, "key");
    }
    Some(out)
}

/// `strconv.FormatFloat(v, 'f', -1, 64)`, with `+Inf`/`-Inf`/`NaN`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_table() {
        use NameKind::*;
        let cases: &[(&str, &str, NameKind, &str, &str)] = &[
            (
                "http.server.duration",
                "s",
                Other,
                "",
                "http_server_duration_seconds",
            ),
            ("requests", "{request}", Counter, "", "requests_total"),
            ("foo", "By/s", Gauge, "", "foo_bytes_per_second"),
            ("foo", "{packet}/s", Other, "", "foo_per_second"),
            ("cpu.utilization", "1", Gauge, "", "cpu_utilization_ratio"),
            ("cpu.utilization", "1", Other, "", "cpu_utilization"),
            ("cpu_ratio_x", "1", Gauge, "", "cpu_x_ratio"),
            ("requests_total", "", Counter, "", "requests_total"),
            ("total.requests", "", Counter, "", "requests_total"),
            ("latency_seconds", "s", Other, "", "latency_seconds"),
            ("mem", "MiBy", Gauge, "app", "app_mem_mebibytes"),
            ("temp", "Cel", Gauge, "", "temp_celsius"),
            ("x", "%", Gauge, "", "x_percent"),
            (
                "x",
                "furlongs/fortnight",
                Gauge,
                "",
                "x_furlongs_per_fortnight",
            ),
            ("x", "km h", Gauge, "", "x_km_h"),
            ("2xx.responses", "", Counter, "", "_2xx_responses_total"),
            ("a__b..c-d", "", Other, "", "a_b_c_d"),
            ("ns:sub.m", "ms", Other, "", "ns:sub_m_milliseconds"),
            ("pages", "{page}/d", Counter, "", "pages_per_day_total"),
        ];
        for (name, unit, kind, ns, want) in cases {
            assert_eq!(
                metric_name(name, unit, *kind, ns, true),
                *want,
                "{name} {unit}"
            );
        }
        assert_eq!(
            metric_name("http.server.duration", "s", Counter, "ns", false),
            "ns_http_server_duration"
        );
        assert_eq!(metric_name("9x", "", Other, "", false), "_9x");
    }

    #[test]
    fn label_names_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("http.method", Some("http_method")),
            ("a..b", Some("a_b")),
            ("_private", Some("key_private")),
            ("__name__", Some("__name__")),
            ("__weird", Some("key_weird")),
            ("1st", Some("key_1st")),
            ("日本", None),
            ("", None),
            ("___", None),
            ("ok_label", Some("ok_label")),
            ("..a.b..", Some("__a_b__")),
            ("a..__b", Some("a_b")),
        ];
        for (k, want) in cases {
            assert_eq!(label_name(k).as_deref(), *want, "{k}");
        }
    }

    #[test]
    fn floats_like_go() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.25), "0.25");
        assert_eq!(format_float(1e21), "1000000000000000000000");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(0.1 + 0.2), "0.30000000000000004");
    }
}
