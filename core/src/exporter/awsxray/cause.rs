//! `cause.exceptions[]` from OpenTelemetry `exception` events: stack traces are
//! parsed per `telemetry.sdk.language` (Java, Python, JavaScript, .NET, PHP, Go)
//! into X-Ray stack frames; Java `Caused by:` and Python chained tracebacks become
//! linked exceptions.

use std::borrow::Cow;

use super::json::JsonOut;
use super::translate::IdGen;

/// One X-Ray exception.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception<'a> {
    pub id: u64,
    pub kind: Cow<'a, str>,
    pub message: Option<Cow<'a, str>>,
    pub remote: Option<bool>,
    /// ID of the exception that caused this one.
    pub cause: Option<u64>,
    /// `None`: no stack written; `Some(empty)` is omitted too (Go `omitempty`).
    pub stack: Vec<Frame<'a>>,
    /// Frames removed to fit the document size limit.
    pub truncated: usize,
}

/// One stack frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<'a> {
    pub path: &'a str,
    pub line: i64,
    pub label: &'a str,
}

impl<'a> Exception<'a> {
    pub fn new(id: u64, kind: &'a str) -> Self {
        Exception {
            id,
            kind: Cow::Borrowed(kind),
            message: None,
            remote: None,
            cause: None,
            stack: Vec::new(),
            truncated: 0,
        }
    }

    /// Writes the exception; at most `max_frames` frames (the rest are counted in
    /// `truncated`).
    pub(crate) fn write(&self, w: &mut JsonOut<'_>, max_frames: usize) {
        w.begin_obj();
        w.key("id");
        w.hex_id(self.id);
        if let Some(m) = &self.message {
            w.key_str("message", m);
        }
        w.key_str("type", &self.kind);
        if let Some(r) = self.remote {
            w.key("remote");
            w.bool(r);
        }
        let kept = self.stack.len().min(max_frames);
        let truncated = self.truncated + (self.stack.len() - kept);
        if truncated > 0 {
            w.key("truncated");
            w.int(truncated as i64);
        }
        if let Some(c) = self.cause {
            w.key("cause");
            w.hex_id(c);
        }
        if kept > 0 {
            w.key("stack");
            w.begin_arr();
            for f in &self.stack[..kept] {
                w.begin_obj();
                w.key_str("path", f.path);
                w.key("line");
                w.int(f.line);
                w.key_str("label", f.label);
                w.end_obj();
            }
            w.end_arr();
        }
        w.end_obj();
    }
}

/// The exceptions of one `exception` event: the top one, then any it was caused by.
pub fn parse_exception<'a>(
    kind: &'a str,
    message: &'a str,
    stacktrace: &'a str,
    remote: bool,
    language: &str,
    ids: &mut IdGen,
) -> Vec<Exception<'a>> {
    let mut top = Exception::new(ids.next_id(), kind);
    top.remote = Some(remote);
    if !message.is_empty() {
        top.message = Some(Cow::Borrowed(message));
    }
    let mut out = vec![top];
    if stacktrace.is_empty() {
        return out;
    }
    match language {
        "java" | "php" => fill_java(stacktrace, &mut out, ids),
        "python" => fill_python(stacktrace, &mut out, ids),
        "javascript" | "nodejs" => fill_javascript(stacktrace, &mut out),
        "dotnet" => fill_dotnet(stacktrace, &mut out),
        "go" => fill_go(stacktrace, &mut out),
        _ => {}
    }
    out
}

/// Appends a chained cause exception and links the previous one to it.
fn push_cause<'a>(
    out: &mut Vec<Exception<'a>>,
    ids: &mut IdGen,
    kind: &'a str,
    message: Cow<'a, str>,
) {
    let id = ids.next_id();
    if let Some(last) = out.last_mut() {
        last.cause = Some(id);
    }
    let mut e = Exception::new(id, kind);
    e.message = Some(message);
    out.push(e);
}

fn lines(s: &str) -> impl Iterator<Item = &str> {
    s.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// `\tat pkg.Class.method(File.java:12)`; `Caused by: Type: message`.
fn fill_java<'a>(st: &'a str, out: &mut Vec<Exception<'a>>, ids: &mut IdGen) {
    let mut it = lines(st).skip(1).peekable();
    while let Some(line) = it.next() {
        if let Some(frame) = line.strip_prefix("\tat ") {
            let (Some(open), true) = (frame.find('('), frame.ends_with(')')) else {
                continue;
            };
            let mut label = &frame[..open];
            if let Some(slash) = label.find('/') {
                // Class loader or module prefix.
                label = &label[slash + 1..];
            }
            let inner = &frame[open + 1..frame.len() - 1];
            let (path, line_no) = match inner.find(':') {
                Some(c) => (&inner[..c], inner[c + 1..].parse().unwrap_or(0)),
                None => (inner, 0),
            };
            if let Some(e) = out.last_mut() {
                e.stack.push(Frame {
                    path,
                    line: line_no,
                    label,
                });
            }
        } else if let Some(rest) = line.strip_prefix("Caused by: ") {
            let (kind, first) = match rest.find(':') {
                Some(c) => (&rest[..c], rest[c + 1..].trim_start()),
                None => (rest, ""),
            };
            // The message may span lines, up to the first frame.
            let mut message = Cow::Borrowed(first);
            while let Some(next) = it.peek() {
                if is_java_frame(next) || next.starts_with("Caused by: ") {
                    break;
                }
                let next = it.next().unwrap_or_default();
                message.to_mut().push_str(next);
            }
            push_cause(out, ids, kind, message);
        }
    }
}

fn is_java_frame(line: &str) -> bool {
    line.starts_with("\tat ") && line.contains('(') && line.ends_with(')')
}

/// Python tracebacks, read bottom-up (most recent call first), following
/// "During handling…" / "The above exception was the direct cause…" chains.
fn fill_python<'a>(st: &'a str, out: &mut Vec<Exception<'a>>, ids: &mut IdGen) {
    let all: Vec<&str> = lines(st).collect();
    let mut idx = all.len();
    // Skip the trailing empty line and the final "Type: message" line(s).
    while idx > 0 && !all[idx - 1].starts_with("  File ") && !is_python_chain(all[idx - 1]) {
        idx -= 1;
    }
    while idx > 0 {
        idx -= 1;
        let line = all[idx];
        if let Some(rest) = line.strip_prefix("  File ") {
            let parts: Vec<&str> = rest.splitn(3, ',').collect();
            if parts.len() == 3 {
                let path = parts[0].trim_matches('"');
                let line_no = parts[1]
                    .strip_prefix(" line ")
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
                let label = parts[2].strip_prefix(" in ").unwrap_or("");
                if let Some(e) = out.last_mut() {
                    e.stack.push(Frame {
                        path,
                        line: line_no,
                        label,
                    });
                }
            }
        } else if is_python_chain(line) {
            // Above: a blank line, the cause's "Type: message" line(s), its frames.
            let end = idx.saturating_sub(1);
            let mut start = end;
            while start > 0 {
                let l = all[start - 1];
                if l.starts_with("    ") || l.starts_with("  File ") || l.starts_with("Traceback") {
                    break;
                }
                start -= 1;
            }
            if start < end {
                let first = all[start];
                let (kind, msg) = match first.find(':') {
                    Some(c) => (&first[..c], first[c + 1..].trim_start()),
                    None => (first, ""),
                };
                let mut message = Cow::Borrowed(msg);
                for l in &all[start + 1..end] {
                    if !l.is_empty() {
                        message.to_mut().push('\n');
                        message.to_mut().push_str(l);
                    }
                }
                push_cause(out, ids, kind, message);
            }
            idx = start;
        }
    }
}

fn is_python_chain(line: &str) -> bool {
    line.starts_with("During handling of the above exception, another exception occurred:")
        || line.starts_with("The above exception was the direct cause of the following exception:")
}

/// `    at fn (/path/file.js:10:5)` or `    at /path/file.js:10:5`.
fn fill_javascript<'a>(st: &'a str, out: &mut [Exception<'a>]) {
    for line in lines(st).skip(1) {
        let Some(frame) = line.trim_start().strip_prefix("at ") else {
            continue;
        };
        let (label, mut path) = match frame.find('(') {
            Some(open) if frame.ends_with(')') => {
                (frame[..open].trim_end(), &frame[open + 1..frame.len() - 1])
            }
            Some(_) => continue,
            None => ("", frame),
        };
        let mut line_no = 0;
        // path:line:column (the path itself may contain ':', as in file:///).
        if let Some((rest, col)) = path.rsplit_once(':') {
            if col.chars().all(|c| c.is_ascii_digit()) {
                if let Some((p, l)) = rest.rsplit_once(':') {
                    if let Ok(n) = l.parse() {
                        line_no = n;
                        path = p;
                    }
                }
            }
        } else if path.contains("native") {
            path = "native";
        }
        if !label.is_empty() || !path.is_empty() || line_no != 0 {
            if let Some(e) = out.last_mut() {
                e.stack.push(Frame {
                    path,
                    line: line_no,
                    label,
                });
            }
        }
    }
}

/// `   at Ns.Class.Method(args) in C:\src\File.cs:line 42`.
fn fill_dotnet<'a>(st: &'a str, out: &mut [Exception<'a>]) {
    for line in lines(st).skip(1) {
        let Some(frame) = line.trim_start().strip_prefix("at ") else {
            continue;
        };
        let (label, path, line_no) = match frame.rsplit_once(" in ") {
            Some((label, loc)) => match loc.rsplit_once(":line ") {
                Some((p, n)) => (label, p, n.trim().parse().unwrap_or(0)),
                None => (label, loc, 0),
            },
            None => (frame, "", 0),
        };
        if let Some(e) = out.last_mut() {
            e.stack.push(Frame {
                path,
                line: line_no,
                label,
            });
        }
    }
}

/// `panic: msg`, `goroutine 1 [running]:`, then pairs of `pkg.fn(...)` and
/// `\t/path/file.go:12 +0x1d`.
fn fill_go<'a>(st: &'a str, out: &mut [Exception<'a>]) {
    let mut it = lines(st)
        .skip(1)
        .filter(|l| !(l.trim().is_empty() || l.starts_with("goroutine ") && l.ends_with(':')));
    while let Some(label) = it.next() {
        let loc = it.next().unwrap_or("");
        let loc = loc.trim();
        let loc = loc.split_whitespace().next().unwrap_or("");
        let (path, line_no) = match loc.rsplit_once(':') {
            Some((p, n)) => (p, n.parse().unwrap_or(0)),
            None => (loc, 0),
        };
        if let Some(e) = out.last_mut() {
            e.stack.push(Frame {
                path,
                line: line_no,
                label,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(e: &Exception<'_>) -> Vec<(String, i64, String)> {
        e.stack
            .iter()
            .map(|f| (f.path.to_string(), f.line, f.label.to_string()))
            .collect()
    }

    #[test]
    fn java_with_cause_and_module_prefix() {
        let st = "java.lang.IllegalStateException: outer\n\
\tat java.base/java.util.Foo.bar(Foo.java:12)\n\
\tat com.ex.App.main(App.java:5)\n\
Caused by: java.io.IOException: disk\n  full\n\
\tat com.ex.Io.read(Io.java:99)\n\
\tat com.ex.Native.call(Native Method)\n\
\t... 3 more\n";
        let mut ids = IdGen::sequential();
        let ex = parse_exception(
            "java.lang.IllegalStateException",
            "outer",
            st,
            false,
            "java",
            &mut ids,
        );
        assert_eq!(ex.len(), 2);
        assert_eq!(
            frames(&ex[0]),
            vec![
                ("Foo.java".into(), 12, "java.util.Foo.bar".into()),
                ("App.java".into(), 5, "com.ex.App.main".into())
            ]
        );
        assert_eq!(ex[0].cause, Some(ex[1].id));
        assert_eq!(ex[1].kind, "java.io.IOException");
        assert_eq!(ex[1].message.as_deref(), Some("disk  full"));
        assert_eq!(
            frames(&ex[1]),
            vec![
                ("Io.java".into(), 99, "com.ex.Io.read".into()),
                ("Native Method".into(), 0, "com.ex.Native.call".into())
            ]
        );
    }

    #[test]
    fn python_reversed_with_chain() {
        let st = "Traceback (most recent call last):\n  File \"/app/a.py\", line 3, in <module>\n    foo()\n  File \"/app/a.py\", line 2, in foo\n    raise ValueError(\"bad\")\nValueError: bad\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/app/b.py\", line 7, in handler\n    x[1]\nKeyError: 'x'\n";
        let mut ids = IdGen::sequential();
        let ex = parse_exception("KeyError", "'x'", st, true, "python", &mut ids);
        assert_eq!(ex.len(), 2);
        assert_eq!(
            frames(&ex[0]),
            vec![("/app/b.py".into(), 7, "handler".into())]
        );
        assert_eq!(ex[1].kind, "ValueError");
        assert_eq!(ex[1].message.as_deref(), Some("bad"));
        assert_eq!(
            frames(&ex[1]),
            vec![
                ("/app/a.py".into(), 2, "foo".into()),
                ("/app/a.py".into(), 3, "<module>".into())
            ]
        );
        assert_eq!(ex[0].remote, Some(true));
    }

    #[test]
    fn javascript_frames() {
        let st = "Error: boom\n    at handler (/var/task/index.js:10:15)\n    at file:///app/m.mjs:3:7\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n    at new Promise (<anonymous>)\n";
        let mut ids = IdGen::sequential();
        let ex = parse_exception("Error", "boom", st, false, "javascript", &mut ids);
        assert_eq!(
            frames(&ex[0]),
            vec![
                ("/var/task/index.js".into(), 10, "handler".into()),
                ("file:///app/m.mjs".into(), 3, "".into()),
                (
                    "node:internal/process/task_queues".into(),
                    95,
                    "process.processTicksAndRejections".into()
                ),
                ("<anonymous>".into(), 0, "new Promise".into()),
            ]
        );
    }

    #[test]
    fn go_panic() {
        let st = "panic: boom\n\ngoroutine 1 [running]:\nmain.handler(0x1)\n\t/app/main.go:12 +0x1d\nmain.main()\n\t/app/main.go:20 +0x25\n";
        let mut ids = IdGen::sequential();
        let ex = parse_exception("*errors.errorString", "boom", st, false, "go", &mut ids);
        assert_eq!(
            frames(&ex[0]),
            vec![
                ("/app/main.go".into(), 12, "main.handler(0x1)".into()),
                ("/app/main.go".into(), 20, "main.main()".into())
            ]
        );
    }

    #[test]
    fn dotnet_and_unknown_language() {
        let st = "System.Exception: bad\n   at App.Program.Main(String[] args) in C:\\src\\Program.cs:line 42\n   at App.X.Y()\n";
        let mut ids = IdGen::sequential();
        let ex = parse_exception("System.Exception", "bad", st, false, "dotnet", &mut ids);
        assert_eq!(
            frames(&ex[0]),
            vec![
                (
                    "C:\\src\\Program.cs".into(),
                    42,
                    "App.Program.Main(String[] args)".into()
                ),
                ("".into(), 0, "App.X.Y()".into())
            ]
        );
        let ex = parse_exception("E", "", st, false, "cobol", &mut ids);
        assert!(ex[0].stack.is_empty());
        assert!(ex[0].message.is_none());
    }
}
