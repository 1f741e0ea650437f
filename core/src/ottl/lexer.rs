//! The OTTL lexer: statement text to tokens with byte offsets.
//!
//! Invariant: [`lex`] never panics and returns either every token of the input
//! (each with the byte offset where it starts) or the first lexical error with
//! its offset. Signs are never part of a number token; the parser applies them.

use super::OttlError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'s> {
    /// `0x…` with an even number of hex digits, decoded.
    Bytes(Vec<u8>),
    /// Digits of a float (`.5`, `1.25e3`), unsigned.
    Float(&'s str),
    /// Digits of an integer, unsigned.
    Int(&'s str),
    /// A string literal, unquoted.
    Str(String),
    /// An identifier starting with an upper-case letter (converter or enum).
    Upper(&'s str),
    /// An identifier starting with a lower-case letter (editor, path segment, argument name).
    Lower(&'s str),
    Not,
    And,
    Or,
    Where,
    True,
    False,
    Nil,
    /// `== != >= <= > < + - * / =`
    Op(&'static str),
    /// `( ) { } [ ] , . :`
    Punct(char),
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token<'s> {
    pub tok: Tok<'s>,
    pub at: usize,
}

/// Splits `src` into tokens.
pub fn lex(src: &str) -> Result<Vec<Token<'_>>, OttlError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let at = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
            let start = i + 2;
            let mut j = start;
            while j < b.len() && b[j].is_ascii_hexdigit() {
                j += 1;
            }
            if j == start {
                return Err(OttlError::new(at, "'0x' without hex digits"));
            }
            if (j - start) % 2 != 0 {
                return Err(OttlError::new(
                    at,
                    "bytes literal has an odd number of hex digits",
                ));
            }
            let bytes = (start..j)
                .step_by(2)
                .map(|k| (hex(b[k]) << 4) | hex(b[k + 1]))
                .collect();
            i = j;
            Tok::Bytes(bytes)
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j < b.len() && b[j] == b'.' {
                j += 1;
                let frac = j;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j == frac {
                    return Err(OttlError::new(at, "a float needs digits after '.'"));
                }
                if j < b.len() && matches!(b[j], b'e' | b'E') {
                    j += 1;
                    if j < b.len() && matches!(b[j], b'+' | b'-') {
                        j += 1;
                    }
                    let exp = j;
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    if j == exp {
                        return Err(OttlError::new(at, "a float exponent needs digits"));
                    }
                }
                i = j;
                Tok::Float(&src[at..j])
            } else {
                i = j;
                Tok::Int(&src[at..j])
            }
        } else if c.is_ascii_alphabetic() {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            let word = &src[i..j];
            i = j;
            match word {
                "not" => Tok::Not,
                "and" => Tok::And,
                "or" => Tok::Or,
                "where" => Tok::Where,
                "true" => Tok::True,
                "false" => Tok::False,
                "nil" => Tok::Nil,
                _ if c.is_ascii_uppercase() => Tok::Upper(word),
                _ => Tok::Lower(word),
            }
        } else if c == b'"' {
            let (s, end) = string(src, i)?;
            i = end;
            Tok::Str(s)
        } else {
            let two = b.get(i..i + 2);
            let op2 = match two {
                Some(b"==") => Some("=="),
                Some(b"!=") => Some("!="),
                Some(b">=") => Some(">="),
                Some(b"<=") => Some("<="),
                _ => None,
            };
            if let Some(op) = op2 {
                i += 2;
                Tok::Op(op)
            } else {
                i += 1;
                match c {
                    b'>' => Tok::Op(">"),
                    b'<' => Tok::Op("<"),
                    b'+' => Tok::Op("+"),
                    b'-' => Tok::Op("-"),
                    b'*' => Tok::Op("*"),
                    b'/' => Tok::Op("/"),
                    b'=' => Tok::Op("="),
                    b'(' | b')' | b'{' | b'}' | b'[' | b']' | b',' | b'.' | b':' => {
                        Tok::Punct(char::from(c))
                    }
                    _ => {
                        let ch = src[at..].chars().next().unwrap_or('?');
                        return Err(OttlError::new(at, format!("unexpected character {ch:?}")));
                    }
                }
            }
        };
        out.push(Token { tok, at });
    }
    Ok(out)
}

fn hex(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d.wrapping_sub(b'A').wrapping_add(10) & 0x0f,
    }
}

/// Reads the string literal opening at `start` with Go's escapes; returns it and
/// the offset after the closing quote.
fn string(src: &str, start: usize) -> Result<(String, usize), OttlError> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((k, ch)) = chars.next() {
        let at = start + 1 + k;
        match ch {
            '"' => return Ok((out, at + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '\'' => out.push('\''),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut v: u32 = 0;
                        for _ in 0..n {
                            let d = chars
                                .next()
                                .and_then(|(_, d)| d.to_digit(16))
                                .ok_or_else(|| OttlError::new(at, "invalid escape in string"))?;
                            v = (v << 4) | d;
                        }
                        let c = char::from_u32(v)
                            .ok_or_else(|| OttlError::new(at, "escape is not a valid character"))?;
                        out.push(c);
                    }
                    _ => return Err(OttlError::new(at, format!("unknown escape \\{e}"))),
                }
            }
            c => out.push(c),
        }
    }
    Err(OttlError::new(start, "unterminated string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok<'_>> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens_table() {
        use Tok::*;
        let cases: Vec<(&str, Vec<Tok>)> = vec![
            ("0xAb01", vec![Bytes(vec![0xab, 0x01])]),
            (
                ".5 1.25e-3 42",
                vec![Float(".5"), Float("1.25e-3"), Int("42")],
            ),
            (
                r#""a\"b\\c\n\x41\u00e9""#,
                vec![Str("a\"b\\c\nA\u{e9}".into())],
            ),
            (
                "IsMatch(span.name)",
                vec![
                    Upper("IsMatch"),
                    Punct('('),
                    Lower("span"),
                    Punct('.'),
                    Lower("name"),
                    Punct(')'),
                ],
            ),
            (
                "not and or where true false nil notx",
                vec![Not, And, Or, Where, True, False, Nil, Lower("notx")],
            ),
            ("a-1", vec![Lower("a"), Op("-"), Int("1")]),
            (
                "== != >= <= > < = + * /",
                vec![
                    Op("=="),
                    Op("!="),
                    Op(">="),
                    Op("<="),
                    Op(">"),
                    Op("<"),
                    Op("="),
                    Op("+"),
                    Op("*"),
                    Op("/"),
                ],
            ),
            (r#""ends with \\""#, vec![Str("ends with \\".into())]),
        ];
        for (src, want) in cases {
            assert_eq!(toks(src), want, "{src}");
        }
    }

    #[test]
    fn lexical_errors_have_offsets() {
        for (src, at) in [
            ("0xabc", 0),
            ("a == 1.", 5),
            (r#"x "open"#, 2),
            ("a ; b", 2),
            ("0x", 0),
            (r#""\q""#, 1),
        ] {
            let e = lex(src).unwrap_err();
            assert_eq!(e.at, at, "{src}: {e}");
        }
    }
}
