//! Query errors carrying MongoDB's numeric codes and code names.
//!
//! Drivers branch on the code, so every error path uses the code MongoDB
//! itself returns for the same input. The table below is the one place these
//! numbers live; codes without a name in MongoDB's `error_codes.yml` are
//! "location" codes, whose code name is `Location<code>`.

use std::fmt;

/// A MongoDB error code with its code name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode {
    pub code: i32,
    pub name: &'static str,
}

macro_rules! named {
    ($($ident:ident = $code:literal $name:literal;)*) => {
        $(pub const $ident: ErrorCode = ErrorCode { code: $code, name: $name };)*
    };
}

macro_rules! location {
    ($($ident:ident = $code:literal;)*) => {
        $(pub const $ident: ErrorCode =
            ErrorCode { code: $code, name: concat!("Location", stringify!($code)) };)*
    };
}

/// MongoDB's error codes used by this crate.
pub mod codes {
    use super::ErrorCode;

    named! {
        INTERNAL_ERROR = 1 "InternalError";
        BAD_VALUE = 2 "BadValue";
        FAILED_TO_PARSE = 9 "FailedToParse";
        TYPE_MISMATCH = 14 "TypeMismatch";
        OVERFLOW = 15 "Overflow";
        INVALID_LENGTH = 16 "InvalidLength";
        PATH_NOT_VIABLE = 28 "PathNotViable";
        CONFLICTING_UPDATE_OPERATORS = 40 "ConflictingUpdateOperators";
        DOLLAR_PREFIXED_FIELD_NAME = 52 "DollarPrefixedFieldName";
        INVALID_ID_FIELD = 53 "InvalidIdField";
        EMPTY_FIELD_NAME = 56 "EmptyFieldName";
        IMMUTABLE_FIELD = 66 "ImmutableField";
        INVALID_OPTIONS = 72 "InvalidOptions";
        INVALID_NAMESPACE = 73 "InvalidNamespace";
        INVALID_PIPELINE_OPERATOR = 168 "InvalidPipelineOperator";
        NOT_IMPLEMENTED = 238 "NotImplemented";
        JS_INTERPRETER_FAILURE = 139 "JSInterpreterFailure";
        CONVERSION_FAILURE = 241 "ConversionFailure";
        QUERY_FEATURE_NOT_ALLOWED = 224 "QueryFeatureNotAllowed";
        INDEX_NOT_FOUND = 27 "IndexNotFound";
        NOT_SINGLE_VALUE_FIELD = 54 "NotSingleValueField";
        EXCEEDED_MEMORY_LIMIT = 146 "ExceededMemoryLimit";
        NO_QUERY_EXECUTION_PLANS = 291 "NoQueryExecutionPlans";
    }

    location! {
        L31260 = 31260; // $function requires an object
        L31261 = 31261; // $function: unknown argument
        L31262 = 31262; // $function requires 'body'
        L31266 = 31266; // $function's args must be an array
        L31418 = 31418; // $function/$accumulator only support lang 'js'
        L4544702 = 4544702; // $accumulator expects an object
        L4544709 = 4544709; // $accumulator missing a required argument
        L4544711 = 4544711; // $accumulator's args must be arrays
        L4544712 = 4544712; // $accumulator: unrecognized field
        // expression and field path parsing
        L15983 = 15983; // an expression object must have exactly one field
        L15998 = 15998; // FieldPath field names may not be empty strings
        L16020 = 16020; // Expression $x takes exactly N arguments
        L16410 = 16410; // FieldPath field names may not start with '$'
        L16411 = 16411; // FieldPath field names may not contain '\0'
        L16412 = 16412; // FieldPath field names may not contain '.'
        L16872 = 16872; // '$' by itself is not a valid FieldPath
        L16866 = 16866; // empty variable names are not allowed
        L16867 = 16867; // variable names must start with a lowercase letter
        L16868 = 16868; // variable names may only contain letters, digits, '_'
        L16869 = 16869; // empty variable name
        L16870 = 16870; // variable name may not contain '.'
        L17276 = 17276; // Use of undefined variable
        L40352 = 40352; // FieldPath cannot be constructed with empty string
        L40353 = 40353; // FieldPath must not end with a '.'
        L16406 = 16406; // duplicate field name specified in object literal
        L28667 = 28667; // takes at least / at most N arguments
        // arithmetic
        L16612 = 16612; // only one date allowed in an $add expression
        L16610 = 16610; // can't $mod by zero
        L16611 = 16611; // $mod only supports numeric types
        L28765 = 28765; // $ln's argument must be numeric
        L28766 = 28766; // $ln's argument must be a positive number
        L28761 = 28761; // $log10 requires a positive number
        L28762 = 28762; // $pow's base must be numeric
        L28763 = 28763; // $pow's exponent must be numeric
        L28764 = 28764; // $pow cannot take a base of 0 and a negative exponent
        L28714 = 28714; // $sqrt's argument must be greater than or equal to 0
        L51080 = 51080; // $round/$trunc place must be an integer
        L51081 = 51081; // $round/$trunc first argument must be numeric
        L51082 = 51082; // $round/$trunc place out of range
        // strings
        L16702 = 16702; // $concat only supports strings
        L16007 = 16007; // can't convert from BSON type X to String
        L16034 = 16034; // $substrBytes: starting index must be a numeric type
        L16035 = 16035; // $substrBytes: length must be a numeric type
        L28656 = 28656; // $substrBytes: Invalid range, starting index is a UTF-8 continuation byte
        L28657 = 28657; // $substrBytes: Invalid range, ending index is in the middle of a UTF-8 character
        L34450 = 34450; // $substrCP: starting index must be a numeric type
        L34451 = 34451; // $substrCP: starting index cannot be represented as a 32-bit integral value
        L34452 = 34452; // $substrCP: length must be a numeric type
        L34453 = 34453; // $substrCP: length cannot be represented as a 32-bit integral value
        L34454 = 34454; // $substrCP: length must be a nonnegative integer
        L34455 = 34455; // $substrCP: the starting index must be nonnegative integer
        L34471 = 34471; // $strLenCP requires a string argument
        L34473 = 34473; // $strLenBytes requires a string argument
        L40085 = 40085; // $split requires an expression that evaluates to a string as a first argument
        L40086 = 40086; // $split requires an expression that evaluates to a string as a second argument
        L40087 = 40087; // $split requires a non-empty separator
        L40091 = 40091; // $indexOfBytes requires a string as the first argument
        L40092 = 40092; // $indexOfBytes requires a string as the second argument
        L40096 = 40096; // $indexOfBytes requires an integral starting index
        L40097 = 40097; // $indexOfBytes requires a nonnegative start index
        L50700 = 50700; // $trim requires 'chars' to be a string
        L50695 = 50695; // $trim found an unknown argument
        L50696 = 50696; // $trim requires an object
        L50699 = 50699; // $trim requires 'input'
        L51104 = 51104; // $regexMatch 'input' must be a string
        L51105 = 51105; // $regexMatch 'regex' must be a string or regex
        L51106 = 51106; // $regexMatch 'options' must be a string
        L51107 = 51107; // $regexMatch 'options' conflicts with regex flags
        L51108 = 51108; // invalid flag in regex options
        L51111 = 51111; // regex invalid
        L51103 = 51103; // $regexMatch expects an object
        L51746 = 51746; // $replaceAll requires 'input', 'find', 'replacement' to be strings
        L51750 = 51750; // $replaceAll expects an object
        L51749 = 51749; // $replaceAll found an unknown argument
        L51748 = 51748; // $replaceAll requires 'input'
        L51747 = 51747; // $replaceAll requires 'find'
        L51745 = 51745; // $replaceAll requires 'replacement'
        // arrays
        L17124 = 17124; // The argument to $size must be an array
        L28689 = 28689; // $arrayElemAt's first argument must be an array
        L28690 = 28690; // $arrayElemAt's second argument must be a numeric value
        L28691 = 28691; // $arrayElemAt's second argument must be representable as a 32-bit integer
        L28664 = 28664; // $concatArrays only supports arrays
        L28646 = 28646; // input to $filter must be an array
        L28647 = 28647; // Unrecognized parameter to $filter
        L28648 = 28648; // Missing parameter to $filter
        L16883 = 16883; // input to $map must be an array
        L16879 = 16879; // Unrecognized parameter to $map
        L16882 = 16882; // Missing parameter to $map
        L40081 = 40081; // $in requires an array as a second argument
        L34435 = 34435; // The argument to $reverseArray must be an array
        L28724 = 28724; // First argument to $slice must be an array
        L28725 = 28725; // Second argument to $slice must be a numeric value
        L28726 = 28726; // Second/third argument to $slice must be representable as a 32-bit integer
        L28727 = 28727; // Third argument to $slice must be numeric
        L28729 = 28729; // Third argument to $slice must be positive
        L34443 = 34443; // $range requires a numeric starting value
        L34444 = 34444; // $range requires a starting value that can be represented as a 32-bit integer
        L34445 = 34445; // $range requires a numeric ending value
        L34446 = 34446; // $range requires an ending value that can be represented as a 32-bit integer
        L34447 = 34447; // $range requires a numeric step value
        L34448 = 34448; // $range requires a step value that can be represented as a 32-bit integer
        L34449 = 34449; // $range requires a non-zero step value
        L40076 = 40076; // $reduce: unrecognized parameter
        L40080 = 40080; // $reduce input must be an array
        L40390 = 40390; // $objectToArray requires a document input
        L40386 = 40386; // $arrayToObject requires an array input
        L40398 = 40398; // $arrayToObject: unrecognised input type
        L40397 = 40397; // $arrayToObject requires an object with keys 'k' and 'v'
        L40392 = 40392; // $arrayToObject requires an object keys of 'k' and 'v'
        L40394 = 40394; // $arrayToObject requires an object with a string 'k'
        L40395 = 40395; // $arrayToObject requires an array of key-value pairs of length 2
        L40396 = 40396; // $arrayToObject requires each element of the array to be an object or array
        L40391 = 40391; // $arrayToObject: array must be of length 2
        L4940400 = 4940400; // $arrayToObject: key must not contain null byte
        L40400 = 40400; // $mergeObjects requires object inputs
        // conditionals
        L17080 = 17080; // Missing 'if' parameter to $cond
        L17081 = 17081; // Missing 'then' parameter to $cond
        L17082 = 17082; // Missing 'else' parameter to $cond
        L17083 = 17083; // Unrecognized parameter to $cond
        L40060 = 40060; // $switch requires at least one branch
        L40061 = 40061; // $switch expected an array for 'branches'
        L40062 = 40062; // $switch expected each branch to be an object
        L40063 = 40063; // $switch found an unknown argument to a branch
        L40064 = 40064; // $switch requires each branch have a 'case' expression
        L40065 = 40065; // $switch requires each branch have a 'then' expression
        L40066 = 40066; // $switch could not find a matching branch
        L40067 = 40067; // $switch found an unknown argument
        L40068 = 40068; // $switch requires at least one branch
        L1257300 = 1257300; // $ifNull needs at least two arguments
        // $let
        L16874 = 16874; // $let only supports an object as its argument
        L16875 = 16875; // Unrecognized parameter to $let
        L16876 = 16876; // Missing 'vars' parameter to $let
        L16877 = 16877; // Missing 'in' parameter to $let
        L10065 = 10065; // invalid parameter: expected an object
        // dates
        L16006 = 16006; // can't convert from BSON type X to Date
        L18533 = 18533; // $dateToString requires that 'format' be a string
        L18534 = 18534; // Unrecognized parameter to $dateToString
        L18535 = 18535; // Unmatched '%' at end of format string
        L18536 = 18536; // Invalid format character
        L18628 = 18628; // Missing 'date' parameter to $dateToString
        L18629 = 18629; // $dateToString expects an object
        L40485 = 40485; // unrecognized time zone identifier
        L40517 = 40517; // timezone must evaluate to a string
        L40535 = 40535; // $year etc: missing 'date'
        L40536 = 40536; // $year etc: unrecognized argument
        // $convert / $toX
        // projection
        L31253 = 31253; // Cannot do inclusion on field X in exclusion projection
        L31254 = 31254; // Cannot do exclusion on field X in inclusion projection
        L31249 = 31249; // Path collision at X remaining portion Y
        L31250 = 31250; // Path collision at X
        L31324 = 31324; // Cannot use positional projection in aggregation projection
        L31394 = 31394; // positional projection must be last / only one
        L31395 = 31395; // positional projection cannot be used with exclusion
        L31276 = 31276; // Cannot specify more than one positional projection per query
        L31257 = 31257; // $slice limit must be positive
        L31275 = 31275; // $elemMatch on a dotted path
        L51246 = 51246; // positional operator '.$' couldn't find a matching element
        L51247 = 51247; // positional operator '.$' element mismatch
        L51270 = 51270; // An empty sub-projection is not a valid value
        L51272 = 51272; // Invalid $project :: caused by :: projection specification must have at least one field
        // sort
        L15973 = 15973; // the $sort key specification must be an object
        L15974 = 15974; // Illegal key in $sort specification
        L15975 = 15975; // $sort key ordering must be 1 or -1
        L15976 = 15976; // $sort stage must have at least one sort key
        L17312 = 17312; // $meta is the only expression supported by $sort right now
        // $text and text scores
        L17313 = 17313; // $match with $text is only allowed as the first pipeline stage
        L40218 = 40218; // query requires text score metadata, but it is not available
        L40602 = 40602; // a stage that is only valid as the first stage of a pipeline
        // trigonometry, $zip, $getField/$setField, $sortArray, $tsSecond, sizes
        L50989 = 50989; // cannot apply $acos to 2, value must in [-1,1]
        L34460 = 34460; // $zip: inputs must be an array of expressions
        L34461 = 34461; // $zip: defaults must be an array
        L34464 = 34464; // $zip found an unknown argument
        L34465 = 34465; // $zip requires at least one input array
        L34466 = 34466; // $zip: defaults need useLongestLength
        L34467 = 34467; // $zip: defaults and inputs differ in length
        L34468 = 34468; // $zip found a non-array expression in input
        L34469 = 34469; // $zip: useLongestLength must be a bool
        L3041701 = 3041701; // $getField: unknown argument
        L3041702 = 3041702; // $getField: missing 'field'
        L3041703 = 3041703; // $getField: 'field' must be a string
        L3041705 = 3041705; // $getField: 'input' must be an object
        L4161101 = 4161101; // $setField: unknown argument
        L4161102 = 4161102; // $setField: missing 'field'
        L4161103 = 4161103; // $setField: missing 'input'
        L4161104 = 4161104; // $setField: missing 'value'
        L4161105 = 4161105; // $setField: 'input' must be an object
        L4161106 = 4161106; // $setField: 'field' must be a constant string
        L2942500 = 2942500; // $sortArray: argument must be an object
        L2942501 = 2942501; // $sortArray: unknown argument
        L2942502 = 2942502; // $sortArray: missing 'input'
        L2942503 = 2942503; // $sortArray: missing 'sortBy'
        L2942504 = 2942504; // $sortArray: input must be an array
        L5687301 = 5687301; // $tsSecond: argument must be a timestamp
        L5687302 = 5687302; // $tsIncrement: argument must be a timestamp
        L51276 = 51276; // $binarySize requires a string or BinData argument
        L31393 = 31393; // $bsonSize requires a document input
        L17308 = 17308; // Unsupported argument to $meta
        L17283 = 17283; // weight for text index needs numeric type
        L17284 = 17284; // text index option 'weights' must be an object
        L16674 = 16674; // score for word too high
        L17291 = 17291; // weight cannot have empty path component
        L17292 = 17292; // weight cannot have path component with $ prefix
        L17263 = 17263; // default_language needs a string type
        L17264 = 17264; // default_language is not valid
        L17136 = 17136; // language_override is not valid
        // pipeline stages
        L40323 = 40323; // A pipeline stage specification object must contain exactly one field
        L40324 = 40324; // Unrecognized pipeline stage name
        L15955 = 15955; // a group specification must include an _id
        L15947 = 15947; // a group's fields must be specified in an object
        L40234 = 40234; // The field 'x' must be an accumulator object
        L40236 = 40236; // The field name 'x' cannot be an operator name
        L40237 = 40237; // The X accumulator is a unary operator
        L40238 = 40238; // The field 'x' must specify one accumulator
        L15952 = 15952; // unknown group operator
        L15958 = 15958; // the limit must be positive
        L15956 = 15956; // argument to $skip must be a number
        L15957 = 15957; // the limit must be specified as a number
        L15959 = 15959; // the match filter must be an expression in an object
        L15969 = 15969; // $project specification must be an object
        L5107200 = 5107200; // invalid argument to $skip stage
        L5107201 = 5107201; // invalid argument to $limit stage
        L15981 = 15981; // expected either a string or an object as specification for $unwind stage
        L28808 = 28808; // $unwind: includeArrayIndex must be a string
        L28809 = 28809; // $unwind: preserveNullAndEmptyArrays must be a boolean
        L28810 = 28810; // $unwind: includeArrayIndex must be a non-empty string... / unrecognized option
        L28811 = 28811; // $unwind: unrecognized option
        L28812 = 28812; // no path specified to $unwind stage
        L28818 = 28818; // path option to $unwind stage should be prefixed with a '$'
        L28822 = 28822; // includeArrayIndex option to $unwind stage should not be prefixed with a '$'
        L40156 = 40156; // the count field must be a non-empty string
        L40157 = 40157; // the count field must be a non-empty string
        L40158 = 40158; // the count field cannot be a $-prefixed path
        L40160 = 40160; // the count field cannot contain '.'
        L40148 = 40148; // $sortByCount requires expression
        L40228 = 40228; // 'newRoot' / 'replacement' must evaluate to an object
        L40229 = 40229; // expected an object as specification for $replaceRoot stage
        L40272 = 40272; // $addFields specification stage must be an object
        L40169 = 40169; // $facet specification must be an object
        L40170 = 40170; // $facet: arguments must be arrays of stages
        L40171 = 40171; // $facet: sub-pipeline must be an array of objects
        L40600 = 40600; // $out/$merge only as the final stage
        L40601 = 40601; // $out/$merge only allowed as the last stage
        L28745 = 28745; // $sample size must be a non-negative number
        L28746 = 28746; // $sample: size argument required
        L28748 = 28748; // $sample: unrecognized option
        L28749 = 28749; // $sample: size must be a number
        L40191 = 40191; // $bucket: boundaries must be constants
        L40193 = 40193; // $bucket: boundaries of one type
        L40194 = 40194; // $bucket: boundaries sorted ascending
        L40195 = 40195; // $bucket: 'default' must be a constant
        L40196 = 40196; // $bucket: 'output' must be an object
        L40198 = 40198; // $bucket requires 'groupBy' and 'boundaries'
        L40197 = 40197; // $bucket: unrecognized option
        L40199 = 40199; // $bucket: default must be less than lowest boundary or >= highest
        L40201 = 40201; // $bucket: 'groupBy' must be an expression
        L40202 = 40202; // $bucket: groupBy must be a $-prefixed path or an expression object
        L40192 = 40192; // $bucket: at least 2 boundaries
        L40200 = 40200; // $bucket: 'boundaries' must be an array
        L31002 = 31002; // $unset specification must be a string or an array
        L31119 = 31119; // $unset specification must be a string or an array with at least one field
        L31120 = 31120; // $unset specification must be a string or an array containing only string values
        L51178 = 51178; // $merge: 'into' must be string or object
        L40414 = 40414; // BSON field is missing but a required field
        L40415 = 40415; // BSON field is an unknown field
    }

    location! {
        L18537 = 18537; // $dateToString is only defined on year 0-9999
        L17045 = 17045; // $setEquals needs at least two arguments
        L17040 = 17040; // $allElementsTrue's argument must be an array
        L17041 = 17041; // $anyElementTrue's argument must be an array
        L17042 = 17042; // $setIsSubset second argument must be an array
        L17043 = 17043; // $setUnion operands must be arrays
        L17044 = 17044; // $setEquals operands must be arrays
        L17046 = 17046; // $setIsSubset first argument must be an array
        L17047 = 17047; // $setIntersection operands must be arrays
        L17048 = 17048; // $setDifference first argument must be an array
        L17049 = 17049; // $setDifference second argument must be an array
        L28680 = 28680; // can't take $abs of long long min
        L28756 = 28756; // $log's argument must be numeric
        L28757 = 28757; // $log's base must be numeric
        L28758 = 28758; // $log's argument must be a positive number
        L28759 = 28759; // $log's base must be a positive number not equal to 1
        L5733415 = 5733415; // can't $mod by zero (decimal)
        L51083 = 51083; // $round/$trunc precision out of range
        L50752 = 50752; // $substrBytes: starting index must be non-negative
        L40093 = 40093; // $indexOfCP requires a string as the first argument
        L40094 = 40094; // $indexOfCP requires a string as the second argument
        L40090 = 40090; // $indexOfArray requires an array as a first argument
        L50694 = 50694; // $trim found an unknown argument
        L51109 = 51109; // regex cannot contain an embedded null byte
        L51110 = 51110; // regex options cannot contain an embedded null byte
        L51744 = 51744; // $replaceAll requires 'replacement' to be a string
        L51751 = 51751; // $replaceAll requires an object as an argument
        L31022 = 31022; // $regexMatch requires 'input'
        L31023 = 31023; // $regexMatch requires 'regex'
        L31024 = 31024; // $regexMatch found an unknown argument
        L28650 = 28650; // Missing 'cond' parameter to $filter
        L28651 = 28651; // input to $filter must be an array
        L28728 = 28728; // Third argument to $slice can't be represented as a 32-bit integer
        L327391 = 327391; // $filter: limit must be a 32-bit integral value
        L327392 = 327392; // $filter: limit must be greater than 0
        L16878 = 16878; // $map only supports an object as its argument
        L16880 = 16880; // Missing 'input' parameter to $map
        L40075 = 40075; // $reduce requires an object as an argument
        L40077 = 40077; // $reduce requires 'input'
        L40078 = 40078; // $reduce requires 'initialValue'
        L40079 = 40079; // $reduce requires 'in'
        L40393 = 40393; // $arrayToObject requires keys 'k' and 'v'
        L4940401 = 4940401; // $arrayToObject: key must not contain null byte
        L40539 = 40539; // missing 'date' argument to $year etc.
        L50723 = 50723; // $toInt etc. require a single argument
        L3040501 = 3040501; // $rand does not currently accept arguments
        L31252 = 31252; // Cannot use expression other than $meta in exclusion projection
        L40540 = 40540; // $dateFromString only supports an object
        L40541 = 40541; // Unrecognized argument to $dateFromString
        L40542 = 40542; // Missing 'dateString' parameter to $dateFromString
        L40684 = 40684; // $dateFromString requires that 'format' be a string
        L40524 = 40524; // $dateToParts only supports an object
        L40520 = 40520; // Unrecognized argument to $dateToParts
        L40522 = 40522; // Missing 'date' parameter to $dateToParts
        L40521 = 40521; // iso8601 must evaluate to a bool
        L40519 = 40519; // $dateFromParts only supports an object
        L40518 = 40518; // Unrecognized argument to $dateFromParts
        L40516 = 40516; // $dateFromParts requires 'year' or 'isoWeekYear'
        L40489 = 40489; // $dateFromParts: natural with ISO dates
        L40525 = 40525; // $dateFromParts: ISO with natural dates
        L40515 = 40515; // date part must evaluate to an integer
        L31034 = 31034; // date part out of range
        L40523 = 40523; // 'year' out of range
        L31095 = 31095; // 'isoWeekYear' out of range
        L5166301 = 5166301; // $dateDiff only supports an object
        L5166302 = 5166302; // Unrecognized argument to $dateDiff
        L5166303 = 5166303; // Missing 'startDate' parameter to $dateDiff
        L5166304 = 5166304; // Missing 'endDate' parameter to $dateDiff
        L5166305 = 5166305; // Missing 'unit' parameter to $dateDiff
        L5166307 = 5166307; // $dateDiff requires a date
        L5439013 = 5439013; // 'unit' must be a string
        L5439014 = 5439014; // 'unit' is not a time unit
        L5439015 = 5439015; // 'startOfWeek' must be a string
        L5439016 = 5439016; // 'startOfWeek' is not a day of the week
        // $dateAdd / $dateSubtract
        L5166400 = 5166400; // $dateAdd expects an object as its argument
        L5166401 = 5166401; // Unrecognized argument to $dateAdd
        L5166402 = 5166402; // $dateAdd requires startDate, unit, and amount
        L5166403 = 5166403; // $dateAdd requires startDate to be convertible to a date
        L5166405 = 5166405; // $dateAdd expects integer amount of time units
        L5166406 = 5166406; // dateAdd overflowed
        L5976500 = 5976500; // invalid dateAdd 'amount' parameter value
        L6045000 = 6045000; // invalid $dateSubtract 'amount' (the minimum long)
        // $firstN / $lastN / $minN / $maxN / $topN / $bottomN
        L5787801 = 5787801; // $firstN/$lastN specification must be an object
        L5787900 = 5787900; // $minN/$maxN specification must be an object
        L5787901 = 5787901; // Unknown argument for 'n' operator
        L5787902 = 5787902; // Value for 'n' must be of integral type (not a number)
        L5787903 = 5787903; // Value for 'n' must be of integral type (fractional)
        L5787906 = 5787906; // Missing value for 'n'
        L5787907 = 5787907; // Missing value for 'input'
        L5787908 = 5787908; // 'n' must be greater than 0
        L5788001 = 5788001; // $top/$bottom specification must be an object
        L5788002 = 5788002; // Unknown argument to $topN
        L5788003 = 5788003; // $topN: Missing value for 'n'
        L5788004 = 5788004; // $topN: Missing value for 'output'
        L5788005 = 5788005; // $topN: Missing value for 'sortBy'
        L5788200 = 5788200; // $firstN expression: Input must be an array
        // $percentile / $median
        L7429703 = 7429703; // $percentile accumulator specification must be an object
        L7436100 = 7436100; // $median accumulator specification must be an object
        L7436200 = 7436200; // $percentile expression specification must be an object
        L7436201 = 7436201; // $median expression specification must be an object
        L7750300 = 7750300; // $percentile 'p' must be constant
        L7750301 = 7750301; // $percentile 'p' must be a non-empty array
        L7750302 = 7750302; // $percentile 'p' elements must be numbers
        L7750303 = 7750303; // $percentile 'p' elements must be in [0, 1]
        // $dateTrunc
        L5439000 = 5439000; // dateTrunc overflowed (shifting by the reference point)
        L5439001 = 5439001; // dateTrunc overflowed (moving to the bin's start)
        L5439002 = 5439002; // dateTrunc overflowed (bin size in milliseconds)
        L5439006 = 5439006; // dateTrunc unsupported binSize value
        L5439007 = 5439007; // $dateTrunc only supports an object
        L5439008 = 5439008; // Unrecognized argument to $dateTrunc
        L5439009 = 5439009; // Missing 'date' parameter to $dateTrunc
        L5439010 = 5439010; // Missing 'unit' parameter to $dateTrunc
        L5439017 = 5439017; // $dateTrunc 'binSize' must be a 64-bit integer
        L5439018 = 5439018; // $dateTrunc 'binSize' must be greater than 0
        L40235 = 40235; // group field name cannot contain '.'
        L16990 = 16990; // $out only supports a string or object argument
        L51182 = 51182; // $merge only supports a string or object argument
        L5858203 = 5858203; // error during processing of $documents
        L28747 = 28747; // size argument to $sample must not be negative
        // $bucketAuto
        L40239 = 40239; // $bucketAuto 'groupBy' must be a $-prefixed path or an expression object
        L40240 = 40240; // the argument to $bucketAuto must be an object
        L40241 = 40241; // $bucketAuto 'buckets' must be a numeric value
        L40242 = 40242; // $bucketAuto 'buckets' must be representable as a 32-bit integer
        L40243 = 40243; // $bucketAuto 'buckets' must be greater than 0
        L40244 = 40244; // $bucketAuto 'output' must be an object
        L40245 = 40245; // unrecognized option to $bucketAuto
        L40246 = 40246; // $bucketAuto requires 'groupBy' and 'buckets'
        L40257 = 40257; // unknown rounding granularity
        L40258 = 40258; // granularity with a non-numeric value
        L40259 = 40259; // granularity with NaN
        L40260 = 40260; // granularity with a negative number
        L40261 = 40261; // $bucketAuto 'granularity' must be a string
        // $graphLookup
        L40100 = 40100; // maxDepth must be numeric
        L40101 = 40101; // maxDepth requires a nonnegative argument
        L40102 = 40102; // maxDepth could not be represented as a long long
        L40103 = 40103; // expected string as argument
        L40104 = 40104; // unknown argument to $graphLookup
        L40105 = 40105; // $graphLookup requires from, as, startWith, connectFromField, connectToField
        L40185 = 40185; // restrictSearchWithMatch must be an object
        L40271 = 40271; // documents must contain an _id for de-duplication in $graphLookup
        // $setWindowFields
        L5339900 = 5339900; // lower bound must not exceed upper bound
        L5339901 = 5339901; // document-based bounds require a sortBy
        L5339902 = 5339902; // range-based bounds require sortBy a single field
        L8947401 = 8947401; // range-based bounds require an ascending sortBy
        L5371601 = 5371601; // rank style window functions take no other arguments
        L5371602 = 5371602; // rank style window functions need a one-field sortBy
        L5371603 = 5371603; // rank style window functions take '{}'
        L6307900 = 6307900; // 'output' contains two conflicting paths
        L5429413 = 5429413; // date range windows need a unit
        L5429414 = 5429414; // range windows need a numeric sortBy value
        L5429513 = 5429513; // range windows with a unit need a date sortBy value
        L5490710 = 5490710; // $derivative/$integral unit must be 'week' or smaller
        L5624900 = 5624900; // $derivative with 'unit' expects dates
        L5624901 = 5624901; // $derivative over dates requires a 'unit'
        L5423901 = 5423901; // $integral with 'unit' expects dates
        L5423902 = 5423902; // $integral without 'unit' expects numbers
    }

    // Filter-specific location codes.
    location! {
        L51091 = 51091; // Regular expression is invalid
        L51074 = 51074; // options set in both $regex and $options
        L51075 = 51075; // options set in both $regex and $options
    }
}

/// An error from parsing or evaluating a query, update, projection, sort or
/// pipeline, with the code and code name MongoDB returns for the same input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct QueryError {
    pub code: i32,
    pub code_name: &'static str,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, code {})", self.message, self.code_name, self.code)
    }
}

impl QueryError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        QueryError { code: code.code, code_name: code.name, message: message.into() }
    }

    /// The same error with `prefix :: caused by :: ` in front of the message,
    /// as MongoDB reports errors from inside a stage ("Invalid $project").
    pub fn caused_by(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix} :: caused by :: {}", self.message);
        self
    }

    pub fn error_code(&self) -> ErrorCode {
        ErrorCode { code: self.code, name: self.code_name }
    }
}

pub type Result<T> = std::result::Result<T, QueryError>;

/// Shorthand for building an error: `err(codes::BAD_VALUE, "...")`.
pub(crate) fn err<T>(code: ErrorCode, message: impl Into<String>) -> Result<T> {
    Err(QueryError::new(code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_codes_are_named_after_their_number() {
        assert_eq!(codes::L40324.name, "Location40324");
        assert_eq!(codes::L40324.code, 40324);
        assert_eq!(codes::BAD_VALUE.name, "BadValue");
    }

    #[test]
    fn caused_by_prefixes_the_message() {
        let e = QueryError::new(codes::L31254, "Cannot do exclusion on field b in inclusion projection")
            .caused_by("Invalid $project");
        assert_eq!(
            e.message,
            "Invalid $project :: caused by :: Cannot do exclusion on field b in inclusion projection"
        );
    }
}
