//! Expression operators: the name table, argument parsing and evaluation
//! dispatch. The semantics of each family live in `arith`, `string`,
//! `array`, `date` and `convert`.

use bson::Bson;

use super::date::DatePart;
use super::{
    compare_values, nullish, parse_operand, truthy, validate_variable_name_for_write, Ctx, Node, ParseScope,
    Scope, Value,
};
use crate::error::{codes, err, Result};
use crate::regex::MongoRegex;

/// Operators whose arguments are all evaluated before the operator runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    // arithmetic
    Add,
    Subtract,
    Multiply,
    Divide,
    Mod,
    Abs,
    Ceil,
    Floor,
    Exp,
    Ln,
    Log,
    Log10,
    Pow,
    Sqrt,
    Round,
    Trunc,
    // trigonometry and friends
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    DegreesToRadians,
    RadiansToDegrees,
    Sigmoid,
    // bitwise
    BitAnd,
    BitOr,
    BitXor,
    BitNot,
    // comparison
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Cmp,
    Not,
    // strings
    Concat,
    SubstrBytes,
    SubstrCP,
    ToLower,
    ToUpper,
    StrLenBytes,
    StrLenCP,
    Split,
    IndexOfBytes,
    IndexOfCP,
    Strcasecmp,
    // arrays
    Size,
    ArrayElemAt,
    First,
    Last,
    In,
    ConcatArrays,
    Slice,
    ReverseArray,
    Range,
    IsArray,
    IndexOfArray,
    AllElementsTrue,
    AnyElementTrue,
    SetUnion,
    SetIntersection,
    SetDifference,
    SetEquals,
    SetIsSubset,
    // objects
    MergeObjects,
    ObjectToArray,
    ArrayToObject,
    // types, timestamps and sizes
    Type,
    IsNumber,
    TsSecond,
    TsIncrement,
    BinarySize,
    BsonSize,
    ToUuid,
    // array-or-list reductions usable as expressions
    Sum,
    Avg,
    Min,
    Max,
}

/// Argument count rules.
#[derive(Clone, Copy)]
enum Arity {
    Exactly(usize),
    Between(usize, usize),
    AtLeast(usize),
    Any,
}

fn func_for(name: &str) -> Option<(Func, Arity)> {
    use Arity::*;
    use Func::*;
    Some(match name {
        "$add" => (Add, Any),
        "$subtract" => (Subtract, Exactly(2)),
        "$multiply" => (Multiply, Any),
        "$divide" => (Divide, Exactly(2)),
        "$mod" => (Mod, Exactly(2)),
        "$abs" => (Abs, Exactly(1)),
        "$ceil" => (Ceil, Exactly(1)),
        "$floor" => (Floor, Exactly(1)),
        "$exp" => (Exp, Exactly(1)),
        "$ln" => (Ln, Exactly(1)),
        "$log" => (Log, Exactly(2)),
        "$log10" => (Log10, Exactly(1)),
        "$pow" => (Pow, Exactly(2)),
        "$sqrt" => (Sqrt, Exactly(1)),
        "$round" => (Round, Between(1, 2)),
        "$trunc" => (Trunc, Between(1, 2)),
        "$sin" => (Sin, Exactly(1)),
        "$cos" => (Cos, Exactly(1)),
        "$tan" => (Tan, Exactly(1)),
        "$asin" => (Asin, Exactly(1)),
        "$acos" => (Acos, Exactly(1)),
        "$atan" => (Atan, Exactly(1)),
        "$atan2" => (Atan2, Exactly(2)),
        "$sinh" => (Sinh, Exactly(1)),
        "$cosh" => (Cosh, Exactly(1)),
        "$tanh" => (Tanh, Exactly(1)),
        "$asinh" => (Asinh, Exactly(1)),
        "$acosh" => (Acosh, Exactly(1)),
        "$atanh" => (Atanh, Exactly(1)),
        "$degreesToRadians" => (DegreesToRadians, Exactly(1)),
        "$radiansToDegrees" => (RadiansToDegrees, Exactly(1)),
        "$sigmoid" => (Sigmoid, Exactly(1)),
        "$bitAnd" => (BitAnd, Any),
        "$bitOr" => (BitOr, Any),
        "$bitXor" => (BitXor, Any),
        "$bitNot" => (BitNot, Exactly(1)),
        "$tsSecond" => (TsSecond, Exactly(1)),
        "$tsIncrement" => (TsIncrement, Exactly(1)),
        "$binarySize" => (BinarySize, Exactly(1)),
        "$bsonSize" => (BsonSize, Exactly(1)),
        "$toUUID" => (ToUuid, Exactly(1)),
        "$eq" => (Eq, Exactly(2)),
        "$ne" => (Ne, Exactly(2)),
        "$gt" => (Gt, Exactly(2)),
        "$gte" => (Gte, Exactly(2)),
        "$lt" => (Lt, Exactly(2)),
        "$lte" => (Lte, Exactly(2)),
        "$cmp" => (Cmp, Exactly(2)),
        "$not" => (Not, Exactly(1)),
        "$concat" => (Concat, Any),
        "$substr" | "$substrBytes" => (SubstrBytes, Exactly(3)),
        "$substrCP" => (SubstrCP, Exactly(3)),
        "$toLower" => (ToLower, Exactly(1)),
        "$toUpper" => (ToUpper, Exactly(1)),
        "$strLenBytes" => (StrLenBytes, Exactly(1)),
        "$strLenCP" => (StrLenCP, Exactly(1)),
        "$split" => (Split, Exactly(2)),
        "$indexOfBytes" => (IndexOfBytes, Between(2, 4)),
        "$indexOfCP" => (IndexOfCP, Between(2, 4)),
        "$strcasecmp" => (Strcasecmp, Exactly(2)),
        "$size" => (Size, Exactly(1)),
        "$arrayElemAt" => (ArrayElemAt, Exactly(2)),
        "$first" => (First, Exactly(1)),
        "$last" => (Last, Exactly(1)),
        "$in" => (In, Exactly(2)),
        "$concatArrays" => (ConcatArrays, Any),
        "$slice" => (Slice, Between(2, 3)),
        "$reverseArray" => (ReverseArray, Exactly(1)),
        "$range" => (Func::Range, Between(2, 3)),
        "$isArray" => (IsArray, Exactly(1)),
        "$indexOfArray" => (IndexOfArray, Between(2, 4)),
        "$allElementsTrue" => (AllElementsTrue, Exactly(1)),
        "$anyElementTrue" => (AnyElementTrue, Exactly(1)),
        "$setUnion" => (SetUnion, Any),
        "$setIntersection" => (SetIntersection, Any),
        "$setDifference" => (SetDifference, Exactly(2)),
        "$setEquals" => (SetEquals, AtLeast(2)),
        "$setIsSubset" => (SetIsSubset, Exactly(2)),
        "$mergeObjects" => (MergeObjects, Any),
        "$objectToArray" => (ObjectToArray, Exactly(1)),
        "$arrayToObject" => (ArrayToObject, Exactly(1)),
        "$type" => (Type, Exactly(1)),
        "$isNumber" => (IsNumber, Exactly(1)),
        "$sum" => (Sum, Any),
        "$avg" => (Avg, Any),
        "$min" => (Min, Any),
        "$max" => (Max, Any),
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegexMode {
    Match,
    Find,
    FindAll,
}

impl RegexMode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            RegexMode::Match => "$regexMatch",
            RegexMode::Find => "$regexFind",
            RegexMode::FindAll => "$regexFindAll",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrimMode {
    Both,
    Left,
    Right,
}

/// A parsed operator.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Func {
        f: Func,
        name: &'static str,
        args: Vec<Node>,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Cond(Node, Node, Node),
    IfNull(Vec<Node>),
    Switch {
        branches: Vec<(Node, Node)>,
        default: Option<Node>,
    },
    Let {
        names: Vec<String>,
        values: Vec<Node>,
        body: Node,
    },
    Map {
        input: Node,
        name: String,
        body: Node,
    },
    Filter {
        input: Node,
        name: String,
        cond: Node,
        limit: Option<Node>,
    },
    Reduce {
        input: Node,
        initial: Node,
        body: Node,
    },
    DateToString {
        date: Node,
        format: Option<Node>,
        timezone: Option<Node>,
        on_null: Option<Node>,
    },
    DatePart {
        part: DatePart,
        date: Node,
        timezone: Option<Node>,
    },
    Convert {
        input: Node,
        to: Node,
        on_error: Option<Node>,
        on_null: Option<Node>,
        alias: Option<String>,
    },
    Regex {
        mode: RegexMode,
        input: Node,
        regex: Node,
        options: Option<Node>,
        compiled: Option<MongoRegex>,
    },
    Replace {
        all: bool,
        input: Node,
        find: Node,
        replacement: Node,
    },
    Trim {
        mode: TrimMode,
        name: String,
        input: Node,
        chars: Option<Node>,
    },
    DateFromString {
        date_string: Node,
        format: Option<Node>,
        timezone: Option<Node>,
        on_null: Option<Node>,
        on_error: Option<Node>,
    },
    DateToParts {
        date: Node,
        timezone: Option<Node>,
        iso8601: Option<Node>,
    },
    /// The parts in order: year, month, day, hour, minute, second,
    /// millisecond, isoWeekYear, isoWeek, isoDayOfWeek.
    DateFromParts {
        parts: Box<[Option<Node>; 10]>,
        timezone: Option<Node>,
    },
    DateDiff {
        start: Node,
        end: Node,
        unit: Node,
        timezone: Option<Node>,
        start_of_week: Option<Node>,
    },
    /// `$dateAdd`, or `$dateSubtract` when `subtract`.
    DateAdd {
        subtract: bool,
        start: Node,
        unit: Node,
        amount: Node,
        timezone: Option<Node>,
    },
    DateTrunc {
        date: Node,
        unit: Node,
        bin_size: Option<Node>,
        timezone: Option<Node>,
        start_of_week: Option<Node>,
    },
    /// `$firstN`, `$lastN`, `$minN`, `$maxN` on an array.
    ArrayN {
        name: &'static str,
        n: Node,
        input: Node,
    },
    /// `$percentile` and `$median` on a value or an array.
    Quantiles {
        input: Node,
        quantiles: super::percentile::Quantiles,
    },
    Rand,
    /// `$function`: a JavaScript function of the evaluated `args`.
    Function {
        body: crate::js::JsFunction,
        args: Vec<Node>,
    },
    /// `$getField`: a field of `input` (`$$CURRENT` when absent) by its
    /// literal name (dots and `$` included).
    GetField {
        field: Node,
        input: Node,
    },
    /// `$setField` (`value: None`: `$unsetField`).
    SetField {
        field: String,
        input: Node,
        value: Option<Node>,
    },
    Zip {
        inputs: Vec<Node>,
        longest: bool,
        defaults: Option<Vec<Node>>,
    },
    SortArray {
        input: Node,
        by: super::object::SortBy,
    },
}

const DATE_PART_NAMES: [&str; 10] = [
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "millisecond",
    "isoWeekYear",
    "isoWeek",
    "isoDayOfWeek",
];

/// Splits an operator argument into operands: an array is the operand
/// list, anything else a single operand.
fn operands(arg: &Bson, scope: &mut ParseScope) -> Result<Vec<Node>> {
    match arg {
        Bson::Array(items) => items.iter().map(|i| parse_operand(i, scope)).collect(),
        other => Ok(vec![parse_operand(other, scope)?]),
    }
}

fn check_arity(name: &str, arity: Arity, n: usize) -> Result<()> {
    match arity {
        Arity::Exactly(k) if n != k => {
            err(codes::L16020, format!("Expression {name} takes exactly {k} arguments. {n} were passed in."))
        }
        Arity::Between(lo, hi) if n < lo || n > hi => err(
            codes::L28667,
            format!(
                "Expression {name} takes at least {lo} arguments, and at most {hi}, but {n} were passed in."
            ),
        ),
        Arity::AtLeast(k) if n < k => {
            if name == "$setEquals" {
                err(codes::L17045, format!("$setEquals needs at least two arguments had: {n}"))
            } else {
                err(
                    codes::L16020,
                    format!("Expression {name} takes at least {k} arguments. {n} were passed in."),
                )
            }
        }
        _ => Ok(()),
    }
}

fn object_arg(arg: &Bson, code: crate::error::ErrorCode, msg: String) -> Result<&bson::Document> {
    match arg {
        Bson::Document(d) => Ok(d),
        _ => err(code, msg),
    }
}

/// Parses an operator's named arguments into slots in the order of
/// `names`; an unknown name fails with `unknown_code`, saying `message`
/// followed by the name.
fn named_args<const N: usize>(
    d: &bson::Document,
    names: [&str; N],
    unknown_code: crate::error::ErrorCode,
    message: &str,
    scope: &mut ParseScope,
) -> Result<[Option<Node>; N]> {
    let mut slots: [Option<Node>; N] = std::array::from_fn(|_| None);
    for (k, v) in d {
        let Some(slot) = names.iter().position(|n| n == k) else {
            return err(unknown_code, format!("{message}{k}"));
        };
        slots[slot] = Some(parse_operand(v, scope)?);
    }
    Ok(slots)
}

/// Parses `{$name: arg}`.
pub(crate) fn parse(name: &str, arg: &Bson, scope: &mut ParseScope) -> Result<Node> {
    if name == "$literal" || name == "$const" {
        return Ok(Node::Const(arg.clone()));
    }
    Ok(Node::Op(Box::new(parse_op(name, arg, scope)?)))
}

fn parse_op(name: &str, arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    if let Some((f, arity)) = func_for(name) {
        let args = operands(arg, scope)?;
        check_arity(name, arity, args.len())?;
        let name: &'static str = leak_name(name);
        return Ok(Op::Func { f, name, args });
    }
    if let Some(part) = DatePart::from_name(name) {
        return parse_date_part(name, part, arg, scope);
    }
    match name {
        "$and" => Ok(Op::And(operands(arg, scope)?)),
        "$or" => Ok(Op::Or(operands(arg, scope)?)),
        "$ifNull" => {
            let args = operands(arg, scope)?;
            if args.len() < 2 {
                return err(
                    codes::L1257300,
                    format!("$ifNull needs at least two arguments, had: {}", args.len()),
                );
            }
            Ok(Op::IfNull(args))
        }
        "$cond" => parse_cond(arg, scope),
        "$switch" => parse_switch(arg, scope),
        "$let" => parse_let(arg, scope),
        "$map" => parse_map(arg, scope),
        "$filter" => parse_filter(arg, scope),
        "$reduce" => parse_reduce(arg, scope),
        "$dateToString" => parse_date_to_string(arg, scope),
        "$dateFromString" => {
            let d = object_arg(
                arg,
                codes::L40540,
                format!(
                    "$dateFromString only supports an object as an argument, found: {}",
                    crate::types::type_name(arg)
                ),
            )?;
            let f = named_args(
                d,
                ["dateString", "format", "timezone", "onNull", "onError"],
                codes::L40541,
                "Unrecognized argument to $dateFromString: ",
                scope,
            )?;
            let [date_string, format, timezone, on_null, on_error] = f;
            let Some(date_string) = date_string else {
                return err(codes::L40542, "Missing 'dateString' parameter to $dateFromString");
            };
            Ok(Op::DateFromString { date_string, format, timezone, on_null, on_error })
        }
        "$dateToParts" => {
            let d = object_arg(
                arg,
                codes::L40524,
                "$dateToParts only supports an object as its argument".into(),
            )?;
            let (mut date, mut timezone, mut iso8601) = (None, None, None);
            for (k, v) in d {
                match k.as_str() {
                    "date" => date = Some(parse_operand(v, scope)?),
                    "timezone" => timezone = Some(parse_operand(v, scope)?),
                    "iso8601" => iso8601 = Some(parse_operand(v, scope)?),
                    _ => return err(codes::L40520, format!("Unrecognized argument to $dateToParts: {k}")),
                }
            }
            let Some(date) = date else {
                return err(codes::L40522, "Missing 'date' parameter to $dateToParts");
            };
            Ok(Op::DateToParts { date, timezone, iso8601 })
        }
        "$dateFromParts" => {
            let d = object_arg(
                arg,
                codes::L40519,
                "$dateFromParts only supports an object as its argument".into(),
            )?;
            let mut parts: [Option<Node>; 10] = Default::default();
            let mut timezone = None;
            for (k, v) in d {
                if k == "timezone" {
                    timezone = Some(parse_operand(v, scope)?);
                    continue;
                }
                let Some(i) = DATE_PART_NAMES.iter().position(|n| n == k) else {
                    return err(codes::L40518, format!("Unrecognized argument to $dateFromParts: {k}"));
                };
                parts[i] = Some(parse_operand(v, scope)?);
            }
            let natural = parts[0..3].iter().any(Option::is_some);
            let iso = parts[7..10].iter().any(Option::is_some);
            if parts[0].is_none() && parts[7].is_none() {
                return err(
                    codes::L40516,
                    "$dateFromParts requires either 'year' or 'isoWeekYear' to be present",
                );
            }
            if parts[0].is_some() && iso {
                return err(
                    codes::L40489,
                    "$dateFromParts does not allow mixing natural dates with ISO dates",
                );
            }
            if parts[7].is_some() && natural {
                return err(
                    codes::L40525,
                    "$dateFromParts does not allow mixing ISO dates with natural dates",
                );
            }
            Ok(Op::DateFromParts { parts: Box::new(parts), timezone })
        }
        "$dateDiff" => {
            let d =
                object_arg(arg, codes::L5166301, "$dateDiff only supports an object as its argument".into())?;
            let f = named_args(
                d,
                ["startDate", "endDate", "unit", "timezone", "startOfWeek"],
                codes::L5166302,
                "Unrecognized argument to $dateDiff: ",
                scope,
            )?;
            let [start, end, unit, timezone, start_of_week] = f;
            let Some(start) = start else {
                return err(codes::L5166303, "Missing 'startDate' parameter to $dateDiff");
            };
            let Some(end) = end else {
                return err(codes::L5166304, "Missing 'endDate' parameter to $dateDiff");
            };
            let Some(unit) = unit else {
                return err(codes::L5166305, "Missing 'unit' parameter to $dateDiff");
            };
            Ok(Op::DateDiff { start, end, unit, timezone, start_of_week })
        }
        "$dateAdd" | "$dateSubtract" => {
            let d = object_arg(arg, codes::L5166400, format!("{name} expects an object as its argument"))?;
            let f = named_args(
                d,
                ["startDate", "unit", "amount", "timezone"],
                codes::L5166401,
                &format!("Unrecognized argument to {name}: "),
                scope,
            )?;
            let [Some(start), Some(unit), Some(amount), timezone] = f else {
                return err(
                    codes::L5166402,
                    format!("{name} requires startDate, unit, and amount to be present"),
                );
            };
            Ok(Op::DateAdd { subtract: name == "$dateSubtract", start, unit, amount, timezone })
        }
        "$dateTrunc" => {
            let d = object_arg(
                arg,
                codes::L5439007,
                "$dateTrunc only supports an object as its argument".into(),
            )?;
            let f = named_args(
                d,
                ["date", "unit", "binSize", "timezone", "startOfWeek"],
                codes::L5439008,
                "Unrecognized argument to $dateTrunc: ",
                scope,
            )?;
            let [date, unit, bin_size, timezone, start_of_week] = f;
            let Some(date) = date else {
                return err(codes::L5439009, "Missing 'date' parameter to $dateTrunc");
            };
            let Some(unit) = unit else {
                return err(codes::L5439010, "Missing 'unit' parameter to $dateTrunc");
            };
            Ok(Op::DateTrunc { date, unit, bin_size, timezone, start_of_week })
        }
        "$firstN" | "$lastN" | "$minN" | "$maxN" => {
            let (n, input) = super::array::parse_n_args(name, arg)?;
            let name = match name {
                "$firstN" => "$firstN",
                "$lastN" => "$lastN",
                "$minN" => "$minN",
                _ => "$maxN",
            };
            Ok(Op::ArrayN { name, n: parse_operand(n, scope)?, input: parse_operand(input, scope)? })
        }
        "$percentile" | "$median" => {
            let not_object = if name == "$median" { codes::L7436201 } else { codes::L7436200 };
            let (input, p, method) = super::percentile::parse_spec(name, arg, not_object)?;
            let p_value = match p.map(|p| parse_operand(p, scope)).transpose()? {
                Some(Node::Const(v)) => Some(v),
                _ => None,
            };
            let quantiles = super::percentile::Quantiles::new(p, p_value.as_ref(), method)?;
            Ok(Op::Quantiles { input: parse_operand(input, scope)?, quantiles })
        }
        "$convert" => parse_convert(arg, scope),
        "$toString" | "$toInt" | "$toLong" | "$toDouble" | "$toDecimal" | "$toBool" | "$toDate"
        | "$toObjectId" => {
            let args = operands(arg, scope)?;
            if args.len() != 1 {
                return err(codes::L50723, format!("{name} requires a single argument, got {}", args.len()));
            }
            let target = match name {
                "$toString" => "string",
                "$toInt" => "int",
                "$toLong" => "long",
                "$toDouble" => "double",
                "$toDecimal" => "decimal",
                "$toBool" => "bool",
                "$toDate" => "date",
                _ => "objectId",
            };
            let input = args.into_iter().next().expect("one argument");
            Ok(Op::Convert {
                input,
                to: Node::Const(Bson::String(target.into())),
                on_error: None,
                on_null: None,
                alias: Some(name.to_string()),
            })
        }
        "$regexMatch" => parse_regex(RegexMode::Match, arg, scope),
        "$regexFind" => parse_regex(RegexMode::Find, arg, scope),
        "$regexFindAll" => parse_regex(RegexMode::FindAll, arg, scope),
        "$replaceOne" | "$replaceAll" => parse_replace(name, arg, scope),
        "$trim" | "$ltrim" | "$rtrim" => parse_trim(name, arg, scope),
        "$getField" => super::object::parse_get_field(arg, scope),
        "$function" => parse_function(arg, scope),
        "$setField" | "$unsetField" => super::object::parse_set_field(name, arg, scope),
        "$zip" => super::object::parse_zip(arg, scope),
        "$sortArray" => super::object::parse_sort_array(arg, scope),
        "$rand" => match arg {
            Bson::Document(d) if d.is_empty() => Ok(Op::Rand),
            _ => err(codes::L3040501, "$rand does not currently accept arguments"),
        },
        _ => err(codes::INVALID_PIPELINE_OPERATOR, format!("Unrecognized expression '{name}'")),
    }
}

/// Operator names are a closed set; keeping a `&'static str` avoids a
/// String per parsed operator.
fn leak_name(name: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "$add",
        "$subtract",
        "$multiply",
        "$divide",
        "$mod",
        "$abs",
        "$ceil",
        "$floor",
        "$exp",
        "$ln",
        "$log",
        "$log10",
        "$pow",
        "$sqrt",
        "$round",
        "$trunc",
        "$sin",
        "$cos",
        "$tan",
        "$asin",
        "$acos",
        "$atan",
        "$atan2",
        "$sinh",
        "$cosh",
        "$tanh",
        "$asinh",
        "$acosh",
        "$atanh",
        "$degreesToRadians",
        "$radiansToDegrees",
        "$sigmoid",
        "$bitAnd",
        "$bitOr",
        "$bitXor",
        "$bitNot",
        "$tsSecond",
        "$tsIncrement",
        "$binarySize",
        "$bsonSize",
        "$toUUID",
        "$eq",
        "$ne",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$cmp",
        "$not",
        "$concat",
        "$substr",
        "$substrBytes",
        "$substrCP",
        "$toLower",
        "$toUpper",
        "$strLenBytes",
        "$strLenCP",
        "$split",
        "$indexOfBytes",
        "$indexOfCP",
        "$strcasecmp",
        "$size",
        "$arrayElemAt",
        "$first",
        "$last",
        "$in",
        "$concatArrays",
        "$slice",
        "$reverseArray",
        "$range",
        "$isArray",
        "$indexOfArray",
        "$allElementsTrue",
        "$anyElementTrue",
        "$setUnion",
        "$setIntersection",
        "$setDifference",
        "$setEquals",
        "$setIsSubset",
        "$mergeObjects",
        "$objectToArray",
        "$arrayToObject",
        "$type",
        "$isNumber",
        "$sum",
        "$avg",
        "$min",
        "$max",
    ];
    NAMES.iter().find(|n| **n == name).copied().unwrap_or("$unknown")
}

fn parse_cond(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let Bson::Document(d) = arg else {
        let args = operands(arg, scope)?;
        check_arity("$cond", Arity::Exactly(3), args.len())?;
        let mut it = args.into_iter();
        let (a, b, c) = (it.next().expect("3"), it.next().expect("3"), it.next().expect("3"));
        return Ok(Op::Cond(a, b, c));
    };
    let (mut i, mut t, mut e) = (None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "if" => i = Some(parse_operand(v, scope)?),
            "then" => t = Some(parse_operand(v, scope)?),
            "else" => e = Some(parse_operand(v, scope)?),
            _ => return err(codes::L17083, format!("Unrecognized parameter to $cond: {k}")),
        }
    }
    let Some(i) = i else { return err(codes::L17080, "Missing 'if' parameter to $cond") };
    let Some(t) = t else { return err(codes::L17081, "Missing 'then' parameter to $cond") };
    let Some(e) = e else { return err(codes::L17082, "Missing 'else' parameter to $cond") };
    Ok(Op::Cond(i, t, e))
}

fn parse_switch(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let d = object_arg(
        arg,
        codes::L40060,
        format!("$switch requires an object as an argument, found: {}", crate::types::type_name(arg)),
    )?;
    let mut branches = Vec::new();
    let mut default = None;
    for (k, v) in d {
        match k.as_str() {
            "branches" => {
                let Bson::Array(items) = v else {
                    return err(
                        codes::L40061,
                        format!(
                            "$switch expected an array for 'branches', found: {}",
                            crate::types::type_name(v)
                        ),
                    );
                };
                for item in items {
                    let Bson::Document(b) = item else {
                        return err(
                            codes::L40062,
                            format!(
                                "$switch expected each branch to be an object, found: {}",
                                crate::types::type_name(item)
                            ),
                        );
                    };
                    let (mut case, mut then) = (None, None);
                    for (bk, bv) in b {
                        match bk.as_str() {
                            "case" => case = Some(parse_operand(bv, scope)?),
                            "then" => then = Some(parse_operand(bv, scope)?),
                            _ => {
                                return err(
                                    codes::L40063,
                                    format!("$switch found an unknown argument to a branch: {bk}"),
                                )
                            }
                        }
                    }
                    let Some(case) = case else {
                        return err(codes::L40064, "$switch requires each branch have a 'case' expression");
                    };
                    let Some(then) = then else {
                        return err(codes::L40065, "$switch requires each branch have a 'then' expression.");
                    };
                    branches.push((case, then));
                }
            }
            "default" => default = Some(parse_operand(v, scope)?),
            _ => return err(codes::L40067, format!("$switch found an unknown argument: {k}")),
        }
    }
    if branches.is_empty() {
        return err(codes::L40068, "$switch requires at least one branch.");
    }
    Ok(Op::Switch { branches, default })
}

fn parse_let(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let d = object_arg(arg, codes::L16874, "$let only supports an object as its argument".into())?;
    let (mut vars, mut body) = (None, None);
    for (k, v) in d {
        match k.as_str() {
            "vars" => vars = Some(v),
            "in" => body = Some(v),
            _ => return err(codes::L16875, format!("Unrecognized parameter to $let: {k}")),
        }
    }
    let Some(vars) = vars else { return err(codes::L16876, "Missing 'vars' parameter to $let") };
    let Some(body) = body else { return err(codes::L16877, "Missing 'in' parameter to $let") };
    let Bson::Document(vars) = vars else {
        return err(codes::L10065, "invalid parameter: expected an object (vars)");
    };
    let mut names = Vec::new();
    let mut values = Vec::new();
    for v in vars.values() {
        values.push(parse_operand(v, scope)?);
    }
    for k in vars.keys() {
        validate_variable_name_for_write(k)?;
        names.push(k.clone());
        scope.define(k);
    }
    let body = parse_operand(body, scope);
    scope.undefine(names.len());
    Ok(Op::Let { names, values, body: body? })
}

fn parse_map(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let d = object_arg(arg, codes::L16878, "$map only supports an object as its argument".into())?;
    let (mut input, mut as_, mut body) = (None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(v),
            "as" => as_ = Some(v),
            "in" => body = Some(v),
            _ => return err(codes::L16879, format!("Unrecognized parameter to $map: {k}")),
        }
    }
    let Some(input) = input else { return err(codes::L16880, "Missing 'input' parameter to $map") };
    let Some(body) = body else { return err(codes::L16882, "Missing 'in' parameter to $map") };
    let input = parse_operand(input, scope)?;
    let name = variable_name(as_)?;
    scope.define(&name);
    let body = parse_operand(body, scope);
    scope.undefine(1);
    Ok(Op::Map { input, name, body: body? })
}

fn variable_name(as_: Option<&Bson>) -> Result<String> {
    let name = match as_ {
        None => "this".to_string(),
        Some(Bson::String(s)) => s.clone(),
        Some(other) => crate::display::value(other),
    };
    validate_variable_name_for_write(&name)?;
    Ok(name)
}

fn parse_filter(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let d = object_arg(arg, codes::L28646, "$filter only supports an object as its argument".into())?;
    let (mut input, mut as_, mut cond, mut limit) = (None, None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(v),
            "as" => as_ = Some(v),
            "cond" => cond = Some(v),
            "limit" => limit = Some(v),
            _ => return err(codes::L28647, format!("Unrecognized parameter to $filter: {k}")),
        }
    }
    let Some(input) = input else { return err(codes::L28648, "Missing 'input' parameter to $filter") };
    let Some(cond) = cond else { return err(codes::L28650, "Missing 'cond' parameter to $filter") };
    let input = parse_operand(input, scope)?;
    let limit = limit.map(|l| parse_operand(l, scope)).transpose()?;
    let name = variable_name(as_)?;
    scope.define(&name);
    let cond = parse_operand(cond, scope);
    scope.undefine(1);
    Ok(Op::Filter { input, name, cond: cond?, limit })
}

fn parse_reduce(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let d = object_arg(
        arg,
        codes::L40075,
        format!("$reduce requires an object as an argument, found: {}", crate::types::type_name(arg)),
    )?;
    let (mut input, mut initial, mut body) = (None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(parse_operand(v, scope)?),
            "initialValue" => initial = Some(parse_operand(v, scope)?),
            "in" => {
                scope.define("this");
                scope.define("value");
                let parsed = parse_operand(v, scope);
                scope.undefine(2);
                body = Some(parsed?);
            }
            _ => return err(codes::L40076, format!("$reduce found an unknown argument: {k}")),
        }
    }
    let Some(input) = input else { return err(codes::L40077, "$reduce requires 'input' to be specified") };
    let Some(initial) = initial else {
        return err(codes::L40078, "$reduce requires 'initialValue' to be specified");
    };
    let Some(body) = body else { return err(codes::L40079, "$reduce requires 'in' to be specified") };
    Ok(Op::Reduce { input, initial, body })
}

fn parse_date_part(name: &str, part: DatePart, arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let (date, timezone) = match arg {
        Bson::Document(d) if d.keys().next().is_some_and(|k| !k.starts_with('$')) => {
            let (mut date, mut tz) = (None, None);
            for (k, v) in d {
                match k.as_str() {
                    "date" => date = Some(parse_operand(v, scope)?),
                    "timezone" => tz = Some(parse_operand(v, scope)?),
                    _ => return err(codes::L40535, format!("unrecognized option to {name}: \"{k}\"")),
                }
            }
            let Some(date) = date else {
                return err(
                    codes::L40539,
                    format!("missing 'date' argument to {name}, provided: {}", crate::display::document(d)),
                );
            };
            (date, tz)
        }
        Bson::Array(items) => {
            if items.len() != 1 {
                return err(
                    codes::L40536,
                    format!(
                        "{name} accepts exactly one argument if given an array, but was given {}",
                        items.len()
                    ),
                );
            }
            (parse_operand(&items[0], scope)?, None)
        }
        other => (parse_operand(other, scope)?, None),
    };
    Ok(Op::DatePart { part, date, timezone })
}

fn parse_date_to_string(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let d = object_arg(arg, codes::L18629, "$dateToString only supports an object as its argument".into())?;
    let (mut date, mut format, mut timezone, mut on_null) = (None, None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "date" => date = Some(parse_operand(v, scope)?),
            "format" => format = Some(parse_operand(v, scope)?),
            "timezone" => timezone = Some(parse_operand(v, scope)?),
            "onNull" => on_null = Some(parse_operand(v, scope)?),
            _ => return err(codes::L18534, format!("Unrecognized argument to $dateToString: {k}")),
        }
    }
    let Some(date) = date else { return err(codes::L18628, "Missing 'date' parameter to $dateToString") };
    Ok(Op::DateToString { date, format, timezone, on_null })
}

fn parse_convert(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let d = object_arg(
        arg,
        codes::FAILED_TO_PARSE,
        format!("$convert expects an object of named arguments but found: {}", crate::types::type_name(arg)),
    )?;
    let (mut input, mut to, mut on_error, mut on_null) = (None, None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(parse_operand(v, scope)?),
            "to" => to = Some(parse_operand(v, scope)?),
            "onError" => on_error = Some(parse_operand(v, scope)?),
            "onNull" => on_null = Some(parse_operand(v, scope)?),
            _ => return err(codes::FAILED_TO_PARSE, format!("$convert found an unknown argument: {k}")),
        }
    }
    let Some(input) = input else {
        return err(codes::FAILED_TO_PARSE, "Missing 'input' parameter to $convert");
    };
    let Some(to) = to else { return err(codes::FAILED_TO_PARSE, "Missing 'to' parameter to $convert") };
    Ok(Op::Convert { input, to, on_error, on_null, alias: None })
}

fn parse_regex(mode: RegexMode, arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let name = mode.name();
    let d = object_arg(
        arg,
        codes::L51103,
        format!("{name} expects an object of named arguments but found: {}", crate::types::type_name(arg)),
    )?;
    let (mut input, mut regex, mut options) = (None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(parse_operand(v, scope)?),
            "regex" => regex = Some(parse_operand(v, scope)?),
            "options" => options = Some(parse_operand(v, scope)?),
            _ => return err(codes::L31024, format!("{name} found an unknown argument: {k}")),
        }
    }
    let Some(input) = input else { return err(codes::L31022, format!("{name} requires 'input' parameter")) };
    let Some(regex) = regex else { return err(codes::L31023, format!("{name} requires 'regex' parameter")) };
    // A constant pattern is compiled once, here.
    let compiled = match (&regex, &options) {
        (Node::Const(r), None) => super::string::compile_regex(mode, &Some(r.clone()), &None)?,
        (Node::Const(r), Some(Node::Const(o))) => {
            super::string::compile_regex(mode, &Some(r.clone()), &Some(o.clone()))?
        }
        _ => None,
    };
    Ok(Op::Regex { mode, input, regex, options, compiled })
}

fn parse_replace(name: &str, arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let d = object_arg(
        arg,
        codes::L51751,
        format!("{name} requires an object as an argument, found: {}", crate::types::type_name(arg)),
    )?;
    let (mut input, mut find, mut replacement) = (None, None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(parse_operand(v, scope)?),
            "find" => find = Some(parse_operand(v, scope)?),
            "replacement" => replacement = Some(parse_operand(v, scope)?),
            _ => return err(codes::L51750, format!("{name} found an unknown argument: {k}")),
        }
    }
    let Some(input) = input else {
        return err(codes::L51749, format!("{name} requires 'input' to be specified"));
    };
    let Some(find) = find else {
        return err(codes::L51748, format!("{name} requires 'find' to be specified"));
    };
    let Some(replacement) = replacement else {
        return err(codes::L51747, format!("{name} requires 'replacement' to be specified"));
    };
    Ok(Op::Replace { all: name == "$replaceAll", input, find, replacement })
}

fn parse_trim(name: &str, arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let d = object_arg(
        arg,
        codes::L50696,
        format!("{name} only supports an object as an argument, found {}", crate::types::type_name(arg)),
    )?;
    let (mut input, mut chars) = (None, None);
    for (k, v) in d {
        match k.as_str() {
            "input" => input = Some(parse_operand(v, scope)?),
            "chars" => chars = Some(parse_operand(v, scope)?),
            _ => return err(codes::L50694, format!("{name} found an unknown argument: {k}")),
        }
    }
    let Some(input) = input else { return err(codes::L50695, format!("{name} requires an 'input' field")) };
    let mode = match name {
        "$ltrim" => TrimMode::Left,
        "$rtrim" => TrimMode::Right,
        _ => TrimMode::Both,
    };
    Ok(Op::Trim { mode, name: name.to_string(), input, chars })
}

impl Op {
    pub(crate) fn eval(&self, ctx: &Ctx) -> Result<Value> {
        match self {
            Op::Func { f, name, args } => {
                // Comparisons are the hot path of $expr: no argument vector.
                if let Some(ord) = comparison(*f) {
                    let (a, b) = (args[0].eval(ctx)?, args[1].eval(ctx)?);
                    return Ok(Some(ord(compare_values(&a, &b))));
                }
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(a.eval(ctx)?);
                }
                eval_func(*f, name, values)
            }
            Op::And(args) => {
                for a in args {
                    if !truthy(&a.eval(ctx)?) {
                        return Ok(Some(Bson::Boolean(false)));
                    }
                }
                Ok(Some(Bson::Boolean(true)))
            }
            Op::Or(args) => {
                for a in args {
                    if truthy(&a.eval(ctx)?) {
                        return Ok(Some(Bson::Boolean(true)));
                    }
                }
                Ok(Some(Bson::Boolean(false)))
            }
            Op::Cond(i, t, e) => {
                if truthy(&i.eval(ctx)?) {
                    t.eval(ctx)
                } else {
                    e.eval(ctx)
                }
            }
            Op::IfNull(args) => {
                let last = args.len() - 1;
                for (idx, a) in args.iter().enumerate() {
                    let v = a.eval(ctx)?;
                    if !nullish(&v) || idx == last {
                        return Ok(v);
                    }
                }
                Ok(None)
            }
            Op::Switch { branches, default } => {
                for (case, then) in branches {
                    if truthy(&case.eval(ctx)?) {
                        return then.eval(ctx);
                    }
                }
                match default {
                    Some(d) => d.eval(ctx),
                    None => err(
                        codes::L40066,
                        "$switch could not find a matching branch for an input, and no default was specified.",
                    ),
                }
            }
            Op::Let { names, values, body } => {
                let mut bound = Vec::with_capacity(values.len());
                for v in values {
                    bound.push(v.eval(ctx)?);
                }
                let scope = Scope { names, values: &bound, parent: ctx.scope };
                body.eval(&ctx.with_scope(&scope))
            }
            Op::Map { input, name, body } => {
                let input = input.eval(ctx)?;
                if nullish(&input) {
                    return Ok(Some(Bson::Null));
                }
                let Some(Bson::Array(items)) = input else {
                    return err(
                        codes::L16883,
                        format!("input to $map must be an array not {}", super::value_type_name(&input)),
                    );
                };
                let names = std::slice::from_ref(name);
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let values = [Some(item)];
                    let scope = Scope { names, values: &values, parent: ctx.scope };
                    out.push(body.eval(&ctx.with_scope(&scope))?.unwrap_or(Bson::Null));
                }
                Ok(Some(Bson::Array(out)))
            }
            Op::Filter { input, name, cond, limit } => {
                let input = input.eval(ctx)?;
                if nullish(&input) {
                    return Ok(Some(Bson::Null));
                }
                let Some(Bson::Array(items)) = input else {
                    return err(
                        codes::L28651,
                        format!("input to $filter must be an array not {}", super::value_type_name(&input)),
                    );
                };
                let mut remaining = match limit {
                    None => None,
                    Some(l) => {
                        let l = l.eval(ctx)?;
                        if nullish(&l) {
                            None
                        } else {
                            let Some(n) = l.as_ref().and_then(crate::numeric::to_exact_i32) else {
                                return err(
                                    codes::L327391,
                                    format!(
                                        "$filter: limit must be represented as a 32-bit integral value: {}",
                                        crate::display::value(l.as_ref().unwrap_or(&Bson::Null))
                                    ),
                                );
                            };
                            if n <= 0 {
                                return err(
                                    codes::L327392,
                                    format!("$filter: limit must be greater than 0: {n}"),
                                );
                            }
                            Some(n as usize)
                        }
                    }
                };
                let names = std::slice::from_ref(name);
                let mut out = Vec::new();
                for item in items {
                    let values = [Some(item)];
                    let scope = Scope { names, values: &values, parent: ctx.scope };
                    if truthy(&cond.eval(&ctx.with_scope(&scope))?) {
                        let [Some(item)] = values else { unreachable!() };
                        out.push(item);
                        if let Some(r) = remaining.as_mut() {
                            *r -= 1;
                            if *r == 0 {
                                break;
                            }
                        }
                    }
                }
                Ok(Some(Bson::Array(out)))
            }
            Op::Reduce { input, initial, body } => {
                let input = input.eval(ctx)?;
                if nullish(&input) {
                    return Ok(Some(Bson::Null));
                }
                let Some(Bson::Array(items)) = input else {
                    return err(
                        codes::L40080,
                        format!(
                            "$reduce requires that 'input' be an array, found: {}",
                            crate::display::value(input.as_ref().unwrap_or(&Bson::Null))
                        ),
                    );
                };
                let mut acc = initial.eval(ctx)?;
                let names = ["this".to_string(), "value".to_string()];
                for item in items {
                    let values = [Some(item), acc];
                    let scope = Scope { names: &names, values: &values, parent: ctx.scope };
                    acc = body.eval(&ctx.with_scope(&scope))?;
                }
                Ok(acc)
            }
            Op::DateToString { date, format, timezone, on_null } => {
                let date_v = date.eval(ctx)?;
                let format_v = match format {
                    Some(f) => {
                        let v = f.eval(ctx)?;
                        if !nullish(&v) {
                            match &v {
                                Some(Bson::String(s)) => super::date::validate_format(s)?,
                                Some(other) => {
                                    return err(
                                        codes::L18533,
                                        format!(
                                            "$dateToString requires that 'format' be a string, found: {} with value {}",
                                            crate::types::type_name(other),
                                            crate::display::value(other)
                                        ),
                                    )
                                }
                                None => {}
                            }
                        }
                        Some(v)
                    }
                    None => None,
                };
                let tz = super::date::eval_timezone(timezone.as_ref().map(|t| t.eval(ctx)).transpose()?)?;
                if nullish(&date_v) {
                    return match on_null {
                        Some(n) => n.eval(ctx),
                        None => Ok(Some(Bson::Null)),
                    };
                }
                let Some(tz) = tz else { return Ok(Some(Bson::Null)) };
                let millis = super::date::coerce_to_date(date_v.as_ref().expect("not nullish"))?;
                let fmt = match format_v {
                    Some(Some(Bson::String(s))) => s,
                    Some(_) => return Ok(Some(Bson::Null)),
                    None if tz.is_utc() => super::date::ISO_FORMAT.to_string(),
                    // A local time is not "Z": MongoDB drops the suffix.
                    None => super::date::ISO_FORMAT_LOCAL.to_string(),
                };
                Ok(Some(Bson::String(super::date::format_date(&fmt, millis, tz.offset_at(millis))?)))
            }
            Op::DatePart { part, date, timezone, .. } => {
                let date_v = date.eval(ctx)?;
                let tz = super::date::eval_timezone(timezone.as_ref().map(|t| t.eval(ctx)).transpose()?)?;
                let Some(tz) = tz else { return Ok(Some(Bson::Null)) };
                if nullish(&date_v) {
                    return Ok(Some(Bson::Null));
                }
                let millis = super::date::coerce_to_date(date_v.as_ref().expect("not nullish"))?;
                Ok(Some(part.extract(millis, &tz)))
            }
            Op::Convert { input, to, on_error, on_null, alias } => super::convert::eval_convert(
                ctx,
                input,
                to,
                on_error.as_ref(),
                on_null.as_ref(),
                alias.as_deref(),
            ),
            Op::Regex { mode, input, regex, options, compiled } => {
                super::string::eval_regex(ctx, *mode, input, regex, options.as_ref(), compiled.as_ref())
            }
            Op::Replace { all, input, find, replacement } => {
                super::string::eval_replace(*all, input.eval(ctx)?, find.eval(ctx)?, replacement.eval(ctx)?)
            }
            Op::Trim { mode, name, input, chars } => {
                let input = input.eval(ctx)?;
                let chars = match chars {
                    Some(c) => Some(c.eval(ctx)?),
                    None => None,
                };
                super::string::eval_trim(*mode, name, input, chars)
            }
            Op::Rand => Ok(Some(Bson::Double(rand::random::<f64>()))),
            Op::Function { body, args } => {
                let args = args
                    .iter()
                    .map(|a| Ok(a.eval(ctx)?.unwrap_or(Bson::Null)))
                    .collect::<Result<Vec<_>>>()?;
                body.call(None, &args)
            }
            Op::GetField { field, input } => super::object::get_field(field.eval(ctx)?, input.eval(ctx)?),
            Op::SetField { field, input, value } => {
                let value = match value {
                    Some(v) => v.eval(ctx)?,
                    None => None,
                };
                super::object::set_field(field, input.eval(ctx)?, value)
            }
            Op::Zip { inputs, longest, defaults } => {
                let inputs = inputs.iter().map(|i| i.eval(ctx)).collect::<Result<Vec<_>>>()?;
                let defaults = match defaults {
                    Some(d) => Some(d.iter().map(|i| i.eval(ctx)).collect::<Result<Vec<_>>>()?),
                    None => None,
                };
                super::object::zip(inputs, *longest, defaults)
            }
            Op::SortArray { input, by } => super::object::sort_array(input.eval(ctx)?, by),
            Op::Quantiles { input, quantiles } => Ok(Some(quantiles.of_value(input.eval(ctx)?.as_ref()))),
            Op::ArrayN { name, n, input } => super::array::n_of_array(name, &n.eval(ctx)?, input.eval(ctx)?),
            Op::DateAdd { subtract, start, unit, amount, timezone } => {
                eval_date_add(ctx, *subtract, start, unit, amount, timezone.as_ref())
            }
            Op::DateTrunc { date, unit, bin_size, timezone, start_of_week } => {
                eval_date_trunc(ctx, date, unit, bin_size.as_ref(), timezone.as_ref(), start_of_week.as_ref())
            }
            Op::DateFromString { date_string, format, timezone, on_null, on_error } => {
                let input = date_string.eval(ctx)?;
                let format_v = match format {
                    Some(f) => {
                        let v = f.eval(ctx)?;
                        match &v {
                            Some(Bson::String(_)) | None | Some(Bson::Null) | Some(Bson::Undefined) => {}
                            Some(other) => {
                                return err(
                                    codes::L40684,
                                    format!(
                                        "$dateFromString requires that 'format' be a string, found: {} with value {}",
                                        crate::types::type_name(other),
                                        crate::display::value(other)
                                    ),
                                )
                            }
                        }
                        Some(v)
                    }
                    None => None,
                };
                let tz = super::date::eval_timezone(timezone.as_ref().map(|t| t.eval(ctx)).transpose()?)?;
                if nullish(&input) {
                    return match on_null {
                        Some(n) => n.eval(ctx),
                        None => Ok(Some(Bson::Null)),
                    };
                }
                let result = (|| -> Result<Value> {
                    let Some(Bson::String(text)) = &input else {
                        let v = input.as_ref().expect("not nullish");
                        return Err(crate::error::QueryError::new(
                            codes::CONVERSION_FAILURE,
                            format!(
                                "$dateFromString requires that 'dateString' be a string, found: {} with value {}",
                                crate::types::type_name(v),
                                crate::display::value(v)
                            ),
                        ));
                    };
                    let Some(tz) = tz else { return Ok(Some(Bson::Null)) };
                    let parsed = match &format_v {
                        Some(Some(Bson::String(f))) => super::date::parse_with_format(text, f),
                        Some(_) => return Ok(Some(Bson::Null)),
                        None => super::date::parse_date_string_with_offset(text),
                    };
                    match parsed {
                        Some((ms, has_offset)) => {
                            let ms = if has_offset { ms } else { tz.instant_of_local(ms) };
                            Ok(Some(Bson::DateTime(bson::DateTime::from_millis(ms))))
                        }
                        None => Err(crate::error::QueryError::new(
                            codes::CONVERSION_FAILURE,
                            format!("Error parsing date string '{text}'"),
                        )),
                    }
                })();
                match result {
                    Err(e) if e.code == codes::CONVERSION_FAILURE.code && on_error.is_some() => {
                        on_error.as_ref().expect("checked").eval(ctx)
                    }
                    other => other,
                }
            }
            Op::DateToParts { date, timezone, iso8601 } => {
                let date_v = date.eval(ctx)?;
                let Some(tz) =
                    super::date::eval_timezone(timezone.as_ref().map(|t| t.eval(ctx)).transpose()?)?
                else {
                    return Ok(Some(Bson::Null));
                };
                let iso = match iso8601 {
                    None => false,
                    Some(n) => match n.eval(ctx)? {
                        v if nullish(&v) => return Ok(Some(Bson::Null)),
                        Some(Bson::Boolean(b)) => b,
                        Some(other) => {
                            return err(
                                codes::L40521,
                                format!(
                                    "iso8601 must evaluate to a bool, found {}",
                                    crate::types::type_name(&other)
                                ),
                            )
                        }
                        None => unreachable!("missing is nullish"),
                    },
                };
                if nullish(&date_v) {
                    return Ok(Some(Bson::Null));
                }
                let millis = super::date::coerce_to_date(date_v.as_ref().expect("not nullish"))?;
                let p = tz.parts(millis);
                let mut out = bson::Document::new();
                if iso {
                    let (y, w) = p.iso_week();
                    out.insert("isoWeekYear", y as i32);
                    out.insert("isoWeek", w as i32);
                    out.insert("isoDayOfWeek", p.iso_day_of_week() as i32);
                } else {
                    out.insert("year", p.year as i32);
                    out.insert("month", p.month as i32);
                    out.insert("day", p.day as i32);
                }
                out.insert("hour", p.hour as i32);
                out.insert("minute", p.minute as i32);
                out.insert("second", p.second as i32);
                out.insert("millisecond", p.millis as i32);
                Ok(Some(Bson::Document(out)))
            }
            Op::DateFromParts { parts, timezone } => {
                let mut values = [0i64; 10];
                let defaults = [1970, 1, 1, 0, 0, 0, 0, 1970, 1, 1];
                for (i, node) in parts.iter().enumerate() {
                    values[i] = defaults[i];
                    let Some(node) = node else { continue };
                    let v = node.eval(ctx)?;
                    if nullish(&v) {
                        return Ok(Some(Bson::Null));
                    }
                    let shown = v.as_ref().expect("not nullish");
                    let Some(n) = crate::numeric::to_exact_i64(shown) else {
                        return err(
                            codes::L40515,
                            format!(
                                "'{}' must evaluate to an integer, found {} with value {}",
                                DATE_PART_NAMES[i],
                                crate::types::type_name(shown),
                                crate::display::value(shown)
                            ),
                        );
                    };
                    if matches!(i, 1..=4 | 8 | 9) && !(-32768..=32767).contains(&n) {
                        return err(
                            codes::L31034,
                            format!(
                                "'{}' must evaluate to a value in the range [-32768, 32767]; value {n} is not in range",
                                DATE_PART_NAMES[i]
                            ),
                        );
                    }
                    values[i] = n;
                }
                let Some(tz) =
                    super::date::eval_timezone(timezone.as_ref().map(|t| t.eval(ctx)).transpose()?)?
                else {
                    return Ok(Some(Bson::Null));
                };
                let [year, month, day, hour, minute, second, millis, iso_year, iso_week, iso_dow] = values;
                let local = if parts[7].is_some() {
                    if !(1..=9999).contains(&iso_year) {
                        return err(
                            codes::L31095,
                            format!("'isoWeekYear' must evaluate to an integer in the range 1 to 9999, found {iso_year}"),
                        );
                    }
                    super::date::from_iso_parts(iso_year, iso_week, iso_dow)
                        + super::date::from_parts(1970, 1, 1, hour, minute, second, millis)
                } else {
                    if !(1..=9999).contains(&year) {
                        return err(
                            codes::L40523,
                            format!(
                                "'year' must evaluate to an integer in the range 1 to 9999, found {year}"
                            ),
                        );
                    }
                    super::date::from_parts(year, month, day, hour, minute, second, millis)
                };
                Ok(Some(Bson::DateTime(bson::DateTime::from_millis(tz.instant_of_local(local)))))
            }
            Op::DateDiff { start, end, unit, timezone, start_of_week } => {
                let s = start.eval(ctx)?;
                if nullish(&s) {
                    return Ok(Some(Bson::Null));
                }
                let e = end.eval(ctx)?;
                if nullish(&e) {
                    return Ok(Some(Bson::Null));
                }
                let u = unit.eval(ctx)?;
                if nullish(&u) {
                    return Ok(Some(Bson::Null));
                }
                let week_start = match (start_of_week, &u) {
                    (Some(n), Some(Bson::String(unit))) if unit == "week" => {
                        match eval_start_of_week("$dateDiff", n, ctx)? {
                            Some(day) => day,
                            None => return Ok(Some(Bson::Null)),
                        }
                    }
                    _ => 1,
                };
                let Some(tz) =
                    super::date::eval_timezone(timezone.as_ref().map(|t| t.eval(ctx)).transpose()?)?
                else {
                    return Ok(Some(Bson::Null));
                };
                let to_date = |v: &Value, which: &str| -> Result<i64> {
                    let v = v.as_ref().expect("not nullish");
                    match v {
                        Bson::DateTime(_) | Bson::Timestamp(_) | Bson::ObjectId(_) => {
                            super::date::coerce_to_date(v)
                        }
                        other => err(
                            codes::L5166307,
                            format!(
                                "$dateDiff requires '{which}' to be a date, but got {}",
                                crate::types::type_name(other)
                            ),
                        ),
                    }
                };
                let (a, b) = (to_date(&s, "startDate")?, to_date(&e, "endDate")?);
                let Some(Bson::String(unit_name)) = &u else {
                    return err(
                        codes::L5439013,
                        format!(
                            "$dateDiff requires 'unit' to be a string, but got {}",
                            super::value_type_name(&u)
                        ),
                    );
                };
                match super::date::date_diff(a, b, unit_name, &tz, week_start) {
                    Some(n) => Ok(Some(Bson::Int64(n))),
                    None => err(
                        codes::L5439014,
                        format!("$dateDiff parameter 'unit' value cannot be recognized as a time unit: {unit_name}"),
                    ),
                }
            }
        }
    }
}

/// A `startOfWeek` argument as a day number (1 = Sunday); `None` when null.
fn eval_start_of_week(op: &str, node: &Node, ctx: &Ctx) -> Result<Option<u32>> {
    match node.eval(ctx)? {
        v if nullish(&v) => Ok(None),
        Some(Bson::String(name)) => match super::date::day_of_week_number(&name) {
            Some(day) => Ok(Some(day)),
            None => err(
                codes::L5439016,
                format!("{op} parameter 'startOfWeek' value cannot be recognized as a day of a week: {name}"),
            ),
        },
        other => err(
            codes::L5439015,
            format!("{op} requires 'startOfWeek' to be a string, but got {}", super::value_type_name(&other)),
        ),
    }
}

/// A non-null `unit` argument.
fn time_unit(op: &str, v: &Value) -> Result<super::date::TimeUnit> {
    let Some(Bson::String(name)) = v else {
        return err(
            codes::L5439013,
            format!("{op} requires 'unit' to be a string, but got {}", super::value_type_name(v)),
        );
    };
    match super::date::TimeUnit::from_name(name) {
        Some(unit) => Ok(unit),
        None => err(
            codes::L5439014,
            format!("{op} parameter 'unit' value cannot be recognized as a time unit: {name}"),
        ),
    }
}

/// `$dateAdd`/`$dateSubtract`: null when the date, unit, amount or zone
/// is; the date and amount are checked last, as MongoDB does.
fn eval_date_add(
    ctx: &Ctx,
    subtract: bool,
    start: &Node,
    unit: &Node,
    amount: &Node,
    timezone: Option<&Node>,
) -> Result<Value> {
    let op = if subtract { "$dateSubtract" } else { "$dateAdd" };
    let start = start.eval(ctx)?;
    if nullish(&start) {
        return Ok(Some(Bson::Null));
    }
    let unit = unit.eval(ctx)?;
    if nullish(&unit) {
        return Ok(Some(Bson::Null));
    }
    let unit = time_unit(op, &unit)?;
    let amount = amount.eval(ctx)?;
    if nullish(&amount) {
        return Ok(Some(Bson::Null));
    }
    let Some(tz) = super::date::eval_timezone(timezone.map(|t| t.eval(ctx)).transpose()?)? else {
        return Ok(Some(Bson::Null));
    };
    let start = match start.as_ref().expect("not nullish") {
        v @ (Bson::DateTime(_) | Bson::Timestamp(_) | Bson::ObjectId(_)) => super::date::coerce_to_date(v)?,
        _ => return err(codes::L5166403, format!("{op} requires startDate to be convertible to a date")),
    };
    let Some(amount) = amount.as_ref().and_then(crate::numeric::to_exact_i64) else {
        return err(codes::L5166405, format!("{op} expects integer amount of time units"));
    };
    let amount = if subtract {
        match amount.checked_neg() {
            Some(negated) => negated,
            None => {
                return err(
                    codes::L6045000,
                    format!("invalid $dateSubtract 'amount' parameter value: {amount}"),
                )
            }
        }
    } else {
        amount
    };
    let end = super::date::date_add(start, unit, amount, &tz)?;
    Ok(Some(Bson::DateTime(bson::DateTime::from_millis(end))))
}

/// `$dateTrunc`: null when the date, bin size, unit, start of week (for
/// weeks) or zone is.
fn eval_date_trunc(
    ctx: &Ctx,
    date: &Node,
    unit: &Node,
    bin_size: Option<&Node>,
    timezone: Option<&Node>,
    start_of_week: Option<&Node>,
) -> Result<Value> {
    let date = date.eval(ctx)?;
    if nullish(&date) {
        return Ok(Some(Bson::Null));
    }
    let bin_size = match bin_size {
        None => 1,
        Some(node) => {
            let v = node.eval(ctx)?;
            if nullish(&v) {
                return Ok(Some(Bson::Null));
            }
            let shown = v.as_ref().expect("not nullish");
            let Some(n) = crate::numeric::to_exact_i64(shown) else {
                return err(
                    codes::L5439017,
                    format!(
                        "$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '{}' of type {}",
                        crate::display::value(shown),
                        crate::types::type_name(shown)
                    ),
                );
            };
            if n <= 0 {
                return err(
                    codes::L5439018,
                    format!("$dateTrunc requires 'binSize' to be greater than 0, but got value {n}"),
                );
            }
            n
        }
    };
    let unit = unit.eval(ctx)?;
    if nullish(&unit) {
        return Ok(Some(Bson::Null));
    }
    let unit = time_unit("$dateTrunc", &unit)?;
    let week_start = match start_of_week {
        Some(node) if unit == super::date::TimeUnit::Week => {
            match eval_start_of_week("$dateTrunc", node, ctx)? {
                Some(day) => day,
                None => return Ok(Some(Bson::Null)),
            }
        }
        _ => 1,
    };
    let Some(tz) = super::date::eval_timezone(timezone.map(|t| t.eval(ctx)).transpose()?)? else {
        return Ok(Some(Bson::Null));
    };
    let date = match date.as_ref().expect("not nullish") {
        v @ (Bson::DateTime(_) | Bson::Timestamp(_) | Bson::ObjectId(_)) => super::date::coerce_to_date(v)?,
        other => {
            return err(
                codes::L5166307,
                format!(
                    "$dateTrunc requires 'date' to be a date, but got {}",
                    crate::types::type_name(other)
                ),
            )
        }
    };
    let start = super::date::date_trunc(date, unit, bin_size, &tz, week_start)?;
    Ok(Some(Bson::DateTime(bson::DateTime::from_millis(start))))
}

fn eval_func(f: Func, name: &str, mut args: Vec<Value>) -> Result<Value> {
    use super::{arith, array, string};
    match f {
        Func::Add => arith::add(args),
        Func::Subtract => arith::subtract(take2(&mut args)),
        Func::Multiply => arith::multiply(args),
        Func::Divide => arith::divide(take2(&mut args)),
        Func::Mod => arith::modulo(take2(&mut args)),
        Func::Abs | Func::Ceil | Func::Floor | Func::Exp | Func::Ln | Func::Log10 | Func::Sqrt => {
            arith::unary(f, name, args.pop().expect("arity 1"))
        }
        Func::Log => arith::log(take2(&mut args)),
        Func::Sin
        | Func::Cos
        | Func::Tan
        | Func::Asin
        | Func::Acos
        | Func::Atan
        | Func::Sinh
        | Func::Cosh
        | Func::Tanh
        | Func::Asinh
        | Func::Acosh
        | Func::Atanh
        | Func::DegreesToRadians
        | Func::RadiansToDegrees
        | Func::Sigmoid => arith::trig(f, name, args.pop().expect("arity 1")),
        Func::Atan2 => arith::atan2(take2(&mut args)),
        Func::BitAnd | Func::BitOr | Func::BitXor | Func::BitNot => arith::bitwise(f, name, args),
        Func::TsSecond => super::convert::timestamp_part(false, &args[0]),
        Func::TsIncrement => super::convert::timestamp_part(true, &args[0]),
        Func::BinarySize => super::convert::binary_size(&args[0]),
        Func::BsonSize => super::convert::bson_size(&args[0]),
        Func::ToUuid => super::convert::to_uuid(&args[0]),
        Func::Pow => arith::pow(take2(&mut args)),
        Func::Round | Func::Trunc => arith::round_or_trunc(f == Func::Round, name, args),
        Func::Eq | Func::Ne | Func::Gt | Func::Gte | Func::Lt | Func::Lte | Func::Cmp => {
            let ord = compare_values(&args[0], &args[1]);
            use std::cmp::Ordering::*;
            let b = match f {
                Func::Eq => ord == Equal,
                Func::Ne => ord != Equal,
                Func::Gt => ord == Greater,
                Func::Gte => ord != Less,
                Func::Lt => ord == Less,
                Func::Lte => ord != Greater,
                _ => {
                    return Ok(Some(Bson::Int32(match ord {
                        Less => -1,
                        Equal => 0,
                        Greater => 1,
                    })))
                }
            };
            Ok(Some(Bson::Boolean(b)))
        }
        Func::Not => Ok(Some(Bson::Boolean(!truthy(&args[0])))),
        Func::Concat => string::concat(args),
        Func::SubstrBytes => string::substr_bytes(args),
        Func::SubstrCP => string::substr_cp(args),
        Func::ToLower => Ok(Some(Bson::String(string::coerce_to_string(&args[0])?.to_ascii_lowercase()))),
        Func::ToUpper => Ok(Some(Bson::String(string::coerce_to_string(&args[0])?.to_ascii_uppercase()))),
        Func::StrLenBytes => string::str_len(false, &args[0]),
        Func::StrLenCP => string::str_len(true, &args[0]),
        Func::Split => string::split(take2(&mut args)),
        Func::IndexOfBytes => string::index_of(false, args),
        Func::IndexOfCP => string::index_of(true, args),
        Func::Strcasecmp => {
            let a = string::coerce_to_string(&args[0])?.to_ascii_uppercase();
            let b = string::coerce_to_string(&args[1])?.to_ascii_uppercase();
            Ok(Some(Bson::Int32(match a.cmp(&b) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            })))
        }
        Func::Size => array::size(&args[0]),
        Func::ArrayElemAt => array::elem_at(name, 2, take2(&mut args)),
        Func::First => array::elem_at(name, 1, (args.pop().expect("arity 1"), Some(Bson::Int32(0)))),
        Func::Last => array::elem_at(name, 1, (args.pop().expect("arity 1"), Some(Bson::Int32(-1)))),
        Func::In => array::in_array(take2(&mut args)),
        Func::ConcatArrays => array::concat_arrays(args),
        Func::Slice => array::slice(args),
        Func::ReverseArray => array::reverse(args.pop().expect("arity 1")),
        Func::Range => array::range(args),
        Func::IsArray => Ok(Some(Bson::Boolean(matches!(args[0], Some(Bson::Array(_)))))),
        Func::IndexOfArray => array::index_of_array(args),
        Func::AllElementsTrue | Func::AnyElementTrue => {
            array::all_or_any(f == Func::AllElementsTrue, name, &args[0])
        }
        Func::SetUnion
        | Func::SetIntersection
        | Func::SetDifference
        | Func::SetEquals
        | Func::SetIsSubset => array::set_op(f, name, args),
        Func::MergeObjects => array::merge_objects(args),
        Func::ObjectToArray => array::object_to_array(&args[0]),
        Func::ArrayToObject => array::array_to_object(&args[0]),
        Func::Type => Ok(Some(Bson::String(super::value_type_name(&args[0]).to_string()))),
        Func::IsNumber => Ok(Some(Bson::Boolean(args[0].as_ref().is_some_and(crate::numeric::is_number)))),
        Func::Sum | Func::Avg | Func::Min | Func::Max => arith::list_reduction(f, args),
    }
}

/// The result of a comparison operator from the order of its arguments.
fn comparison(f: Func) -> Option<fn(std::cmp::Ordering) -> Bson> {
    use std::cmp::Ordering;
    Some(match f {
        Func::Eq => |o: Ordering| Bson::Boolean(o.is_eq()),
        Func::Ne => |o: Ordering| Bson::Boolean(o.is_ne()),
        Func::Gt => |o: Ordering| Bson::Boolean(o.is_gt()),
        Func::Gte => |o: Ordering| Bson::Boolean(o.is_ge()),
        Func::Lt => |o: Ordering| Bson::Boolean(o.is_lt()),
        Func::Lte => |o: Ordering| Bson::Boolean(o.is_le()),
        Func::Cmp => |o: Ordering| {
            Bson::Int32(match o {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            })
        },
        _ => return None,
    })
}

fn take2(args: &mut Vec<Value>) -> (Value, Value) {
    let b = args.pop().expect("arity 2");
    let a = args.pop().expect("arity 2");
    (a, b)
}

/// `{$function: {body, args, lang: "js"}}`.
fn parse_function(arg: &Bson, scope: &mut ParseScope) -> Result<Op> {
    let Bson::Document(d) = arg else {
        return err(codes::L31260, "$function requires an object as an argument");
    };
    let (mut body, mut args) = (None, Vec::new());
    for (k, v) in d {
        match k.as_str() {
            "body" => body = Some(crate::js::JsFunction::parse(v, "$function's body")?),
            "args" => match v {
                Bson::Array(a) => {
                    args = a.iter().map(|x| parse_operand(x, scope)).collect::<Result<_>>()?;
                }
                _ => return err(codes::L31266, "The 'args' field of $function must be an array"),
            },
            "lang" if v.as_str() == Some("js") => {}
            "lang" => return err(codes::L31418, "$function currently only supports language 'js'"),
            other => return err(codes::L31261, format!("$function: unknown argument {other}")),
        }
    }
    if !d.contains_key("lang") {
        return err(codes::L31418, "$function requires 'lang' to be specified ('js')");
    }
    let Some(body) = body else {
        return err(codes::L31262, "$function requires 'body' to be specified");
    };
    Ok(Op::Function { body, args })
}
