//! BSON type names and numbers as MongoDB spells them (`$type`, messages).

use bson::Bson;

use crate::error::{codes, err, Result};

/// MongoDB's alias for a value's type ("double", "string", "objectId", ...).
pub fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::DbPointer(_) => "dbPointer",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::Symbol(_) => "symbol",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::MinKey => "minKey",
        Bson::MaxKey => "maxKey",
    }
}

/// The BSON type number of a value (`-1` for MinKey, `127` for MaxKey).
pub fn type_code(v: &Bson) -> i32 {
    match v {
        Bson::Double(_) => 1,
        Bson::String(_) => 2,
        Bson::Document(_) => 3,
        Bson::Array(_) => 4,
        Bson::Binary(_) => 5,
        Bson::Undefined => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Null => 10,
        Bson::RegularExpression(_) => 11,
        Bson::DbPointer(_) => 12,
        Bson::JavaScriptCode(_) => 13,
        Bson::Symbol(_) => 14,
        Bson::JavaScriptCodeWithScope(_) => 15,
        Bson::Int32(_) => 16,
        Bson::Timestamp(_) => 17,
        Bson::Int64(_) => 18,
        Bson::Decimal128(_) => 19,
        Bson::MinKey => -1,
        Bson::MaxKey => 127,
    }
}

/// The type number for a type alias, as accepted by `$type` and `$convert`.
pub fn code_for_alias(alias: &str) -> Option<i32> {
    Some(match alias {
        "double" => 1,
        "string" => 2,
        "object" => 3,
        "array" => 4,
        "binData" => 5,
        "undefined" => 6,
        "objectId" => 7,
        "bool" => 8,
        "date" => 9,
        "null" => 10,
        "regex" => 11,
        "dbPointer" => 12,
        "javascript" => 13,
        "symbol" => 14,
        "javascriptWithScope" => 15,
        "int" => 16,
        "timestamp" => 17,
        "long" => 18,
        "decimal" => 19,
        "minKey" => -1,
        "maxKey" => 127,
        _ => return None,
    })
}

/// The alias for a type number.
pub fn alias_for_code(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "double",
        2 => "string",
        3 => "object",
        4 => "array",
        5 => "binData",
        6 => "undefined",
        7 => "objectId",
        8 => "bool",
        9 => "date",
        10 => "null",
        11 => "regex",
        12 => "dbPointer",
        13 => "javascript",
        14 => "symbol",
        15 => "javascriptWithScope",
        16 => "int",
        17 => "timestamp",
        18 => "long",
        19 => "decimal",
        -1 => "minKey",
        127 => "maxKey",
        _ => return None,
    })
}

fn bit(code: i32) -> u32 {
    match code {
        -1 => 1 << 0,
        127 => 1 << 20,
        c => 1 << c,
    }
}

/// The set of types a `$type` query accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TypeSet {
    bits: u32,
}

impl TypeSet {
    pub(crate) const EMPTY: TypeSet = TypeSet { bits: 0 };

    pub(crate) fn contains(&self, v: &Bson) -> bool {
        self.contains_code(type_code(v))
    }

    /// Whether the set holds the type with this number (see [`type_code`]).
    pub(crate) fn contains_code(&self, code: i32) -> bool {
        self.bits & bit(code) != 0
    }

    /// Adds one type by its number (see [`code_for_alias`]).
    pub(crate) fn insert_code(&mut self, code: i32) {
        self.bits |= bit(code);
    }

    /// Adds every numeric type (the "number" alias).
    pub(crate) fn insert_numbers(&mut self) {
        self.bits |= bit(1) | bit(16) | bit(18) | bit(19);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// Parses the argument of `$type`: a number, an alias, "number", or an
    /// array of those.
    pub(crate) fn parse(spec: &Bson) -> Result<TypeSet> {
        let mut set = TypeSet::EMPTY;
        match spec {
            Bson::Array(items) => {
                for item in items {
                    set.add(item)?;
                }
            }
            other => set.add(other)?,
        }
        Ok(set)
    }

    fn add(&mut self, spec: &Bson) -> Result<()> {
        match spec {
            Bson::String(s) => {
                if s == "number" {
                    self.insert_numbers();
                } else if let Some(code) = code_for_alias(s) {
                    self.insert_code(code);
                } else {
                    return err(codes::BAD_VALUE, format!("Unknown type name alias: {s}"));
                }
            }
            Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
                let f = crate::numeric::to_f64(spec).unwrap_or(f64::NAN);
                let code = f as i32;
                if f.fract() != 0.0 || alias_for_code(code).is_none() {
                    return err(
                        codes::BAD_VALUE,
                        format!("Invalid numerical type code: {}", crate::display::value(spec)),
                    );
                }
                self.bits |= bit(code);
            }
            _ => {
                return err(codes::TYPE_MISMATCH, "type must be represented as a number or a string");
            }
        }
        Ok(())
    }
}
