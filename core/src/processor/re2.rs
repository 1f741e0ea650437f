//! User regular expressions in the upstream collector's dialect (Go RE2),
//! compiled with the `regex` crate. The two are the same family (no
//! backreferences, no lookaround, leftmost-first); the differences this module
//! removes at compile time are Go's ASCII-only Perl classes (`\d \w \s \b` and
//! their negations are Unicode-aware in Rust) and Rust's nested classes and set
//! operators inside `[...]` (`[`, `&&`, `~~` are literals in Go).
//! Matching stays unanchored, as upstream's `MatchString`: users write `^…$`.

use regex::Regex;

/// Compiles a Go RE2 pattern; the error is a one-line message for a config issue.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&translate(pattern)).map_err(|e| match e {
        regex::Error::Syntax(s) => format!(
            "invalid regular expression {pattern:?}: {}",
            s.lines().last().unwrap_or("syntax error").trim()
        ),
        regex::Error::CompiledTooBig(limit) => {
            format!(
                "regular expression {pattern:?} is too large (compiled size over {limit} bytes)"
            )
        }
        other => format!("invalid regular expression {pattern:?}: {other}"),
    })
}

/// Rewrites Go RE2 syntax into the equivalent `regex` crate syntax (for a
/// `RegexSet` or other builders that take pattern text).
pub fn translate(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    // Position inside a class: `]` right after `[` or `[^` is a literal.
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\'); // trailing backslash: let the parser report it
                    break;
                };
                match n {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str("[\\t\\n\\f\\r ]"),
                    'S' => out.push_str("[^\\t\\n\\f\\r ]"),
                    'b' if !in_class => out.push_str("(?-u:\\b)"),
                    'B' if !in_class => out.push_str("(?-u:\\B)"),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                out.push('[');
                in_class = true;
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                class_start = true;
            }
            ']' if in_class && at_start => out.push_str("\\]"),
            ']' if in_class => {
                out.push(']');
                in_class = false;
            }
            '[' if in_class => {
                if chars.peek() == Some(&':') {
                    // `[:alpha:]`: copied through its closing `:]`.
                    out.push('[');
                    let mut prev = '[';
                    for n in chars.by_ref() {
                        out.push(n);
                        if prev == ':' && n == ']' {
                            break;
                        }
                        prev = n;
                    }
                } else {
                    out.push_str("\\[");
                }
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class && !is_repetition(chars.clone()) => {
                // Go reads a `{` that starts no valid repetition as a literal
                // (e.g. a template placeholder `${id}` left in a pattern).
                out.push_str("\\{");
            }
            c => out.push(c),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brace_that_starts_no_repetition_is_literal_as_in_go() {
        // Compiles as in Go (`$` is the end anchor, then a literal `{testing_id}`).
        assert!(compile(r".*${testing_id}").is_ok());
        assert!(compile(r"^id_{testing_id}$")
            .unwrap()
            .is_match("id_{testing_id}"));
        assert!(compile(r"^a{2}$").unwrap().is_match("aa"));
        assert!(compile(r"^a{2,}$").unwrap().is_match("aaa"));
        assert!(compile(r"^a{x}$").unwrap().is_match("a{x}"));
    }

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        let d = compile(r"^\d+$").unwrap();
        assert!(d.is_match("123"));
        assert!(!d.is_match("١٢٣"), "Arabic-Indic digits are not \\d in Go");
        let w = compile(r"^\w+$").unwrap();
        assert!(w.is_match("a_1"));
        assert!(!w.is_match("é"));
        assert!(compile(r"^\s$").unwrap().is_match(" "));
        assert!(!compile(r"^\s$").unwrap().is_match("\u{a0}"));
        assert!(compile(r"^[\d.]+$").unwrap().is_match("1.5"));
        assert!(compile(r"^[^\D]$").unwrap().is_match("7"));
        // é is not a word character in Go: a boundary after `a`, none after ` `.
        assert!(compile(r"a\bé").unwrap().is_match("aé"));
        assert!(!compile(r"\bé").unwrap().is_match(" é"));
        assert!(compile(r"^a\Bb$").unwrap().is_match("ab"));
    }

    #[test]
    fn go_class_literals_stay_literals() {
        assert!(compile(r"^[]a]+$").unwrap().is_match("]a"));
        assert!(compile(r"^[^]a]$").unwrap().is_match("b"));
        assert!(compile(r"^[[]$").unwrap().is_match("["));
        assert!(compile(r"^[a&&b]+$").unwrap().is_match("a&b"));
        assert!(compile(r"^[[:digit:]x]+$").unwrap().is_match("1x2"));
        assert!(compile(r"^\[x\]$").unwrap().is_match("[x]"));
    }

    #[test]
    fn matching_is_unanchored_and_errors_name_the_pattern() {
        assert!(compile("b").unwrap().is_match("abc"));
        let e = compile("a(").unwrap_err();
        assert!(e.contains("\"a(\""), "{e}");
        assert!(
            compile(r"(?P<x>a)(?<y>b)").is_ok(),
            "both named group syntaxes"
        );
    }
}
