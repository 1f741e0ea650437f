//! The OTTL parser: tokens to a syntax tree ([`Node`]), by recursive descent.
//!
//! Invariant: parsing never panics and never recurses deeper than [`MAX_DEPTH`]
//! nested expressions; every error carries the byte offset of the token at
//! fault. The tree is untyped (a comparison and a path are both [`Node`]s):
//! [`super::compile`] decides what is a condition and what is a value, and
//! resolves paths, enums and functions.
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparison (one per level, no
//! chaining), `+ -`, `* /`, unary sign on number literals, atoms.

use super::lexer::{lex, Tok, Token};
use super::OttlError;

/// Deepest nesting of expressions (parentheses, lists, maps, calls, keys, and
/// chained operators, each of which deepens the tree by one).
pub const MAX_DEPTH: usize = 32;

/// A syntax node and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub ast: Ast,
    pub at: usize,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
}

/// Syntax tree of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// A bare upper-case identifier: an enum, or a function reference as an argument.
    Upper(String),
    Path(PathAst),
    Call(Call),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
    Not(Box<Node>),
    Bin(Box<Node>, BinOp, Box<Node>),
}

/// `a.b.c["k"][0]`: dotted segments (each with its offset), then keys.
#[derive(Debug, Clone, PartialEq)]
pub struct PathAst {
    pub segments: Vec<(String, usize)>,
    pub keys: Vec<Node>,
}

/// `Name(args)[keys]`: an editor (lower case) or converter (upper case) call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
    pub keys: Vec<Node>,
}

/// One call argument, possibly named (`name = value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<String>,
    pub value: Node,
}

/// A transform statement: `editor(args) [where condition]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementAst {
    pub editor: Call,
    pub at: usize,
    pub condition: Option<Node>,
}

/// Parses a statement (`editor(...) [where cond]`).
pub fn parse_statement(src: &str) -> Result<StatementAst, OttlError> {
    let toks = lex(src)?;
    let mut p = Parser::new(&toks, src.len());
    let at = p.here();
    let call = match p.peek() {
        Some(Tok::Lower(_)) if p.peek_at(1) == Some(&Tok::Punct('(')) => p.call()?,
        Some(Tok::Upper(_)) if p.peek_at(1) == Some(&Tok::Punct('(')) => {
            return Err(OttlError::new(
                at,
                "a statement must start with an editor (lower case, e.g. set); converters (upper case) return values",
            ))
        }
        _ => return Err(OttlError::new(at, "expected an editor call, e.g. set(...)")),
    };
    if !call.keys.is_empty() {
        return Err(OttlError::new(at, "an editor call cannot be indexed"));
    }
    let condition = if p.eat(&Tok::Where) {
        Some(p.expr()?)
    } else {
        None
    };
    p.end()?;
    Ok(StatementAst {
        editor: call,
        at,
        condition,
    })
}

/// Parses a condition (a boolean expression).
pub fn parse_condition(src: &str) -> Result<Node, OttlError> {
    let toks = lex(src)?;
    let mut p = Parser::new(&toks, src.len());
    let n = p.expr()?;
    p.end()?;
    Ok(n)
}

struct Parser<'t, 's> {
    toks: &'t [Token<'s>],
    pos: usize,
    end: usize,
    depth: usize,
}

impl<'t, 's> Parser<'t, 's> {
    fn new(toks: &'t [Token<'s>], end: usize) -> Self {
        Parser {
            toks,
            pos: 0,
            end,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<&Tok<'s>> {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok<'s>> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }

    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |t| t.at)
    }

    fn next(&mut self) -> Option<&'t Token<'s>> {
        let t = self.toks.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, t: &Tok<'_>) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok<'_>, what: &str) -> Result<(), OttlError> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &str) -> OttlError {
        match self.peek() {
            Some(t) => OttlError::new(
                self.here(),
                format!("expected {what}, found {}", describe(t)),
            ),
            None => OttlError::new(self.end, format!("expected {what}, found the end")),
        }
    }

    fn end(&self) -> Result<(), OttlError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end")),
        }
    }

    fn enter(&mut self) -> Result<(), OttlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(OttlError::new(
                self.here(),
                format!("nested deeper than {MAX_DEPTH}"),
            ));
        }
        Ok(())
    }

    /// `or` level.
    fn expr(&mut self) -> Result<Node, OttlError> {
        self.enter()?;
        let r = self.binary_level(0);
        self.depth -= 1;
        r
    }

    /// Levels: 0 `or`, 1 `and`, 2 `not`, 3 comparison, 4 `+ -`, 5 `* /`.
    fn binary_level(&mut self, level: u8) -> Result<Node, OttlError> {
        match level {
            0 | 1 => {
                let (tok, op) = if level == 0 {
                    (Tok::Or, BinOp::Or)
                } else {
                    (Tok::And, BinOp::And)
                };
                let mut left = self.binary_level(level + 1)?;
                let outer = self.depth;
                while self.eat(&tok) {
                    self.enter()?;
                    let right = self.binary_level(level + 1)?;
                    let at = left.at;
                    left = Node {
                        ast: Ast::Bin(Box::new(left), op, Box::new(right)),
                        at,
                    };
                }
                self.depth = outer;
                Ok(left)
            }
            2 => {
                let at = self.here();
                if self.eat(&Tok::Not) {
                    self.enter()?;
                    let inner = self.binary_level(2);
                    self.depth -= 1;
                    Ok(Node {
                        ast: Ast::Not(Box::new(inner?)),
                        at,
                    })
                } else {
                    self.binary_level(3)
                }
            }
            3 => {
                let left = self.binary_level(4)?;
                let op = match self.peek() {
                    Some(Tok::Op("==")) => BinOp::Eq,
                    Some(Tok::Op("!=")) => BinOp::Ne,
                    Some(Tok::Op("<")) => BinOp::Lt,
                    Some(Tok::Op("<=")) => BinOp::Le,
                    Some(Tok::Op(">")) => BinOp::Gt,
                    Some(Tok::Op(">=")) => BinOp::Ge,
                    _ => return Ok(left),
                };
                self.pos += 1;
                let right = self.binary_level(4)?;
                if matches!(
                    self.peek(),
                    Some(Tok::Op("==" | "!=" | "<" | "<=" | ">" | ">="))
                ) {
                    return Err(OttlError::new(self.here(), "comparisons cannot be chained"));
                }
                let at = left.at;
                Ok(Node {
                    ast: Ast::Bin(Box::new(left), op, Box::new(right)),
                    at,
                })
            }
            _ => {
                let (a, b, oa, ob) = if level == 4 {
                    ("+", "-", BinOp::Add, BinOp::Sub)
                } else {
                    ("*", "/", BinOp::Mul, BinOp::Div)
                };
                let mut left = if level == 4 {
                    self.binary_level(5)?
                } else {
                    self.atom()?
                };
                let outer = self.depth;
                loop {
                    let op = match self.peek() {
                        Some(Tok::Op(o)) if *o == a => oa,
                        Some(Tok::Op(o)) if *o == b => ob,
                        _ => {
                            self.depth = outer;
                            return Ok(left);
                        }
                    };
                    self.pos += 1;
                    self.enter()?;
                    let right = if level == 4 {
                        self.binary_level(5)?
                    } else {
                        self.atom()?
                    };
                    let at = left.at;
                    left = Node {
                        ast: Ast::Bin(Box::new(left), op, Box::new(right)),
                        at,
                    };
                }
            }
        }
    }

    fn atom(&mut self) -> Result<Node, OttlError> {
        let at = self.here();
        let Some(t) = self.peek().cloned() else {
            return Err(self.unexpected("a value"));
        };
        let ast = match t {
            Tok::Nil => {
                self.pos += 1;
                Ast::Nil
            }
            Tok::True | Tok::False => {
                self.pos += 1;
                Ast::Bool(t == Tok::True)
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ast::Str(s)
            }
            Tok::Bytes(b) => {
                self.pos += 1;
                Ast::Bytes(b)
            }
            Tok::Int(_) | Tok::Float(_) => return self.number(false, at),
            Tok::Op(sign @ ("-" | "+")) => {
                self.pos += 1;
                if !matches!(self.peek(), Some(Tok::Int(_) | Tok::Float(_))) {
                    return Err(self.unexpected("a number after the sign"));
                }
                return self.number(sign == "-", at);
            }
            Tok::Punct('(') => {
                self.pos += 1;
                let inner = self.expr()?;
                self.expect(&Tok::Punct(')'), "')'")?;
                return Ok(inner);
            }
            Tok::Punct('[') => {
                self.pos += 1;
                self.enter()?;
                let mut items = Vec::new();
                if !self.eat(&Tok::Punct(']')) {
                    loop {
                        items.push(self.expr()?);
                        if self.eat(&Tok::Punct(']')) {
                            break;
                        }
                        self.expect(&Tok::Punct(','), "',' or ']'")?;
                    }
                }
                self.depth -= 1;
                Ast::List(items)
            }
            Tok::Punct('{') => {
                self.pos += 1;
                self.enter()?;
                let mut entries = Vec::new();
                while !self.eat(&Tok::Punct('}')) {
                    let key = match self.next().map(|t| &t.tok) {
                        Some(Tok::Str(k)) => k.clone(),
                        _ => {
                            self.pos = self.pos.saturating_sub(1);
                            return Err(self.unexpected("a string key"));
                        }
                    };
                    self.expect(&Tok::Punct(':'), "':'")?;
                    entries.push((key, self.expr()?));
                    if !self.eat(&Tok::Punct(',')) {
                        self.expect(&Tok::Punct('}'), "',' or '}'")?;
                        break;
                    }
                }
                self.depth -= 1;
                Ast::Map(entries)
            }
            Tok::Upper(name) => {
                if self.peek_at(1) == Some(&Tok::Punct('(')) {
                    Ast::Call(self.call()?)
                } else {
                    self.pos += 1;
                    Ast::Upper(name.to_string())
                }
            }
            Tok::Lower(_) => {
                if self.peek_at(1) == Some(&Tok::Punct('(')) {
                    return Err(OttlError::new(
                        at,
                        "an editor cannot be used as a value; converters start with an upper-case letter",
                    ));
                }
                Ast::Path(self.path()?)
            }
            other => {
                return Err(OttlError::new(
                    at,
                    format!("expected a value, found {}", describe(&other)),
                ))
            }
        };
        Ok(Node { ast, at })
    }

    fn number(&mut self, negative: bool, at: usize) -> Result<Node, OttlError> {
        let num_at = self.here();
        let ast = match self.next().map(|t| &t.tok) {
            Some(Tok::Int(d)) => {
                let text = if negative {
                    format!("-{d}")
                } else {
                    (*d).to_string()
                };
                Ast::Int(
                    text.parse::<i64>()
                        .map_err(|_| OttlError::new(num_at, "integer out of the int64 range"))?,
                )
            }
            Some(Tok::Float(d)) => {
                let v: f64 = d
                    .parse()
                    .map_err(|_| OttlError::new(num_at, "invalid float"))?;
                Ast::Float(if negative { -v } else { v })
            }
            _ => return Err(OttlError::new(num_at, "expected a number")),
        };
        Ok(Node { ast, at })
    }

    fn path(&mut self) -> Result<PathAst, OttlError> {
        let mut segments = Vec::new();
        loop {
            let at = self.here();
            match self.next().map(|t| &t.tok) {
                Some(Tok::Lower(s)) => segments.push(((*s).to_string(), at)),
                _ => {
                    self.pos = self.pos.saturating_sub(1);
                    return Err(self.unexpected("a path segment"));
                }
            }
            if !self.eat(&Tok::Punct('.')) {
                break;
            }
        }
        let keys = self.keys()?;
        if self.peek() == Some(&Tok::Punct('.')) {
            return Err(OttlError::new(
                self.here(),
                "path segments after keys are not supported",
            ));
        }
        Ok(PathAst { segments, keys })
    }

    fn keys(&mut self) -> Result<Vec<Node>, OttlError> {
        let mut keys = Vec::new();
        while self.peek() == Some(&Tok::Punct('[')) {
            self.pos += 1;
            self.enter()?;
            let at = self.here();
            let k = match self.peek().cloned() {
                Some(Tok::Str(s)) => {
                    self.pos += 1;
                    Node {
                        ast: Ast::Str(s),
                        at,
                    }
                }
                Some(Tok::Int(_)) => self.number(false, at)?,
                Some(Tok::Lower(_)) => Node {
                    ast: Ast::Path(self.path()?),
                    at,
                },
                Some(Tok::Upper(_)) if self.peek_at(1) == Some(&Tok::Punct('(')) => Node {
                    ast: Ast::Call(self.call()?),
                    at,
                },
                _ => return Err(self.unexpected("a string, integer, path or converter key")),
            };
            self.expect(&Tok::Punct(']'), "']'")?;
            self.depth -= 1;
            keys.push(k);
        }
        Ok(keys)
    }

    fn call(&mut self) -> Result<Call, OttlError> {
        self.enter()?;
        let name = match self.next().map(|t| &t.tok) {
            Some(Tok::Upper(n) | Tok::Lower(n)) => (*n).to_string(),
            _ => return Err(self.unexpected("a function name")),
        };
        self.expect(&Tok::Punct('('), "'('")?;
        let mut args: Vec<Arg> = Vec::new();
        if !self.eat(&Tok::Punct(')')) {
            loop {
                let at = self.here();
                let name = match (self.peek(), self.peek_at(1)) {
                    (Some(Tok::Lower(n)), Some(Tok::Op("="))) => {
                        let n = (*n).to_string();
                        self.pos += 2;
                        Some(n)
                    }
                    _ => None,
                };
                if name.is_none() && args.iter().any(|a| a.name.is_some()) {
                    return Err(OttlError::new(
                        at,
                        "positional arguments must come before named ones",
                    ));
                }
                args.push(Arg {
                    name,
                    value: self.expr()?,
                });
                if self.eat(&Tok::Punct(')')) {
                    break;
                }
                self.expect(&Tok::Punct(','), "',' or ')'")?;
            }
        }
        let keys = self.keys()?;
        self.depth -= 1;
        Ok(Call { name, args, keys })
    }
}

fn describe(t: &Tok<'_>) -> String {
    match t {
        Tok::Bytes(_) => "a bytes literal".into(),
        Tok::Float(s) | Tok::Int(s) => format!("number {s}"),
        Tok::Str(_) => "a string".into(),
        Tok::Upper(s) | Tok::Lower(s) => format!("'{s}'"),
        Tok::Not => "'not'".into(),
        Tok::And => "'and'".into(),
        Tok::Or => "'or'".into(),
        Tok::Where => "'where'".into(),
        Tok::True => "'true'".into(),
        Tok::False => "'false'".into(),
        Tok::Nil => "'nil'".into(),
        Tok::Op(o) => format!("'{o}'"),
        Tok::Punct(c) => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact rendering of a tree, for table tests.
    fn show(n: &Node) -> String {
        match &n.ast {
            Ast::Nil => "nil".into(),
            Ast::Bool(b) => b.to_string(),
            Ast::Int(i) => i.to_string(),
            Ast::Float(f) => format!("{f:?}"),
            Ast::Str(s) => format!("{s:?}"),
            Ast::Bytes(b) => format!(
                "0x{}",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            ),
            Ast::Upper(u) => u.clone(),
            Ast::Path(p) => {
                let segs: Vec<_> = p.segments.iter().map(|s| s.0.as_str()).collect();
                format!(
                    "{}{}",
                    segs.join("."),
                    p.keys
                        .iter()
                        .map(|k| format!("[{}]", show(k)))
                        .collect::<String>()
                )
            }
            Ast::Call(c) => format!(
                "{}({}){}",
                c.name,
                c.args
                    .iter()
                    .map(|a| match &a.name {
                        Some(n) => format!("{n}={}", show(&a.value)),
                        None => show(&a.value),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                c.keys
                    .iter()
                    .map(|k| format!("[{}]", show(k)))
                    .collect::<String>()
            ),
            Ast::List(l) => format!("[{}]", l.iter().map(show).collect::<Vec<_>>().join(", ")),
            Ast::Map(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{k:?}: {}", show(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ast::Not(x) => format!("(not {})", show(x)),
            Ast::Bin(a, op, b) => format!("({} {op:?} {})", show(a), show(b)),
        }
    }

    #[test]
    fn conditions_table() {
        for (src, want) in [
            (r#"span.name == "x""#, r#"(span.name Eq "x")"#),
            (
                "a == 1 or b == 2 and c == 3",
                "((a Eq 1) Or ((b Eq 2) And (c Eq 3)))",
            ),
            ("not a == b and c != d", "((not (a Eq b)) And (c Ne d))"),
            (
                "(a == 1 or b == 2) and true",
                "(((a Eq 1) Or (b Eq 2)) And true)",
            ),
            ("a + 2 * 3 > -4", "((a Add (2 Mul 3)) Gt -4)"),
            ("(a - 1) / 2 >= .5", "(((a Sub 1) Div 2) Ge 0.5)"),
            ("a-1 == 0", "((a Sub 1) Eq 0)"),
            ("-9223372036854775808 < 0", "(-9223372036854775808 Lt 0)"),
            (
                r#"attributes["a"][0] == nil"#,
                r#"(attributes["a"][0] Eq nil)"#,
            ),
            (
                r#"IsMatch(name, "^x") == true"#,
                r#"(IsMatch(name, "^x") Eq true)"#,
            ),
            (r#"IsMatch(name, "^x")"#, r#"IsMatch(name, "^x")"#),
            ("kind == SPAN_KIND_SERVER", "(kind Eq SPAN_KIND_SERVER)"),
            (
                "trace_id == TraceID(0x0102)",
                "(trace_id Eq TraceID(0x0102))",
            ),
            (r#"Split(x, ",")[1] == "b""#, r#"(Split(x, ",")[1] Eq "b")"#),
            (
                r#"attributes[resource.attributes["k"]] != nil"#,
                r#"(attributes[resource.attributes["k"]] Ne nil)"#,
            ),
            (
                r#"[1, "a"] == {"k": [true], "j": nil,}"#,
                r#"([1, "a"] Eq {"k": [true], "j": nil})"#,
            ),
        ] {
            let n = parse_condition(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(show(&n), want, "{src}");
        }
    }

    #[test]
    fn statements_table() {
        for (src, want, cond) in [
            (
                r#"set(attributes["a"], "b")"#,
                r#"set(attributes["a"], "b")"#,
                None,
            ),
            (
                r#"replace_pattern(name, "a", "b", function = SHA256) where kind == 1"#,
                r#"replace_pattern(name, "a", "b", function=SHA256)"#,
                Some("(kind Eq 1)"),
            ),
            (
                "keep_keys(attributes, [])",
                "keep_keys(attributes, [])",
                None,
            ),
        ] {
            let s = parse_statement(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            let call = Node {
                ast: Ast::Call(s.editor),
                at: 0,
            };
            assert_eq!(show(&call), want);
            assert_eq!(s.condition.as_ref().map(show).as_deref(), cond);
        }
    }

    #[test]
    fn syntax_errors_table() {
        for (src, at, needle) in [
            ("a == ", 5, "expected a value"),
            ("a == b == c", 7, "chained"),
            ("IsMatch(a, 1", 12, "',' or ')'"),
            ("a == 99999999999999999999", 5, "int64"),
            ("a == (", 6, "expected a value"),
            ("a == b c", 7, "the end"),
            ("F(a = 1, 2)", 9, "positional"),
            ("a == set(b)", 5, "editor cannot be used"),
        ] {
            let e = parse_condition(src).unwrap_err();
            assert_eq!((e.at, e.message.contains(needle)), (at, true), "{src}: {e}");
        }
        for (src, needle) in [
            ("IsMatch(a, \"b\")", "must start with an editor"),
            ("name", "expected an editor call"),
            ("set(a, 1)[0]", "cannot be indexed"),
            ("set(a, 1) b", "the end"),
        ] {
            let e = parse_statement(src).unwrap_err();
            assert!(e.message.contains(needle), "{src}: {e}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}a == 1{}", "(".repeat(500), ")".repeat(500));
        assert!(parse_condition(&deep)
            .unwrap_err()
            .message
            .contains("nested"));
        let lists = format!("a == {}{}", "[".repeat(500), "]".repeat(500));
        assert!(parse_condition(&lists).is_err());
        let nots = format!("{}a == 1", "not ".repeat(500));
        assert!(parse_condition(&nots).is_err());
        let chain = format!("a == 1{}", " or a == 1".repeat(5000));
        assert!(parse_condition(&chain).is_err());
        let sum = format!("a == 1{}", " + 1".repeat(5000));
        assert!(parse_condition(&sum).is_err());
        let shallow = format!("{}a == 1{}", "(".repeat(20), ")".repeat(20));
        assert!(parse_condition(&shallow).is_ok());
    }
}
