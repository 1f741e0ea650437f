//! `${env:VAR}`, `${env:VAR:-default}`, `${VAR}` and `$$` expansion over a parsed
//! YAML tree, as the upstream collector's confmap does it.

use serde_yaml_ng::Value;

use super::issue::ConfigIssue;

const MAX_EXPANSIONS: usize = 1000;

/// Expands every string scalar in `value`. A scalar that is exactly one reference
/// is replaced by the variable's value parsed as YAML (`123` becomes a number);
/// references inside a longer string are substituted as text.
pub fn expand(
    value: &mut Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    path: &str,
    issues: &mut Vec<ConfigIssue>,
) {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                let p = if path.is_empty() {
                    key
                } else {
                    format!("{path}::{key}")
                };
                expand(v, lookup, &p, issues);
            }
        }
        Value::Sequence(seq) => {
            for (i, v) in seq.iter_mut().enumerate() {
                expand(v, lookup, &format!("{path}::{i}"), issues);
            }
        }
        Value::String(s) => {
            if !s.contains('$') {
                return;
            }
            match expand_str(s, lookup) {
                Ok(Expanded::Whole(v)) => *value = v,
                Ok(Expanded::Text(t)) => *s = t,
                Err(msg) => issues.push(ConfigIssue::new(path, msg)),
            }
        }
        Value::Tagged(t) => expand(&mut t.value, lookup, path, issues),
        _ => {}
    }
}

enum Expanded {
    Whole(Value),
    Text(String),
}

fn expand_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Expanded, String> {
    // A scalar that is a single reference becomes a typed YAML value.
    if s.starts_with("${") && s.ends_with('}') && find_close(s, 2) == Some(s.len() - 1) {
        let inner = &s[2..s.len() - 1];
        let resolved = resolve(inner, lookup, 0)?;
        let text = match resolved {
            Some(t) => t,
            None => return Ok(Expanded::Whole(Value::Null)),
        };
        let parsed: Value = serde_yaml_ng::from_str(&text).unwrap_or(Value::String(text.clone()));
        // Only scalars are taken as typed; maps and lists from env vars stay text.
        return Ok(Expanded::Whole(match parsed {
            Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_) => Value::String(text),
            other => other,
        }));
    }
    expand_text(s, lookup, 0).map(Expanded::Text)
}

fn expand_text(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_EXPANSIONS {
        return Err("too many recursive expansions".into());
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < s.len() {
        if bytes[i] == b'$' {
            if bytes.get(i + 1) == Some(&b'$') {
                out.push('$');
                i += 2;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'{') {
                let close = find_close(s, i + 2)
                    .ok_or_else(|| format!("unterminated reference in {s:?}"))?;
                let inner = &s[i + 2..close];
                if let Some(v) = resolve(inner, lookup, depth)? {
                    out.push_str(&v);
                }
                i = close + 1;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    Ok(out)
}

/// Finds the `}` closing a reference whose body starts at `start`, allowing nested
/// `${...}` inside (a default may itself hold references).
fn find_close(s: &str, start: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
                continue;
            }
            b'}' => {
                if depth == 0 {
                    return Some(i);
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn resolve(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<Option<String>, String> {
    let (scheme, rest) = match inner.split_once(':') {
        Some((scheme, rest))
            if scheme.chars().all(|c| c.is_ascii_alphanumeric()) && !scheme.is_empty() =>
        {
            (scheme, rest)
        }
        _ => ("env", inner),
    };
    if scheme != "env" {
        return Err(format!(
            "unsupported config provider {scheme:?} in \"${{{inner}}}\" (supported: env)"
        ));
    }
    let (name, default) = match rest.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (rest, None),
    };
    if !valid_env_name(name) {
        return Err(format!(
            "environment variable {name:?} has invalid name: must match ^[a-zA-Z_][a-zA-Z0-9_]*$"
        ));
    }
    match lookup(name) {
        Some(v) => Ok(Some(v)),
        None => match default {
            Some(d) => expand_text(d, lookup, depth + 1).map(Some),
            None => {
                tracing::warn!(
                    variable = name,
                    "Configuration references unset environment variable; using empty value."
                );
                Ok(None)
            }
        },
    }
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> (Value, Vec<ConfigIssue>) {
        let mut v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut issues = Vec::new();
        let lookup = |n: &str| match n {
            "PORT" => Some("4318".to_string()),
            "HOST" => Some("collector".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        expand(&mut v, &lookup, "", &mut issues);
        (v, issues)
    }

    #[test]
    fn whole_inline_default_and_escape() {
        let (v, issues) = run(
            "a: ${env:PORT}\nb: http://${HOST}:${env:PORT}/x\nc: ${env:MISSING:-fallback}\nd: $$1 and $${x}\ne: ${env:EMPTY:-nope}\nf: ${env:MISSING}\ng: [\"${PORT}\"]\nh: ${env:MISSING:-${env:HOST}}\n",
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(v["a"], Value::Number(4318.into()));
        assert_eq!(v["b"], Value::String("http://collector:4318/x".into()));
        assert_eq!(v["c"], Value::String("fallback".into()));
        assert_eq!(v["d"], Value::String("$1 and ${x}".into()));
        assert_eq!(v["e"], Value::Null, "set-but-empty stays empty");
        assert_eq!(v["f"], Value::Null);
        assert_eq!(v["g"][0], Value::Number(4318.into()));
        assert_eq!(v["h"], Value::String("collector".into()));
    }

    #[test]
    fn errors_name_the_path() {
        let (_, issues) =
            run("receivers:\n  otlp:\n    x: ${env:1BAD}\n    y: ${file:/etc/passwd}\n");
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[0].path, "receivers::otlp::x");
        assert!(issues[0].message.contains("invalid name"));
        assert!(issues[1].message.contains("unsupported config provider"));
    }
}
