//! User regular expressions with Go RE2 class semantics, shared by the content
//! processors (spec `processors.md` §0.5).
//!
//! Upstream matches with Go's `regexp`, whose `\d`, `\w`, `\s` and `\b` are ASCII;
//! Rust's are Unicode-aware. [`compile`] rewrites those escapes to their ASCII
//! forms before compiling, so a pattern matches what it matched upstream (`\d`
//! does not match `٣`). Matching stays unanchored, as upstream's `MatchString`.

use regex::Regex;

/// Compiles `pattern` with Go's ASCII meaning of `\d \D \w \W \s \S \b \B`.
/// The error is the engine's message, for a config issue.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&ascii_classes(pattern)).map_err(|e| e.to_string())
}

/// Rewrites the Perl class escapes to ASCII classes, outside and inside `[...]`.
pub fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    // Inside a bracket class, and whether the next char may be a literal `]`.
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                out.push_str(&escape(n, in_class));
                class_start = false;
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // POSIX class `[:alpha:]`: copy through its closing `:]`.
                out.push('[');
                let mut prev = '[';
                for d in chars.by_ref() {
                    out.push(d);
                    if prev == ':' && d == ']' {
                        break;
                    }
                    prev = d;
                }
                class_start = false;
            }
            '{' if !in_class && !is_repetition(chars.clone()) => {
                // Go reads a `{` that starts no valid repetition as a literal.
                out.push_str(r"\{");
                class_start = false;
            }
            ']' if in_class && !class_start => {
                in_class = false;
                out.push(']');
            }
            _ => {
                out.push(c);
                class_start = false;
            }
        }
    }
    out
}

/// Whether the text after a `{` is `n}`, `n,}` or `n,m}`.
fn is_repetition(rest: impl Iterator<Item = char>) -> bool {
    let mut digits = 0;
    let mut comma = false;
    for c in rest {
        match c {
            '0'..='9' => digits += 1,
            ',' if !comma && digits > 0 => comma = true,
            '}' => return digits > 0,
            _ => return false,
        }
    }
    false
}

fn escape(n: char, in_class: bool) -> String {
    match (n, in_class) {
        ('d', false) => "[0-9]".into(),
        ('D', false) => "[^0-9]".into(),
        ('w', false) => "[0-9A-Za-z_]".into(),
        ('W', false) => "[^0-9A-Za-z_]".into(),
        ('s', false) => r"[\t\n\x0C\r ]".into(),
        ('S', false) => r"[^\t\n\x0C\r ]".into(),
        ('b', false) => r"(?-u:\b)".into(),
        ('B', false) => r"(?-u:\B)".into(),
        ('d', true) => "0-9".into(),
        ('w', true) => "0-9A-Za-z_".into(),
        ('s', true) => r"\t\n\x0C\r ".into(),
        // Negated classes inside brackets keep Rust's meaning (rare; documented).
        (other, _) => format!("\\{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        let d = compile(r"^\d+$").unwrap();
        assert!(d.is_match("0123456789"));
        assert!(!d.is_match("٣"), "Arabic-Indic digit is not \\d in Go");
        let w = compile(r"^[\w.]+$").unwrap();
        assert!(w.is_match("a_b.C9"));
        assert!(!w.is_match("é"));
        let s = compile(r"a\sb").unwrap();
        assert!(s.is_match("a b") && !s.is_match("a\u{a0}b"));
        let b = compile(r"\bcard\b").unwrap();
        assert!(b.is_match("my card here") && !b.is_match("mycard"));
        assert!(compile(r"\D\W\S\B").is_ok());
    }

    #[test]
    fn escapes_literals_and_classes_pass_through() {
        assert_eq!(ascii_classes(r"a\.b\\d"), r"a\.b\\d");
        assert_eq!(ascii_classes(r"[]\d]"), r"[]0-9]");
        assert_eq!(
            ascii_classes(r"[^\d][[:alpha:]\w]"),
            r"[^0-9][[:alpha:]0-9A-Za-z_]"
        );
        assert!(compile("(").is_err());
    }

    #[test]
    fn a_brace_without_repetition_is_literal_as_in_go() {
        assert_eq!(ascii_classes("a{2}b{1,}c{1,3}"), "a{2}b{1,}c{1,3}");
        assert_eq!(ascii_classes("x${id}"), r"x$\{id}");
        assert!(compile(".*${testing_id}").is_ok());
        assert!(compile("a{,2}").unwrap().is_match("a{,2}"));
    }
}
