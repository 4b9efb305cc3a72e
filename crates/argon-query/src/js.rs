//! Server-side JavaScript: `$where`, `$function` and `$accumulator`, run
//! on QuickJS (through `rquickjs`).
//!
//! Each thread that runs JavaScript has its own runtime (64 MiB of memory
//! at most), with functions compiled once per source text. Values cross
//! as relaxed Extended JSON: documents, arrays, strings, numbers, booleans
//! and null as themselves, dates as JavaScript `Date`s, other BSON types
//! (ObjectId, Decimal128, binary, ...) as their Extended JSON objects
//! (`{$oid: "..."}`), which turn back into those types when a function
//! returns them. Numbers come back as doubles unless they are whole and
//! fit an int32 or int64, as in MongoDB's shell.
//!
//! A long script is stopped the way a long query is: the check installed
//! with [`set_interrupt_check`] (the server's `killOp`/`maxTimeMS` check)
//! runs while the script runs, and between the slices of mongod's
//! `sleep(ms)`, which scripts have too.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bson::{Bson, Document};
use rquickjs::context::EvalOptions;
use rquickjs::function::Args;
use rquickjs::{CatchResultExt, Context, Function, Persistent, Runtime, Value};

use crate::error::{codes, err, QueryError, Result};

/// The error a script's failure (an exception, a syntax error, running out
/// of memory) reports: 139 JSInterpreterFailure, as MongoDB.
fn failure(message: impl std::fmt::Display) -> QueryError {
    QueryError::new(codes::JS_INTERPRETER_FAILURE, format!("JavaScript execution failed: {message}"))
}

/// Asked while a script runs; an error stops it and is what the call returns.
pub type InterruptCheck = fn() -> Option<QueryError>;

static INTERRUPT: OnceLock<InterruptCheck> = OnceLock::new();

/// Installs the check that can stop a running script (once per process).
pub fn set_interrupt_check(check: InterruptCheck) {
    let _ = INTERRUPT.set(check);
}

/// JavaScript source of one function, compiled on first use per thread.
#[derive(Clone, Debug, PartialEq)]
pub struct JsFunction {
    source: Arc<str>,
}

impl JsFunction {
    /// A function given as a string or BSON code: `function (...) {...}`
    /// (or an arrow function). `what` names the field for errors.
    pub fn parse(code: &Bson, what: &str) -> Result<JsFunction> {
        let text = match code {
            Bson::String(s) => s.as_str(),
            Bson::JavaScriptCode(s) => s.as_str(),
            Bson::JavaScriptCodeWithScope(_) => {
                return err(
                    codes::BAD_VALUE,
                    format!("{what}: code with scope is not supported, use a plain function"),
                )
            }
            other => {
                return err(
                    codes::TYPE_MISMATCH,
                    format!("{what} must be a string or JavaScript code, not {other}"),
                )
            }
        };
        Ok(JsFunction { source: format!("({text})").into() })
    }

    /// A function that sees `scope`'s fields as variables (`mapReduce`'s
    /// `scope`); without one, [`JsFunction::parse`].
    pub fn parse_scoped(code: &Bson, what: &str, scope: Option<&Document>) -> Result<JsFunction> {
        let plain = Self::parse(code, what)?;
        let Some(scope) = scope.filter(|s| !s.is_empty()) else { return Ok(plain) };
        Ok(JsFunction {
            source: format!("(function() {{ {} return {}; }})()", scope_vars(scope)?, plain.source).into(),
        })
    }

    /// `mapReduce`'s `map`: a function of `this` that calls `emit(key,
    /// value)`; see [`JsFunction::emits`].
    pub fn parse_map(code: &Bson, scope: Option<&Document>) -> Result<JsFunction> {
        let map = Self::parse(code, "map")?;
        let vars = match scope {
            Some(s) => scope_vars(s)?,
            None => String::new(),
        };
        Ok(JsFunction {
            source: format!(
                "(function() {{ {vars} var __map = {}; return function() {{ var __out = []; var __prev = globalThis.emit; \
                 globalThis.emit = function(k, v) {{ __out.push({{k: k, v: v}}); }}; \
                 try {{ __map.call(this); }} finally {{ globalThis.emit = __prev; }} return __out; }}; }})()",
                map.source
            )
            .into(),
        })
    }

    /// Runs a [`JsFunction::parse_map`] function on `doc`: the (key, value)
    /// pairs it emitted, in order (a missing value is null).
    pub fn emits(&self, doc: &Document) -> Result<Vec<(Bson, Bson)>> {
        let Some(Bson::Array(pairs)) = self.call(Some(doc), &[])? else { return Ok(vec![]) };
        Ok(pairs
            .into_iter()
            .filter_map(|p| match p {
                Bson::Document(mut d) => {
                    Some((d.remove("k").unwrap_or(Bson::Null), d.remove("v").unwrap_or(Bson::Null)))
                }
                _ => None,
            })
            .collect())
    }

    /// `$where`'s argument: a function, or an expression over `this`
    /// (`"this.a > this.b"`), as MongoDB accepts.
    pub fn parse_where(code: &Bson) -> Result<JsFunction> {
        let text = match code {
            Bson::String(s) | Bson::JavaScriptCode(s) => s.trim(),
            Bson::JavaScriptCodeWithScope(_) => {
                return err(codes::BAD_VALUE, "$where no longer supports code with scope")
            }
            _ => return err(codes::BAD_VALUE, "$where got bad type"),
        };
        let one_function = text.ends_with('}') && (text.starts_with("function") || text.starts_with('('));
        if one_function {
            return Self::parse(code, "$where");
        }
        // Statements with their own `return`, or one expression.
        let body = if text.contains("return") { text.to_string() } else { format!("return ({text});") };
        Ok(JsFunction { source: format!("(function() {{ var obj = this; {body} }})").into() })
    }

    /// Calls the function with `this` bound to `this` (a document, or
    /// undefined) and `args`; returns its result, `None` for `undefined`.
    pub fn call(&self, this: Option<&Document>, args: &[Bson]) -> Result<Option<Bson>> {
        ENGINE.with(|engine| {
            let mut engine = engine.borrow_mut();
            if engine.is_none() {
                *engine = Some(Engine::new()?);
            }
            engine.as_mut().expect("made above").call(&self.source, this, args)
        })
    }

    /// Whether `this` (a document) makes the function return a truthy value.
    pub fn test(&self, this: &Document) -> Result<bool> {
        Ok(crate::expr::truthy(&self.call(Some(this), &[])?))
    }
}

/// `var name = <value>;` for each field of `scope`.
fn scope_vars(scope: &Document) -> Result<String> {
    let mut out = String::new();
    for (name, value) in scope {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if !valid {
            return err(codes::BAD_VALUE, format!("scope: '{name}' is not a JavaScript variable name"));
        }
        let json = value.clone().into_relaxed_extjson().to_string();
        // A JSON string is a JavaScript string literal.
        let literal = serde_json::to_string(&json).map_err(failure)?;
        out.push_str(&format!("var {name} = __argonIn({literal}); "));
    }
    Ok(out)
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// Why a `sleep` of the running call stopped early (the interrupt
    /// check's error), taken by the call.
    static SLEEP_STOPPED: RefCell<Option<QueryError>> = const { RefCell::new(None) };
}

/// `sleep(ms)`'s Rust half: waits in slices of at most 10 ms, asking the
/// interrupt check between them; false (and the check's error kept for
/// the call) when it fires. At most a minute.
fn sleep_checked(ms: f64) -> bool {
    let until =
        std::time::Instant::now() + std::time::Duration::from_secs_f64(ms.clamp(0.0, 60_000.0) / 1000.0);
    loop {
        if let Some(e) = INTERRUPT.get().and_then(|check| check()) {
            SLEEP_STOPPED.with(|s| *s.borrow_mut() = Some(e));
            return false;
        }
        let now = std::time::Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(std::time::Duration::from_millis(10)));
    }
}

/// Converts values in and out of the runtime (see the module's doc), and
/// a few helpers of MongoDB's JavaScript environment.
const PRELUDE: &str = r#"
// Helpers MongoDB's server-side JavaScript offers (mapReduce examples use them).
Array.sum = function (a) { var s = 0; for (var i = 0; i < a.length; i++) s += a[i]; return s; };
Array.avg = function (a) { return a.length ? Array.sum(a) / a.length : undefined; };
Array.contains = function (a, x) { return a.indexOf(x) >= 0; };
globalThis.print = function () {};
// mongod's sleep(ms): waits, unless the operation is stopped meanwhile.
globalThis.sleep = function (ms) {
  if (!__argonSleep(Number(ms) || 0)) throw new Error('interrupted while sleeping');
};
globalThis.__argonIn = function (json) {
  return JSON.parse(json, function (k, v) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      var keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$date') {
        var d = v.$date;
        return new Date(typeof d === 'string' ? d : Number(d.$numberLong));
      }
    }
    return v;
  });
};
globalThis.__argonOut = function (value) {
  return JSON.stringify([value], function (k, v) {
    var raw = this[k];
    if (raw instanceof Date) return { $date: { $numberLong: String(raw.getTime()) } };
    if (typeof raw === 'number' && !isFinite(raw)) return { $numberDouble: String(raw) };
    if (typeof raw === 'bigint') return { $numberLong: raw.toString() };
    return v;
  });
};
"#;

/// Compiled functions kept per thread.
const MAX_CACHED_FUNCTIONS: usize = 256;

struct Engine {
    // Declared first so the functions are dropped before their runtime.
    functions: HashMap<Arc<str>, Persistent<Function<'static>>>,
    helpers: Option<(Persistent<Function<'static>>, Persistent<Function<'static>>)>,
    context: Context,
    runtime: Runtime,
}

impl Engine {
    fn new() -> Result<Engine> {
        let runtime = Runtime::new().map_err(failure)?;
        runtime.set_memory_limit(64 << 20);
        runtime.set_max_stack_size(1 << 20);
        let context = Context::full(&runtime).map_err(failure)?;
        let mut engine = Engine { functions: HashMap::new(), helpers: None, context, runtime };
        let helpers = engine.context.with(|ctx| -> rquickjs::Result<_> {
            ctx.globals().set("__argonSleep", Function::new(ctx.clone(), sleep_checked)?)?;
            ctx.eval::<(), _>(PRELUDE)?;
            let g = ctx.globals();
            let input: Function = g.get("__argonIn")?;
            let output: Function = g.get("__argonOut")?;
            Ok((Persistent::save(&ctx, input), Persistent::save(&ctx, output)))
        });
        engine.helpers = Some(helpers.map_err(failure)?);
        Ok(engine)
    }

    fn call(&mut self, source: &Arc<str>, this: Option<&Document>, args: &[Bson]) -> Result<Option<Bson>> {
        // The interrupt handler: the server's check, its error kept if it
        // fires (installed for this call: what it checks is the caller's).
        let stopped: std::rc::Rc<RefCell<Option<QueryError>>> = Default::default();
        self.runtime.set_interrupt_handler(INTERRUPT.get().map(|check| {
            let check = *check;
            let stopped = stopped.clone();
            Box::new(move || match check() {
                Some(e) => {
                    *stopped.borrow_mut() = Some(e);
                    true
                }
                None => false,
            }) as Box<dyn FnMut() -> bool>
        }));
        let (input, output) = self.helpers.clone().expect("made in new");
        let compiled = self.functions.get(source).cloned();
        let result = self.context.with(
            |ctx| -> std::result::Result<(Option<String>, Option<Persistent<Function<'static>>>), String> {
                let catch = |e: rquickjs::CaughtError| e.to_string();
                let (function, fresh) = match compiled {
                    Some(f) => (f.restore(&ctx).map_err(|e| e.to_string())?, None),
                    None => {
                        // Sloppy mode, as mongod's engine: user code may assign
                        // undeclared variables (`for (p in path)`).
                        let mut sloppy = EvalOptions::default();
                        sloppy.strict = false;
                        let f: Function =
                            ctx.eval_with_options(source.to_string(), sloppy).catch(&ctx).map_err(catch)?;
                        let saved = Persistent::save(&ctx, f.clone());
                        (f, Some(saved))
                    }
                };
                let input = input.restore(&ctx).map_err(|e| e.to_string())?;
                let output = output.restore(&ctx).map_err(|e| e.to_string())?;
                let to_js = |v: Bson| -> std::result::Result<Value, String> {
                    let json = v.into_relaxed_extjson().to_string();
                    input.call::<_, Value>((json,)).catch(&ctx).map_err(catch)
                };
                let mut call_args = Args::new(ctx.clone(), args.len());
                match this {
                    Some(d) => {
                        call_args.this(to_js(Bson::Document(d.clone()))?).map_err(|e| e.to_string())?
                    }
                    None => call_args.this(Value::new_undefined(ctx.clone())).map_err(|e| e.to_string())?,
                }
                for a in args {
                    call_args.push_arg(to_js(a.clone())?).map_err(|e| e.to_string())?;
                }
                let value: Value = function.call_arg(call_args).catch(&ctx).map_err(catch)?;
                if value.is_undefined() {
                    return Ok((None, fresh));
                }
                let json: Option<String> = output.call((value,)).catch(&ctx).map_err(catch)?;
                Ok((json, fresh))
            },
        );
        self.runtime.set_interrupt_handler(None);
        // (Taken every time, so none is left for the next call.)
        let slept = SLEEP_STOPPED.with(|s| s.borrow_mut().take());
        if let Some(e) = stopped.borrow_mut().take().or(slept) {
            return Err(e);
        }
        let (json, fresh) = result.map_err(failure)?;
        if let Some(f) = fresh {
            // Bounded: sources that embed values (a `scope`) vary per call.
            if self.functions.len() >= MAX_CACHED_FUNCTIONS {
                self.functions.clear();
            }
            self.functions.insert(source.clone(), f);
        }
        let Some(json) = json else { return Ok(None) };
        // `[value]`: the result wrapped, so a top-level undefined inside
        // stays distinguishable from null.
        let parsed: serde_json::Value = serde_json::from_str(&json).map_err(failure)?;
        let value = match parsed {
            serde_json::Value::Array(mut a) if a.len() == 1 => a.pop().expect("one"),
            other => other,
        };
        Bson::try_from(value).map(Some).map_err(|e| failure(format!("cannot convert the result: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId};

    #[test]
    fn where_takes_an_expression_or_a_function_over_the_document() {
        let d = doc! { "a": 3, "b": 2, "name": "x" };
        for code in [
            "this.a > this.b",
            "obj.a > 2",
            "function() { return this.name === 'x'; }",
            "var s = this.a + this.b; return s == 5;",
            "function big(n) { return n > 2; } return big(this.a);",
        ] {
            assert!(JsFunction::parse_where(&Bson::String(code.into())).unwrap().test(&d).unwrap(), "{code}");
        }
        let no = JsFunction::parse_where(&Bson::JavaScriptCode("this.a < this.b".into())).unwrap();
        assert!(!no.test(&d).unwrap());
        let filter = crate::Filter::parse(&doc! { "b": 2, "$where": "this.a * 2 == 6" }).unwrap();
        assert!(filter.try_matches(&d).unwrap());
        assert!(!filter.try_matches(&doc! { "a": 1, "b": 2 }).unwrap());
        assert_eq!(crate::Filter::parse(&doc! { "a": { "$where": "true" } }).unwrap_err().code, 2);
    }

    #[test]
    fn values_cross_both_ways_with_their_types() {
        let id = ObjectId::new();
        let when = bson::DateTime::from_millis(1_700_000_000_123);
        let echo = JsFunction::parse(&Bson::String("function (x) { return x; }".into()), "f").unwrap();
        let d = doc! {
            "id": id, "when": when, "n": 5, "big": 1i64 << 40, "f": 1.5, "s": "t", "arr": [1, "a", null],
            "nested": { "dec": bson::Decimal128::from_bytes([1; 16]) }, "nan": f64::NAN,
        };
        let back = echo.call(None, &[Bson::Document(d.clone())]).unwrap().unwrap();
        let back = back.as_document().unwrap();
        assert_eq!(back.get_object_id("id").unwrap(), id);
        assert_eq!(back.get_datetime("when").unwrap(), &when);
        assert_eq!(back.get("n"), Some(&Bson::Int32(5)));
        assert_eq!(back.get("big"), Some(&Bson::Int64(1 << 40)));
        assert_eq!(back.get("f"), Some(&Bson::Double(1.5)));
        assert_eq!(back.get("arr"), d.get("arr"));
        assert_eq!(back.get("nested"), d.get("nested"));
        assert!(back.get_f64("nan").unwrap().is_nan());
        // Dates are Dates inside, numbers are numbers.
        let f = JsFunction::parse(
            &Bson::String("function (d, n) { return [d.getUTCFullYear(), n + 1, typeof n]; }".into()),
            "f",
        )
        .unwrap();
        assert_eq!(
            f.call(None, &[Bson::DateTime(when), Bson::Int32(41)]).unwrap(),
            Some(bson::bson!([2023, 42, "number"]))
        );
        // undefined is missing; null is null.
        let undef = JsFunction::parse(&Bson::String("function () {}".into()), "f").unwrap();
        assert_eq!(undef.call(None, &[]).unwrap(), None);
        let null = JsFunction::parse(&Bson::String("() => null".into()), "f").unwrap();
        assert_eq!(null.call(None, &[]).unwrap(), Some(Bson::Null));
    }

    #[test]
    fn code_runs_in_sloppy_mode_as_in_mongod() {
        // mongoengine's item_frequencies map: `p` is never declared.
        let map = JsFunction::parse_map(
            &Bson::String(
                "function() { var path = 'a.b'.split('.'); var field = this; \
                 for (p in path) { field = field[path[p]]; } emit(field, 1); }"
                    .into(),
            ),
            None,
        )
        .unwrap();
        assert_eq!(
            map.emits(&doc! { "a": { "b": "x" } }).unwrap(),
            vec![(Bson::String("x".into()), Bson::Int32(1))]
        );
        // `with` is sloppy-only syntax too.
        let with =
            JsFunction::parse(&Bson::String("function (o) { with (o) { return a + 1; } }".into()), "f")
                .unwrap();
        assert_eq!(with.call(None, &[Bson::Document(doc! { "a": 1 })]).unwrap(), Some(Bson::Int32(2)));
    }

    #[test]
    fn script_errors_are_js_interpreter_failures() {
        for code in
            ["function () { throw new Error('boom'); }", "function ( {", "function () { return nope.x; }"]
        {
            let f = JsFunction::parse(&Bson::String(code.into()), "f").unwrap();
            let e = f.call(None, &[]).unwrap_err();
            assert_eq!(e.code, 139, "{code}: {e}");
        }
        let e = JsFunction::parse(&Bson::Int32(1), "f").unwrap_err();
        assert_eq!(e.code, 14);
        // The engine is still usable after a failure.
        let ok = JsFunction::parse(&Bson::String("function () { return 1 + 1; }".into()), "f").unwrap();
        assert_eq!(ok.call(None, &[]).unwrap(), Some(Bson::Int32(2)));
    }

    #[test]
    fn map_functions_collect_their_emits_and_see_the_scope() {
        let scope = doc! { "factor": 10, "when": bson::DateTime::from_millis(0) };
        let map = JsFunction::parse_map(
            &Bson::String(
                "function () { emit(this.k, this.v * factor); emit('year', when.getUTCFullYear()); }".into(),
            ),
            Some(&scope),
        )
        .unwrap();
        let pairs = map.emits(&doc! { "k": "a", "v": 2 }).unwrap();
        assert_eq!(
            pairs,
            vec![(Bson::String("a".into()), Bson::Int32(20)), ("year".into(), Bson::Int32(1970))]
        );
        // `emit` is only there while a map function runs.
        let outside =
            JsFunction::parse(&Bson::String("function () { return typeof emit; }".into()), "f").unwrap();
        assert_eq!(outside.call(None, &[]).unwrap(), Some(Bson::String("undefined".into())));
        let bad =
            JsFunction::parse_scoped(&Bson::String("function () {}".into()), "f", Some(&doc! { "a-b": 1 }));
        assert_eq!(bad.unwrap_err().code, 2);
    }

    thread_local! {
        static STOP_AFTER: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    }

    #[test]
    fn the_interrupt_check_stops_an_endless_script() {
        set_interrupt_check(|| {
            STOP_AFTER.get().filter(|t| std::time::Instant::now() > *t).map(|_| {
                QueryError::new(crate::error::ErrorCode { code: 11601, name: "Interrupted" }, "stopped")
            })
        });
        STOP_AFTER.set(Some(std::time::Instant::now() + std::time::Duration::from_millis(100)));
        let endless = JsFunction::parse(&Bson::String("function () { for (;;) {} }".into()), "f").unwrap();
        let e = endless.call(None, &[]).unwrap_err();
        STOP_AFTER.set(None);
        assert_eq!(e.code, 11601, "{e}");
        let ok = JsFunction::parse(&Bson::String("function () { return 'after'; }".into()), "f").unwrap();
        assert_eq!(ok.call(None, &[]).unwrap(), Some(Bson::String("after".into())));
    }

    #[test]
    fn sleep_waits_and_is_interrupted_like_a_script() {
        set_interrupt_check(|| {
            STOP_AFTER.get().filter(|t| std::time::Instant::now() > *t).map(|_| {
                QueryError::new(crate::error::ErrorCode { code: 11601, name: "Interrupted" }, "stopped")
            })
        });
        let nap = JsFunction::parse(&Bson::String("function () { sleep(40); return 'woke'; }".into()), "f")
            .unwrap();
        let started = std::time::Instant::now();
        assert_eq!(nap.call(None, &[]).unwrap(), Some(Bson::String("woke".into())));
        assert!(started.elapsed() >= std::time::Duration::from_millis(40));
        // Stopped in the middle of a long sleep (even one the script catches).
        let long = "function () { try { sleep(60000); } catch (e) {} return 'late'; }";
        let long = JsFunction::parse(&Bson::String(long.into()), "f").unwrap();
        STOP_AFTER.set(Some(std::time::Instant::now() + std::time::Duration::from_millis(50)));
        let started = std::time::Instant::now();
        let e = long.call(None, &[]).unwrap_err();
        STOP_AFTER.set(None);
        assert_eq!(e.code, 11601, "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(nap.call(None, &[]).unwrap(), Some(Bson::String("woke".into())));
    }
}
