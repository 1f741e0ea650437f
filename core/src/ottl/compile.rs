//! Compilation of parsed OTTL into an evaluable form, and its evaluation.
//!
//! Everything that can be checked without data is checked here, once, at config
//! load: paths against the context, enums, function names, arity and literal
//! argument types, regexes. The compiled tree holds resolved [`Field`]s, enum
//! values and compiled regexes, so evaluation never re-parses or looks up names.

use std::borrow::Cow;
use std::collections::HashSet;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
use regex::Regex;

use super::item::{read, root_mut, write, Context, Field, Item, ItemMut, Root};
use super::parser::{parse_condition, parse_statement, Ast, BinOp, Call, Node, PathAst};
use super::value::{compare, math, Value};
use super::{EvalError, OttlError};
use crate::otlp::SignalKind;

/// A compiled value expression.
#[derive(Debug)]
enum Expr {
    Lit(Value<'static>),
    Path(PathExpr),
    Conv(Box<Converter>, Vec<KeyExpr>),
    Math(Box<Expr>, BinOp, Box<Expr>),
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
}

#[derive(Debug)]
struct PathExpr {
    field: Field,
    keys: Vec<KeyExpr>,
}

#[derive(Debug)]
enum KeyExpr {
    Str(String),
    Int(i64),
    Dyn(Box<Expr>),
}

/// A key resolved for one item.
enum KeyRef<'k> {
    Str(Cow<'k, str>),
    Int(i64),
}

#[derive(Debug)]
enum Cond {
    Const(bool),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Cmp(Expr, BinOp, Expr),
    Conv(Box<Converter>),
}

#[derive(Debug)]
enum Converter {
    IsMatch(Expr, Regex),
    Concat(Vec<Expr>, String),
    Split(Expr, String),
    Int(Expr),
    Double(Expr),
    String(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Insert,
    Update,
    Upsert,
}

#[derive(Debug)]
enum Editor {
    Set(PathExpr, Expr),
    DeleteKey(PathExpr, Expr),
    DeleteMatchingKeys(PathExpr, Regex),
    KeepKeys(PathExpr, HashSet<String>),
    KeepMatchingKeys(PathExpr, Regex),
    Limit(PathExpr, usize, Vec<String>),
    TruncateAll(PathExpr, usize),
    ReplacePattern(PathExpr, Regex, String),
    ReplaceAllPatterns(PathExpr, bool, Regex, String),
    MergeMaps(PathExpr, Expr, Strategy),
}

/// A compiled condition (filter, or a transform group's `conditions`).
#[derive(Debug)]
pub struct Condition {
    cond: Cond,
    context: Context,
    text: String,
}

/// A compiled transform statement.
#[derive(Debug)]
pub struct Statement {
    editor: Editor,
    condition: Option<Cond>,
    context: Context,
    text: String,
}

/// What compilation needs to know: the signal, and the context of the group
/// when the config fixes one (unprefixed paths get it).
#[derive(Debug, Clone, Copy)]
pub struct Env {
    pub signal: SignalKind,
    pub context: Option<Context>,
}

struct Compiler {
    env: Env,
    /// Lowest context named so far.
    lowest: Option<Context>,
}

fn default_context(signal: SignalKind) -> Context {
    match signal {
        SignalKind::Traces => Context::Span,
        SignalKind::Metrics => Context::Metric,
        SignalKind::Logs => Context::Log,
    }
}

impl Condition {
    /// Parses and compiles a condition.
    pub fn compile(src: &str, env: Env) -> Result<Condition, OttlError> {
        let node = parse_condition(src)?;
        let mut c = Compiler { env, lowest: None };
        let cond = c.cond(&node)?;
        Ok(Condition {
            cond,
            context: c.context(),
            text: src.to_string(),
        })
    }

    /// The context the condition runs in (fixed by the group, or the lowest named).
    pub fn context(&self) -> Context {
        self.context
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn eval(&self, item: &Item<'_>) -> Result<bool, EvalError> {
        self.cond.eval(item)
    }
}

impl Statement {
    /// Parses and compiles a statement.
    pub fn compile(src: &str, env: Env) -> Result<Statement, OttlError> {
        let ast = parse_statement(src)?;
        let mut c = Compiler { env, lowest: None };
        let editor = c.editor(&ast.editor, ast.at)?;
        let condition = ast.condition.as_ref().map(|n| c.cond(n)).transpose()?;
        Ok(Statement {
            editor,
            condition,
            context: c.context(),
            text: src.to_string(),
        })
    }

    pub fn context(&self) -> Context {
        self.context
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the statement would run on `item`: true without a `where`
    /// clause, else the clause's value. Lets a processor decide read-only
    /// whether a batch needs editing at all.
    pub fn applies(&self, item: &Item<'_>) -> Result<bool, EvalError> {
        match &self.condition {
            Some(c) => c.eval(item),
            None => Ok(true),
        }
    }

    /// Runs the statement on `item` when its `where` clause holds.
    pub fn exec(&self, item: &mut ItemMut<'_>) -> Result<(), EvalError> {
        if let Some(c) = &self.condition {
            if !c.eval(&item.view())? {
                return Ok(());
            }
        }
        self.editor.exec(item)
    }
}

impl Compiler {
    fn context(&self) -> Context {
        self.env
            .context
            .or(self.lowest)
            .unwrap_or(default_context(self.env.signal))
    }

    fn cond(&mut self, n: &Node) -> Result<Cond, OttlError> {
        Ok(match &n.ast {
            Ast::Bool(b) => Cond::Const(*b),
            Ast::Not(x) => Cond::Not(Box::new(self.cond(x)?)),
            Ast::Bin(a, BinOp::And, b) => {
                Cond::And(Box::new(self.cond(a)?), Box::new(self.cond(b)?))
            }
            Ast::Bin(a, BinOp::Or, b) => Cond::Or(Box::new(self.cond(a)?), Box::new(self.cond(b)?)),
            Ast::Bin(a, op, b) if op.is_comparison() => {
                Cond::Cmp(self.expr(a)?, *op, self.expr(b)?)
            }
            Ast::Call(call) if call.keys.is_empty() => {
                let conv = self.converter(call, n.at)?;
                if !matches!(conv, Converter::IsMatch(..)) {
                    return Err(OttlError::new(
                        n.at,
                        format!(
                            "converter {} does not return a boolean; compare its result",
                            call.name
                        ),
                    ));
                }
                Cond::Conv(Box::new(conv))
            }
            Ast::Path(_) => {
                return Err(OttlError::new(
                    n.at,
                    "a path is not a condition; compare it, e.g. attributes[\"flag\"] == true",
                ))
            }
            _ => {
                return Err(OttlError::new(
                    n.at,
                    "expected a condition (a comparison, true, false or a boolean converter)",
                ))
            }
        })
    }

    fn expr(&mut self, n: &Node) -> Result<Expr, OttlError> {
        Ok(match &n.ast {
            Ast::Nil => Expr::Lit(Value::Nil),
            Ast::Bool(b) => Expr::Lit(Value::Bool(*b)),
            Ast::Int(i) => Expr::Lit(Value::Int(*i)),
            Ast::Float(f) => Expr::Lit(Value::Float(*f)),
            Ast::Str(s) => Expr::Lit(Value::Str(Cow::Owned(s.clone()))),
            Ast::Bytes(b) => Expr::Lit(Value::Bytes(Cow::Owned(b.clone()))),
            Ast::Upper(name) => match enum_value(name) {
                Some(v) => Expr::Lit(Value::Int(v)),
                None => return Err(OttlError::new(n.at, format!("unknown enum {name}"))),
            },
            Ast::Path(p) => Expr::Path(self.path(p)?),
            Ast::Call(call) => {
                if let ("TraceID" | "SpanID", [arg]) = (call.name.as_str(), call.args.as_slice()) {
                    let want = if call.name == "TraceID" { 16 } else { 8 };
                    return match &arg.value.ast {
                        Ast::Bytes(b) if b.len() == want && call.keys.is_empty() => {
                            Ok(Expr::Lit(Value::Bytes(Cow::Owned(b.clone()))))
                        }
                        _ => Err(OttlError::new(
                            arg.value.at,
                            format!(
                                "{} takes a {want}-byte literal such as 0x{}",
                                call.name,
                                "00".repeat(want)
                            ),
                        )),
                    };
                }
                let conv = self.converter(call, n.at)?;
                let keys = call
                    .keys
                    .iter()
                    .map(|k| self.key(k))
                    .collect::<Result<_, _>>()?;
                Expr::Conv(Box::new(conv), keys)
            }
            Ast::List(items) => Expr::List(
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<_, _>>()?,
            ),
            Ast::Map(entries) => Expr::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.expr(v)?)))
                    .collect::<Result<_, OttlError>>()?,
            ),
            Ast::Bin(a, op, b)
                if matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div) =>
            {
                Expr::Math(Box::new(self.expr(a)?), *op, Box::new(self.expr(b)?))
            }
            Ast::Bin(..) | Ast::Not(_) => {
                return Err(OttlError::new(n.at, "a condition is not a value here"))
            }
        })
    }

    fn key(&mut self, n: &Node) -> Result<KeyExpr, OttlError> {
        Ok(match &n.ast {
            Ast::Str(s) => KeyExpr::Str(s.clone()),
            Ast::Int(i) => KeyExpr::Int(*i),
            _ => KeyExpr::Dyn(Box::new(self.expr(n)?)),
        })
    }

    fn path(&mut self, p: &PathAst) -> Result<PathExpr, OttlError> {
        let at = p.segments.first().map_or(0, |s| s.1);
        let segs: Vec<&str> = p.segments.iter().map(|s| s.0.as_str()).collect();
        let signal = self.env.signal;
        let (ctx, rest) = match Context::parse(segs[0]) {
            Some(c) if c.of_signal(signal) && segs.len() > 1 => (c, &segs[1..]),
            _ => match self.env.context {
                Some(c) => (c, &segs[..]),
                None => {
                    return Err(OttlError::new(
                        at,
                        format!(
                            "path '{}' must start with a context such as {}.",
                            segs.join("."),
                            default_context(signal).name()
                        ),
                    ))
                }
            },
        };
        let field = Field::resolve(ctx, rest).ok_or_else(|| {
            OttlError::new(
                at,
                format!(
                    "unknown path '{}' in the {} context",
                    rest.join("."),
                    ctx.name()
                ),
            )
        })?;
        match self.env.context {
            Some(fixed) if !fixed.reaches(ctx) => {
                return Err(OttlError::new(
                    at,
                    format!(
                        "{} paths cannot be used in the {} context",
                        ctx.name(),
                        fixed.name()
                    ),
                ))
            }
            Some(_) => {}
            None => match self.lowest {
                None => self.lowest = Some(ctx),
                Some(low) if low.reaches(ctx) => {}
                Some(low) if ctx.reaches(low) => self.lowest = Some(ctx),
                Some(low) => {
                    return Err(OttlError::new(
                        at,
                        format!("{} and {} paths cannot be mixed", low.name(), ctx.name()),
                    ))
                }
            },
        }
        if !p.keys.is_empty() && !field.indexable() {
            return Err(OttlError::new(
                at,
                format!("'{}' cannot be indexed", segs.join(".")),
            ));
        }
        let keys = p
            .keys
            .iter()
            .map(|k| self.key(k))
            .collect::<Result<_, _>>()?;
        Ok(PathExpr { field, keys })
    }

    fn target(&mut self, n: Option<&Node>, at: usize) -> Result<PathExpr, OttlError> {
        match n.map(|n| (&n.ast, n.at)) {
            Some((Ast::Path(p), _)) => self.path(p),
            Some((_, at)) => Err(OttlError::new(at, "expected a path")),
            None => Err(OttlError::new(at, "missing target")),
        }
    }

    fn converter(&mut self, call: &Call, at: usize) -> Result<Converter, OttlError> {
        let a = |params: &[&str], required: usize| bind(call, params, required, at);
        Ok(match call.name.as_str() {
            "IsMatch" => {
                let args = a(&["target", "pattern"], 2)?;
                Converter::IsMatch(self.expr_arg(args[0], at)?, regex_arg(args[1], at)?)
            }
            "Concat" => {
                let args = a(&["vals", "delimiter"], 2)?;
                let vals = match args[0].map(|n| &n.ast) {
                    Some(Ast::List(items)) => items
                        .iter()
                        .map(|i| self.expr(i))
                        .collect::<Result<_, _>>()?,
                    _ => {
                        return Err(OttlError::new(
                            arg_at(args[0], at),
                            "Concat takes a list literal of values",
                        ))
                    }
                };
                Converter::Concat(vals, str_arg(args[1], at)?)
            }
            "Split" => {
                let args = a(&["target", "delimiter"], 2)?;
                Converter::Split(self.expr_arg(args[0], at)?, str_arg(args[1], at)?)
            }
            "Int" => Converter::Int(self.expr_arg(a(&["value"], 1)?[0], at)?),
            "Double" => Converter::Double(self.expr_arg(a(&["value"], 1)?[0], at)?),
            "String" => Converter::String(self.expr_arg(a(&["value"], 1)?[0], at)?),
            name if name.starts_with(|c: char| c.is_ascii_uppercase()) => {
                return Err(OttlError::new(at, format!("unknown converter {name}")))
            }
            name => {
                return Err(OttlError::new(
                    at,
                    format!("editor {name} cannot be used as a value"),
                ))
            }
        })
    }

    fn expr_arg(&mut self, n: Option<&Node>, at: usize) -> Result<Expr, OttlError> {
        match n {
            Some(n) => self.expr(n),
            None => Err(OttlError::new(at, "missing argument")),
        }
    }

    fn editor(&mut self, call: &Call, at: usize) -> Result<Editor, OttlError> {
        let a = |params: &[&str], required: usize| bind(call, params, required, at);
        Ok(match call.name.as_str() {
            "set" => {
                let args = a(&["target", "value"], 2)?;
                Editor::Set(self.target(args[0], at)?, self.expr_arg(args[1], at)?)
            }
            "delete_key" => {
                let args = a(&["target", "key"], 2)?;
                Editor::DeleteKey(self.target(args[0], at)?, self.expr_arg(args[1], at)?)
            }
            "delete_matching_keys" => {
                let args = a(&["target", "pattern"], 2)?;
                Editor::DeleteMatchingKeys(self.target(args[0], at)?, regex_arg(args[1], at)?)
            }
            "keep_keys" => {
                let args = a(&["target", "keys"], 2)?;
                Editor::KeepKeys(
                    self.target(args[0], at)?,
                    str_list_arg(args[1], at)?.into_iter().collect(),
                )
            }
            "keep_matching_keys" => {
                let args = a(&["target", "pattern"], 2)?;
                Editor::KeepMatchingKeys(self.target(args[0], at)?, regex_arg(args[1], at)?)
            }
            "limit" => {
                let args = a(&["target", "limit", "priority_keys"], 2)?;
                let n = int_arg(args[1], at)?;
                let priority = match args[2] {
                    Some(p) => str_list_arg(Some(p), at)?,
                    None => Vec::new(),
                };
                let n = usize::try_from(n).map_err(|_| {
                    OttlError::new(arg_at(args[1], at), "limit must not be negative")
                })?;
                if n < priority.len() {
                    return Err(OttlError::new(
                        arg_at(args[1], at),
                        "limit must be at least the number of priority keys",
                    ));
                }
                Editor::Limit(self.target(args[0], at)?, n, priority)
            }
            "truncate_all" => {
                let args = a(&["target", "limit", "utf8_safe"], 2)?;
                let n = usize::try_from(int_arg(args[1], at)?).map_err(|_| {
                    OttlError::new(arg_at(args[1], at), "limit must not be negative")
                })?;
                if let Some(n) = args[2] {
                    if !matches!(n.ast, Ast::Bool(true)) {
                        return Err(OttlError::new(n.at, "only utf8_safe = true is supported"));
                    }
                }
                Editor::TruncateAll(self.target(args[0], at)?, n)
            }
            "replace_pattern" | "replace_all_patterns" => {
                let all = call.name == "replace_all_patterns";
                let params: &[&str] = if all {
                    &[
                        "target",
                        "mode",
                        "regex",
                        "replacement",
                        "function",
                        "replacementFormat",
                    ]
                } else {
                    &[
                        "target",
                        "regex",
                        "replacement",
                        "function",
                        "replacementFormat",
                    ]
                };
                let args = a(params, params.len() - 2)?;
                let k = usize::from(all);
                if let Some(f) = args[k + 3].or(args[k + 4]) {
                    return Err(OttlError::new(
                        f.at,
                        "replacement functions are not supported yet",
                    ));
                }
                let target = self.target(args[0], at)?;
                let re = regex_arg(args[k + 1], at)?;
                let repl = str_arg(args[k + 2], at)?;
                if all {
                    let keys = match str_arg(args[1], at)?.as_str() {
                        "key" => true,
                        "value" => false,
                        _ => {
                            return Err(OttlError::new(
                                arg_at(args[1], at),
                                "mode must be \"key\" or \"value\"",
                            ))
                        }
                    };
                    Editor::ReplaceAllPatterns(target, keys, re, repl)
                } else {
                    Editor::ReplacePattern(target, re, repl)
                }
            }
            "merge_maps" => {
                let args = a(&["target", "source", "strategy"], 3)?;
                let strategy = match str_arg(args[2], at)?.as_str() {
                    "insert" => Strategy::Insert,
                    "update" => Strategy::Update,
                    "upsert" => Strategy::Upsert,
                    _ => {
                        return Err(OttlError::new(
                            arg_at(args[2], at),
                            "strategy must be \"insert\", \"update\" or \"upsert\"",
                        ))
                    }
                };
                Editor::MergeMaps(
                    self.target(args[0], at)?,
                    self.expr_arg(args[1], at)?,
                    strategy,
                )
            }
            name => return Err(OttlError::new(at, format!("unknown editor {name}"))),
        })
    }
}

fn arg_at(n: Option<&Node>, at: usize) -> usize {
    n.map_or(at, |n| n.at)
}

/// Matches positional and named arguments to `params`; the first `required`
/// must be present.
fn bind<'c>(
    call: &'c Call,
    params: &[&str],
    required: usize,
    at: usize,
) -> Result<Vec<Option<&'c Node>>, OttlError> {
    let mut out: Vec<Option<&Node>> = vec![None; params.len()];
    for (i, arg) in call.args.iter().enumerate() {
        let slot = match &arg.name {
            None => i,
            Some(name) => params.iter().position(|p| p == name).ok_or_else(|| {
                OttlError::new(
                    arg.value.at,
                    format!("{} has no parameter named {name}", call.name),
                )
            })?,
        };
        match out.get_mut(slot) {
            Some(s @ None) => *s = Some(&arg.value),
            Some(Some(_)) => return Err(OttlError::new(arg.value.at, "argument given twice")),
            None => {
                return Err(OttlError::new(
                    arg.value.at,
                    format!("{} takes at most {} arguments", call.name, params.len()),
                ))
            }
        }
    }
    if let Some(missing) = out.iter().take(required).position(Option::is_none) {
        return Err(OttlError::new(
            at,
            format!("{} is missing its argument {}", call.name, params[missing]),
        ));
    }
    Ok(out)
}

fn str_arg(n: Option<&Node>, at: usize) -> Result<String, OttlError> {
    match n.map(|n| &n.ast) {
        Some(Ast::Str(s)) => Ok(s.clone()),
        _ => Err(OttlError::new(arg_at(n, at), "expected a string literal")),
    }
}

fn int_arg(n: Option<&Node>, at: usize) -> Result<i64, OttlError> {
    match n.map(|n| &n.ast) {
        Some(Ast::Int(i)) => Ok(*i),
        _ => Err(OttlError::new(arg_at(n, at), "expected an integer literal")),
    }
}

fn str_list_arg(n: Option<&Node>, at: usize) -> Result<Vec<String>, OttlError> {
    match n.map(|n| &n.ast) {
        Some(Ast::List(items)) => items
            .iter()
            .map(|i| match &i.ast {
                Ast::Str(s) => Ok(s.clone()),
                _ => Err(OttlError::new(i.at, "expected a string literal")),
            })
            .collect(),
        _ => Err(OttlError::new(
            arg_at(n, at),
            "expected a list of string literals",
        )),
    }
}

fn regex_arg(n: Option<&Node>, at: usize) -> Result<Regex, OttlError> {
    let s = str_arg(n, at)?;
    Regex::new(&s).map_err(|e| OttlError::new(arg_at(n, at), format!("invalid regex: {e}")))
}

/// Enum names resolved at compile time.
fn enum_value(name: &str) -> Option<i64> {
    const SEVERITIES: [&str; 24] = [
        "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4", "INFO",
        "INFO2", "INFO3", "INFO4", "WARN", "WARN2", "WARN3", "WARN4", "ERROR", "ERROR2", "ERROR3",
        "ERROR4", "FATAL", "FATAL2", "FATAL3", "FATAL4",
    ];
    Some(match name {
        "SPAN_KIND_UNSPECIFIED" => 0,
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        "STATUS_CODE_UNSET" => 0,
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        "METRIC_DATA_TYPE_NONE" => 0,
        "METRIC_DATA_TYPE_GAUGE" => 1,
        "METRIC_DATA_TYPE_SUM" => 2,
        "METRIC_DATA_TYPE_HISTOGRAM" => 3,
        "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM" => 4,
        "METRIC_DATA_TYPE_SUMMARY" => 5,
        "AGGREGATION_TEMPORALITY_UNSPECIFIED" => 0,
        "AGGREGATION_TEMPORALITY_DELTA" => 1,
        "AGGREGATION_TEMPORALITY_CUMULATIVE" => 2,
        "FLAG_NONE" => 0,
        "FLAG_NO_RECORDED_VALUE" => 1,
        "SEVERITY_NUMBER_UNSPECIFIED" => 0,
        _ => {
            let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
            let i = SEVERITIES.iter().position(|s| *s == rest)?;
            i64::try_from(i + 1).ok()?
        }
    })
}

// ---------------------------------------------------------------- evaluation

fn err(msg: impl Into<String>) -> EvalError {
    EvalError(msg.into())
}

fn into_static(v: Value<'_>) -> Value<'static> {
    match v {
        Value::Nil => Value::Nil,
        Value::Bool(b) => Value::Bool(b),
        Value::Int(i) => Value::Int(i),
        Value::Float(f) => Value::Float(f),
        Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
        Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
        Value::Map(m) => Value::Map(Cow::Owned(m.into_owned())),
        Value::List(l) => Value::List(Cow::Owned(l.into_owned())),
    }
}

impl Cond {
    fn eval(&self, it: &Item<'_>) -> Result<bool, EvalError> {
        Ok(match self {
            Cond::Const(b) => *b,
            Cond::Not(c) => !c.eval(it)?,
            Cond::And(a, b) => a.eval(it)? && b.eval(it)?,
            Cond::Or(a, b) => a.eval(it)? || b.eval(it)?,
            Cond::Cmp(a, op, b) => compare(&a.eval(it)?, *op, &b.eval(it)?),
            Cond::Conv(c) => match c.eval(it)? {
                Value::Bool(b) => b,
                other => {
                    return Err(err(format!(
                        "expected a boolean, got {}",
                        other.type_name()
                    )))
                }
            },
        })
    }
}

impl KeyExpr {
    fn resolve<'s>(&'s self, it: &Item<'s>) -> Result<KeyRef<'s>, EvalError> {
        Ok(match self {
            KeyExpr::Str(s) => KeyRef::Str(Cow::Borrowed(s)),
            KeyExpr::Int(i) => KeyRef::Int(*i),
            KeyExpr::Dyn(e) => match e.eval(it)? {
                Value::Str(s) => KeyRef::Str(Cow::Owned(s.into_owned())),
                Value::Int(i) => KeyRef::Int(i),
                other => {
                    return Err(err(format!(
                        "a key must be a string or an int, got {}",
                        other.type_name()
                    )))
                }
            },
        })
    }
}

/// `v[key]`: a missing map key (or indexing nil) reads as nil; indexing another
/// type or a list out of range is an error.
fn index<'s>(v: Value<'s>, key: &KeyRef<'_>) -> Result<Value<'s>, EvalError> {
    match (v, key) {
        (Value::Nil, _) => Ok(Value::Nil),
        (Value::Map(m), KeyRef::Str(k)) => Ok(match m {
            Cow::Borrowed(m) => m
                .iter()
                .find(|kv| kv.key == **k)
                .and_then(|kv| kv.value.as_ref())
                .map_or(Value::Nil, Value::from_any),
            Cow::Owned(m) => m
                .into_iter()
                .find(|kv| kv.key == **k)
                .and_then(|kv| kv.value)
                .map_or(Value::Nil, |v| into_static(Value::from_any(&v))),
        }),
        (Value::List(l), KeyRef::Int(i)) => {
            let i = usize::try_from(*i).map_err(|_| err(format!("index {i} out of range")))?;
            match l {
                Cow::Borrowed(l) => l.get(i).map(Value::from_any),
                Cow::Owned(l) => l.get(i).map(|v| into_static(Value::from_any(v))),
            }
            .ok_or_else(|| err(format!("index {i} out of range")))
        }
        (v, _) => Err(err(format!(
            "cannot index a {} with that key",
            v.type_name()
        ))),
    }
}

impl Expr {
    fn eval<'s>(&'s self, it: &Item<'s>) -> Result<Value<'s>, EvalError> {
        match self {
            Expr::Lit(v) => Ok(match v {
                Value::Str(s) => Value::Str(Cow::Borrowed(s)),
                Value::Bytes(b) => Value::Bytes(Cow::Borrowed(b)),
                other => other.clone(),
            }),
            Expr::Path(p) => {
                let mut v = read(it, p.field);
                for k in &p.keys {
                    v = index(v, &k.resolve(it)?)?;
                }
                Ok(v)
            }
            Expr::Conv(c, keys) => {
                let mut v = c.eval(it)?;
                for k in keys {
                    v = index(v, &k.resolve(it)?)?;
                }
                Ok(v)
            }
            Expr::Math(a, op, b) => math(&a.eval(it)?, *op, &b.eval(it)?).map_err(EvalError),
            Expr::List(items) => Ok(Value::List(Cow::Owned(
                items
                    .iter()
                    .map(|i| Ok(i.eval(it)?.into_any()))
                    .collect::<Result<_, EvalError>>()?,
            ))),
            Expr::Map(entries) => Ok(Value::Map(Cow::Owned(
                entries
                    .iter()
                    .map(|(k, v)| {
                        Ok(KeyValue {
                            key: k.clone(),
                            value: Some(v.eval(it)?.into_any()),
                            ..Default::default()
                        })
                    })
                    .collect::<Result<_, EvalError>>()?,
            ))),
        }
    }
}

impl Converter {
    fn eval<'s>(&'s self, it: &Item<'s>) -> Result<Value<'s>, EvalError> {
        Ok(match self {
            Converter::IsMatch(target, re) => {
                let v = target.eval(it)?;
                Value::Bool(match &v {
                    Value::Nil => false,
                    Value::Str(s) => re.is_match(s),
                    other => re.is_match(&other.as_string()),
                })
            }
            Converter::Concat(vals, delim) => {
                let mut out = String::new();
                for (i, v) in vals.iter().enumerate() {
                    if i > 0 {
                        out.push_str(delim);
                    }
                    match v.eval(it)?.string_like() {
                        Some(s) => out.push_str(&s),
                        None => out.push_str("<nil>"),
                    }
                }
                Value::Str(Cow::Owned(out))
            }
            Converter::Split(target, delim) => match target.eval(it)? {
                Value::Str(s) => {
                    let parts: Vec<AnyValue> = if delim.is_empty() {
                        s.chars()
                            .map(|c| Value::Str(Cow::Owned(c.to_string())).into_any())
                            .collect()
                    } else {
                        s.split(delim.as_str())
                            .map(|p| Value::Str(Cow::Owned(p.to_string())).into_any())
                            .collect()
                    };
                    Value::List(Cow::Owned(parts))
                }
                Value::Nil => Value::Nil,
                other => {
                    return Err(err(format!(
                        "Split expects a string, got {}",
                        other.type_name()
                    )))
                }
            },
            Converter::Int(v) => match v.eval(it)? {
                Value::Int(i) => Value::Int(i),
                Value::Float(f) => Value::Int(f as i64),
                Value::Bool(b) => Value::Int(i64::from(b)),
                Value::Str(s) => s.parse::<i64>().map_or(Value::Nil, Value::Int),
                Value::Nil => Value::Nil,
                other => return Err(err(format!("Int cannot convert a {}", other.type_name()))),
            },
            Converter::Double(v) => match v.eval(it)? {
                Value::Float(f) => Value::Float(f),
                Value::Int(i) => Value::Float(i as f64),
                Value::Bool(b) => Value::Float(if b { 1.0 } else { 0.0 }),
                Value::Str(s) => Value::Float(
                    s.parse::<f64>()
                        .map_err(|_| err(format!("Double cannot parse {s:?}")))?,
                ),
                Value::Nil => Value::Nil,
                other => {
                    return Err(err(format!(
                        "Double cannot convert a {}",
                        other.type_name()
                    )))
                }
            },
            Converter::String(v) => match v.eval(it)?.string_like() {
                Some(s) => Value::Str(Cow::Owned(s.into_owned())),
                None => Value::Nil,
            },
        })
    }
}

/// The writable map behind `path` (attributes, or a map value under keys).
fn map_mut<'m>(
    item: &'m mut ItemMut<'_>,
    path: &PathExpr,
    keys: &[KeyRef<'_>],
) -> Result<&'m mut Vec<KeyValue>, EvalError> {
    let root = root_mut(item, path.field).ok_or_else(|| err("the target is not a map"))?;
    let mut cur: &mut AnyValue = match (root, keys.split_first()) {
        (Root::Attrs(a), None) => return Ok(a),
        (Root::Attrs(a), Some((KeyRef::Str(k), rest))) => {
            let v = a
                .iter_mut()
                .find(|kv| kv.key == **k)
                .and_then(|kv| kv.value.as_mut())
                .ok_or_else(|| err("expected a map, got nil"))?;
            return descend_map(v, rest);
        }
        (Root::Attrs(_), Some(_)) => return Err(err("attributes are indexed by string keys")),
        (Root::Any(v), _) => v,
    };
    cur = descend(cur, keys)?;
    match &mut cur.value {
        Some(any_value::Value::KvlistValue(m)) => Ok(&mut m.values),
        _ => Err(err("the target is not a map")),
    }
}

fn descend_map<'m>(
    v: &'m mut AnyValue,
    keys: &[KeyRef<'_>],
) -> Result<&'m mut Vec<KeyValue>, EvalError> {
    let v = descend(v, keys)?;
    match &mut v.value {
        Some(any_value::Value::KvlistValue(m)) => Ok(&mut m.values),
        _ => Err(err("the target is not a map")),
    }
}

/// Follows existing keys from `v`.
fn descend<'m>(
    mut v: &'m mut AnyValue,
    keys: &[KeyRef<'_>],
) -> Result<&'m mut AnyValue, EvalError> {
    for k in keys {
        v = match (&mut v.value, k) {
            (Some(any_value::Value::KvlistValue(m)), KeyRef::Str(k)) => m
                .values
                .iter_mut()
                .find(|kv| kv.key == **k)
                .and_then(|kv| kv.value.as_mut())
                .ok_or_else(|| err(format!("no key {k:?}")))?,
            (Some(any_value::Value::ArrayValue(a)), KeyRef::Int(i)) => usize::try_from(*i)
                .ok()
                .and_then(|i| a.values.get_mut(i))
                .ok_or_else(|| err(format!("index {i} out of range")))?,
            _ => return Err(err("cannot index this value with that key")),
        };
    }
    Ok(v)
}

/// The slot `path[keys]` for writing: the last key of a map is created when missing.
fn slot_mut<'m>(
    item: &'m mut ItemMut<'_>,
    path: &PathExpr,
    keys: &[KeyRef<'_>],
) -> Result<&'m mut AnyValue, EvalError> {
    let root = root_mut(item, path.field).ok_or_else(|| err("the target cannot be written"))?;
    let (parent, last): (&mut Vec<KeyValue>, &KeyRef<'_>) = match (root, keys.split_last()) {
        (Root::Any(v), None) => return Ok(v),
        (Root::Attrs(_), None) => return Err(err("the target is a map")),
        (Root::Attrs(a), Some((last, []))) => (a, last),
        (Root::Attrs(a), Some((last, init))) => {
            let (first, mid) = init.split_first().ok_or_else(|| err("empty key"))?;
            let KeyRef::Str(fk) = first else {
                return Err(err("attributes are indexed by string keys"));
            };
            let v = a
                .iter_mut()
                .find(|kv| kv.key == **fk)
                .and_then(|kv| kv.value.as_mut())
                .ok_or_else(|| err(format!("no key {fk:?}")))?;
            let v = descend(v, mid)?;
            if matches!(v.value, Some(any_value::Value::ArrayValue(_))) {
                return descend(v, std::slice::from_ref(last));
            }
            match &mut v.value {
                Some(any_value::Value::KvlistValue(m)) => (&mut m.values, last),
                _ => return Err(err("cannot index this value with that key")),
            }
        }
        (Root::Any(v), Some((last, init))) => {
            let v = descend(v, init)?;
            if v.value.is_none() {
                v.value = Some(any_value::Value::KvlistValue(KeyValueList::default()));
            }
            if matches!(v.value, Some(any_value::Value::ArrayValue(_))) {
                return descend(v, std::slice::from_ref(last));
            }
            match &mut v.value {
                Some(any_value::Value::KvlistValue(m)) => (&mut m.values, last),
                _ => return Err(err("cannot index this value with that key")),
            }
        }
    };
    let KeyRef::Str(k) = last else {
        return Err(err("maps are indexed by string keys"));
    };
    let pos = match parent.iter().position(|kv| kv.key == **k) {
        Some(p) => p,
        None => {
            parent.push(KeyValue {
                key: k.to_string(),
                ..Default::default()
            });
            parent.len() - 1
        }
    };
    let kv = &mut parent[pos];
    Ok(kv.value.get_or_insert_with(AnyValue::default))
}

fn resolve_keys<'s>(path: &'s PathExpr, it: &Item<'s>) -> Result<Vec<KeyRef<'s>>, EvalError> {
    path.keys.iter().map(|k| k.resolve(it)).collect()
}

/// Owned keys, so the item can be borrowed mutably afterwards.
fn owned_keys(keys: Vec<KeyRef<'_>>) -> Vec<KeyRef<'static>> {
    keys.into_iter()
        .map(|k| match k {
            KeyRef::Str(s) => KeyRef::Str(Cow::Owned(s.into_owned())),
            KeyRef::Int(i) => KeyRef::Int(i),
        })
        .collect()
}

/// Writes `v` at `path` (whole field, or a keyed slot).
fn set(
    item: &mut ItemMut<'_>,
    path: &PathExpr,
    keys: &[KeyRef<'_>],
    v: Value<'_>,
) -> Result<(), EvalError> {
    if matches!(v, Value::Nil) {
        return Ok(());
    }
    if keys.is_empty() {
        if !write(item, path.field, v) {
            tracing::debug!(field = ?path.field, "OTTL set ignored a value of the wrong type.");
        }
        return Ok(());
    }
    *slot_mut(item, path, keys)? = v.into_any();
    Ok(())
}

fn truncate(s: &mut String, n: usize) {
    if s.len() > n {
        let mut cut = n;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

impl Editor {
    fn exec(&self, item: &mut ItemMut<'_>) -> Result<(), EvalError> {
        match self {
            Editor::Set(path, value) => {
                let (keys, v) = {
                    let view = item.view();
                    (
                        owned_keys(resolve_keys(path, &view)?),
                        into_static(value.eval(&view)?),
                    )
                };
                set(item, path, &keys, v)
            }
            Editor::ReplacePattern(path, re, repl) => {
                let (keys, new) = {
                    let view = item.view();
                    let keys = owned_keys(resolve_keys(path, &view)?);
                    let mut v = read(&view, path.field);
                    for k in &keys {
                        v = index(v, k)?;
                    }
                    let new = match &v {
                        Value::Str(s) => match re.replace_all(s, repl.as_str()) {
                            Cow::Owned(n) => Some(n),
                            Cow::Borrowed(_) => None,
                        },
                        _ => None,
                    };
                    (keys, new)
                };
                match new {
                    Some(n) => set(item, path, &keys, Value::Str(Cow::Owned(n))),
                    None => Ok(()),
                }
            }
            Editor::DeleteKey(path, key) => {
                let (keys, k) = {
                    let view = item.view();
                    let k = match key.eval(&view)? {
                        Value::Str(s) => s.into_owned(),
                        other => {
                            return Err(err(format!(
                                "delete_key needs a string key, got {}",
                                other.type_name()
                            )))
                        }
                    };
                    (owned_keys(resolve_keys(path, &view)?), k)
                };
                map_mut(item, path, &keys)?.retain(|kv| kv.key != k);
                Ok(())
            }
            Editor::MergeMaps(path, source, strategy) => {
                let (keys, src) = {
                    let view = item.view();
                    let src = match source.eval(&view)? {
                        Value::Map(m) => m.into_owned(),
                        other => {
                            return Err(err(format!(
                                "merge_maps needs a map source, got {}",
                                other.type_name()
                            )))
                        }
                    };
                    (owned_keys(resolve_keys(path, &view)?), src)
                };
                let map = map_mut(item, path, &keys)?;
                for kv in src {
                    match map.iter_mut().find(|x| x.key == kv.key) {
                        Some(x) if *strategy != Strategy::Insert => x.value = kv.value,
                        Some(_) => {}
                        None if *strategy != Strategy::Update => map.push(kv),
                        None => {}
                    }
                }
                Ok(())
            }
            _ => {
                let keys = {
                    let view = item.view();
                    owned_keys(resolve_keys(self.path(), &view)?)
                };
                let map = map_mut(item, self.path(), &keys)?;
                self.edit_map(map);
                Ok(())
            }
        }
    }

    fn path(&self) -> &PathExpr {
        match self {
            Editor::Set(p, _)
            | Editor::DeleteKey(p, _)
            | Editor::DeleteMatchingKeys(p, _)
            | Editor::KeepKeys(p, _)
            | Editor::KeepMatchingKeys(p, _)
            | Editor::Limit(p, ..)
            | Editor::TruncateAll(p, _)
            | Editor::ReplacePattern(p, ..)
            | Editor::ReplaceAllPatterns(p, ..)
            | Editor::MergeMaps(p, ..) => p,
        }
    }

    /// The editors that work on a map in place and cannot fail.
    fn edit_map(&self, map: &mut Vec<KeyValue>) {
        match self {
            Editor::DeleteMatchingKeys(_, re) => map.retain(|kv| !re.is_match(&kv.key)),
            Editor::KeepKeys(_, keys) => map.retain(|kv| keys.contains(&kv.key)),
            Editor::KeepMatchingKeys(_, re) => map.retain(|kv| re.is_match(&kv.key)),
            Editor::Limit(_, n, priority) => {
                if map.len() <= *n {
                    return;
                }
                let mut room = n - priority
                    .iter()
                    .filter(|p| map.iter().any(|kv| &kv.key == *p))
                    .count();
                map.retain(|kv| {
                    if priority.contains(&kv.key) {
                        true
                    } else if room > 0 {
                        room -= 1;
                        true
                    } else {
                        false
                    }
                });
            }
            Editor::TruncateAll(_, n) => {
                for kv in map.iter_mut() {
                    if let Some(AnyValue {
                        value: Some(any_value::Value::StringValue(s)),
                    }) = &mut kv.value
                    {
                        truncate(s, *n);
                    }
                }
            }
            Editor::ReplaceAllPatterns(_, keys, re, repl) => {
                for kv in map.iter_mut() {
                    if *keys {
                        if let Cow::Owned(k) = re.replace_all(&kv.key, repl.as_str()) {
                            kv.key = k;
                        }
                    } else if let Some(AnyValue {
                        value: Some(any_value::Value::StringValue(s)),
                    }) = &mut kv.value
                    {
                        if let Cow::Owned(n) = re.replace_all(s, repl.as_str()) {
                            *s = n;
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::Span;

    use super::*;
    use crate::ottl::item::RecMut;

    fn kv(k: &str, v: Value<'static>) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(v.into_any()),
            ..Default::default()
        }
    }

    fn st(x: &str) -> Value<'static> {
        Value::Str(Cow::Owned(x.into()))
    }

    fn fixture() -> (Option<Resource>, Span) {
        let resource = Some(Resource {
            attributes: vec![kv("service.name", st("checkout"))],
            ..Default::default()
        });
        let span = Span {
            name: "GET /health".into(),
            kind: 2,
            trace_id: vec![1; 16],
            attributes: vec![
                kv("http.status_code", Value::Int(200)),
                kv("user.email", st("a@b.c")),
                kv("long", st("héllo wörld")),
                kv("ratio", Value::Float(0.5)),
            ],
            ..Default::default()
        };
        (resource, span)
    }

    const TRACES: Env = Env {
        signal: SignalKind::Traces,
        context: None,
    };

    #[test]
    fn conditions_evaluate() {
        let (resource, span) = fixture();
        let item = Item {
            resource: resource.as_ref(),
            scope: None,
            rec: crate::ottl::Rec::Span(&span),
        };
        for (src, want) in [
            (r#"span.name == "GET /health""#, true),
            (r#"span.kind == SPAN_KIND_SERVER"#, true),
            (
                r#"span.attributes["http.status_code"] >= 200 and span.attributes["http.status_code"] < 300"#,
                true,
            ),
            (r#"span.attributes["http.status_code"] == "200""#, false),
            (r#"span.attributes["missing"] == nil"#, true),
            (r#"not span.attributes["missing"] != nil"#, true),
            (
                r#"resource.attributes["service.name"] == "checkout" or false"#,
                true,
            ),
            (r#"IsMatch(span.name, "^GET ")"#, true),
            (
                r#"IsMatch(span.attributes["http.status_code"], "^2")"#,
                true,
            ),
            (
                r#"span.trace_id == TraceID(0x01010101010101010101010101010101)"#,
                true,
            ),
            (
                r#"span.trace_id.string == "01010101010101010101010101010101""#,
                true,
            ),
            (r#"span.attributes["ratio"] * 2.0 == 1"#, true),
            (r#"Int("12") + 1 == 13 and Int("x") == nil"#, true),
            (
                r#"Concat([span.name, span.kind, nil], "|") == "GET /health|2|<nil>""#,
                true,
            ),
            (r#"Split(span.name, " ")[1] == "/health""#, true),
            (r#"String(span.attributes["ratio"]) == "0.5""#, true),
            (
                r#"span.attributes[Concat(["user", "email"], ".")] == "a@b.c""#,
                true,
            ),
        ] {
            let c = Condition::compile(src, TRACES).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(c.eval(&item), Ok(want), "{src}");
        }
        for src in [
            r#"span.attributes["http.status_code"] + 1.0 == 2"#,
            r#"Double("x") == 1.0"#,
            r#"Split(span.attributes["ratio"], ",") == nil"#,
            r#"Split(span.name, " ")[5] == nil"#,
            r#"span.name["x"] == nil"#,
        ] {
            let compiled = Condition::compile(src, TRACES);
            match compiled {
                Ok(c) => assert!(c.eval(&item).is_err(), "{src} should fail at run time"),
                Err(e) => assert!(src.contains("span.name["), "{src}: {e}"),
            }
        }
    }

    #[test]
    fn compile_errors_table() {
        let span_group = Env {
            signal: SignalKind::Traces,
            context: Some(Context::Span),
        };
        let res_group = Env {
            signal: SignalKind::Traces,
            context: Some(Context::Resource),
        };
        for (src, env, needle) in [
            ("name == 1", TRACES, "must start with a context"),
            ("span.nme == 1", TRACES, "unknown path 'nme'"),
            ("log.body == 1", TRACES, "must start with a context"),
            ("span.kind == SPAN_KIND_NOPE", TRACES, "unknown enum"),
            ("Nope(span.name)", TRACES, "unknown converter Nope"),
            (r#"span.attributes["a"]"#, TRACES, "not a condition"),
            (r#"IsMatch(span.name, "(")"#, TRACES, "invalid regex"),
            (r#"Int(span.name)"#, TRACES, "does not return a boolean"),
            (
                r#"IsMatch(span.name)"#,
                TRACES,
                "missing its argument pattern",
            ),
            ("name == nil", res_group, "unknown path"),
            (
                "span.name == \"x\"",
                res_group,
                "cannot be used in the resource context",
            ),
            (
                "name == \"x\" and resource.attributes == nil",
                span_group,
                "",
            ),
        ] {
            match Condition::compile(src, env) {
                Err(e) => assert!(
                    !needle.is_empty() && e.message.contains(needle),
                    "{src}: {e}"
                ),
                Ok(_) => assert!(needle.is_empty(), "{src} should not compile"),
            }
        }
        for (src, needle) in [
            ("nope(span.name)", "unknown editor nope"),
            ("set(span.name)", "missing its argument value"),
            ("set(\"x\", 1)", "expected a path"),
            (
                "limit(span.attributes, 1, [\"a\", \"b\"])",
                "at least the number",
            ),
            ("truncate_all(span.attributes, -1)", "not be negative"),
            (
                "replace_all_patterns(span.attributes, \"both\", \"a\", \"b\")",
                "mode must be",
            ),
            ("merge_maps(span.attributes, {}, \"replace\")", "strategy"),
            (
                "replace_pattern(span.name, \"a\", \"b\", SHA256)",
                "not supported",
            ),
        ] {
            let e = Statement::compile(src, TRACES).unwrap_err();
            assert!(e.message.contains(needle), "{src}: {e}");
        }
        let src = "set(span.name, 1) where span.nme == 1";
        let e = Statement::compile(src, TRACES).unwrap_err();
        assert_eq!(e.column(src), 25);
    }

    fn run(stmts: &[&str], resource: &mut Option<Resource>, span: &mut Span) {
        for src in stmts {
            let s = Statement::compile(src, TRACES).unwrap_or_else(|e| panic!("{src}: {e}"));
            let mut scope = None;
            let mut item = ItemMut {
                resource,
                scope: &mut scope,
                rec: RecMut::Span(span),
            };
            s.exec(&mut item).unwrap_or_else(|e| panic!("{src}: {e}"));
        }
    }

    fn attr<'a>(span: &'a Span, k: &str) -> Option<Value<'a>> {
        span.attributes
            .iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.as_ref())
            .map(Value::from_any)
    }

    #[test]
    fn editors_edit() {
        let (mut res, mut span) = fixture();
        run(
            &[
                r#"set(span.attributes["env"], "prod") where span.kind == SPAN_KIND_SERVER"#,
                r#"set(span.name, "never") where span.kind == SPAN_KIND_CLIENT"#,
                r#"set(span.name, 42)"#,
                r#"set(span.status.code, STATUS_CODE_ERROR)"#,
                r#"set(span.attributes["nested"], {"a": {"b": 1}})"#,
                r#"set(span.attributes["nested"]["a"]["c"], [1, 2])"#,
                r#"set(span.attributes["nil"], nil)"#,
                r#"replace_pattern(span.attributes["user.email"], "^[^@]+@", "***@")"#,
                r#"truncate_all(span.attributes, 4)"#,
                r#"set(resource.attributes["region"], Concat(["eu", "west"], "-"))"#,
            ],
            &mut res,
            &mut span,
        );
        assert_eq!(span.name, "GET /health", "a wrongly typed set is ignored");
        assert_eq!(attr(&span, "env"), Some(st("prod")));
        assert_eq!(span.status.as_ref().map(|s| s.code), Some(2));
        assert_eq!(attr(&span, "user.email"), Some(st("***@")));
        assert_eq!(
            attr(&span, "long"),
            Some(st("hél")),
            "cut on a char boundary"
        );
        assert_eq!(attr(&span, "nil"), None);
        let nested =
            Condition::compile(r#"span.attributes["nested"]["a"]["c"][1] == 2"#, TRACES).unwrap();
        let item = Item {
            resource: res.as_ref(),
            scope: None,
            rec: crate::ottl::Rec::Span(&span),
        };
        assert_eq!(nested.eval(&item), Ok(true));
        let region = res
            .as_ref()
            .map(|r| r.attributes.last().map(|kv| kv.key.clone()));
        assert_eq!(region, Some(Some("region".into())));

        let (mut res, mut span) = fixture();
        run(
            &[r#"keep_keys(span.attributes, ["ratio", "long"])"#],
            &mut res,
            &mut span,
        );
        let keys: Vec<_> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["long", "ratio"]);

        let (mut res, mut span) = fixture();
        run(
            &[r#"limit(span.attributes, 2, ["ratio"])"#],
            &mut res,
            &mut span,
        );
        let keys: Vec<_> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["http.status_code", "ratio"]);

        let (mut res, mut span) = fixture();
        run(
            &[
                r#"delete_matching_keys(span.attributes, "^http")"#,
                r#"delete_key(span.attributes, "ratio")"#,
                r#"replace_all_patterns(span.attributes, "key", "\\.", "_")"#,
                r#"replace_all_patterns(span.attributes, "value", "o", "0")"#,
                r#"merge_maps(span.attributes, {"long": "x", "new": 1}, "insert")"#,
            ],
            &mut res,
            &mut span,
        );
        let keys: Vec<_> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["user_email", "long", "new"]);
        assert_eq!(attr(&span, "long"), Some(st("héll0 wörld")));
    }

    #[test]
    fn run_time_errors_are_returned() {
        let (mut res, mut span) = fixture();
        let s = Statement::compile(r#"delete_key(span.attributes["ratio"], "x")"#, TRACES).unwrap();
        let mut scope = None;
        let mut item = ItemMut {
            resource: &mut res,
            scope: &mut scope,
            rec: RecMut::Span(&mut span),
        };
        assert!(s.exec(&mut item).is_err());
    }
}
