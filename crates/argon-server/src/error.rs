//! Command errors as MongoDB reports them: a numeric code, its code name,
//! a message and optional labels. Every error path of every command goes
//! through [`CommandError`], and the codes come from one table ([`code`]),
//! because drivers react to codes.

use argon_query::QueryError;
use argon_store::StoreError;
use bson::{doc, Document};

/// MongoDB error codes used by Argon, with their code names.
pub mod code {
    pub const INTERNAL_ERROR: (i32, &str) = (1, "InternalError");
    pub const BAD_VALUE: (i32, &str) = (2, "BadValue");
    pub const NO_SUCH_KEY: (i32, &str) = (4, "NoSuchKey");
    pub const FAILED_TO_PARSE: (i32, &str) = (9, "FailedToParse");
    pub const USER_NOT_FOUND: (i32, &str) = (11, "UserNotFound");
    pub const UNAUTHORIZED: (i32, &str) = (13, "Unauthorized");
    pub const TYPE_MISMATCH: (i32, &str) = (14, "TypeMismatch");
    pub const AUTHENTICATION_FAILED: (i32, &str) = (18, "AuthenticationFailed");
    pub const ILLEGAL_OPERATION: (i32, &str) = (20, "IllegalOperation");
    pub const NAMESPACE_NOT_FOUND: (i32, &str) = (26, "NamespaceNotFound");
    pub const INDEX_NOT_FOUND: (i32, &str) = (27, "IndexNotFound");
    pub const CURSOR_NOT_FOUND: (i32, &str) = (43, "CursorNotFound");
    pub const NAMESPACE_EXISTS: (i32, &str) = (48, "NamespaceExists");
    pub const COMMAND_NOT_SUPPORTED_ON_VIEW: (i32, &str) = (166, "CommandNotSupportedOnView");
    pub const NOT_IMPLEMENTED: (i32, &str) = (238, "NotImplemented");
    pub const VIEW_DEPTH_LIMIT_EXCEEDED: (i32, &str) = (149, "ViewDepthLimitExceeded");
    pub const OPTION_NOT_SUPPORTED_ON_VIEW: (i32, &str) = (167, "OptionNotSupportedOnView");
    pub const DOLLAR_PREFIXED_FIELD_NAME: (i32, &str) = (52, "DollarPrefixedFieldName");
    pub const COMMAND_NOT_FOUND: (i32, &str) = (59, "CommandNotFound");
    pub const INVALID_OPTIONS: (i32, &str) = (72, "InvalidOptions");
    pub const INVALID_NAMESPACE: (i32, &str) = (73, "InvalidNamespace");
    pub const INDEX_OPTIONS_CONFLICT: (i32, &str) = (85, "IndexOptionsConflict");
    pub const INDEX_KEY_SPECS_CONFLICT: (i32, &str) = (86, "IndexKeySpecsConflict");
    pub const SHUTDOWN_IN_PROGRESS: (i32, &str) = (91, "ShutdownInProgress");
    pub const WRITE_CONFLICT: (i32, &str) = (112, "WriteConflict");
    pub const COMMAND_NOT_SUPPORTED: (i32, &str) = (115, "CommandNotSupported");
    pub const INVALID_INDEX_SPECIFICATION_OPTION: (i32, &str) = (197, "InvalidIndexSpecificationOption");
    pub const SNAPSHOT_TOO_OLD: (i32, &str) = (239, "SnapshotTooOld");
    pub const NO_SUCH_TRANSACTION: (i32, &str) = (251, "NoSuchTransaction");
    pub const TRANSACTION_COMMITTED: (i32, &str) = (256, "TransactionCommitted");
    pub const OPERATION_NOT_SUPPORTED_IN_TRANSACTION: (i32, &str) =
        (263, "OperationNotSupportedInTransaction");
    pub const CHANGE_STREAM_HISTORY_LOST: (i32, &str) = (286, "ChangeStreamHistoryLost");
    pub const DATA_CORRUPTION_DETECTED: (i32, &str) = (301, "DataCorruptionDetected");
    pub const DUPLICATE_KEY: (i32, &str) = (11000, "DuplicateKey");
    pub const UNKNOWN_REPL_WRITE_CONCERN: (i32, &str) = (79, "UnknownReplWriteConcern");
    pub const BSON_OBJECT_TOO_LARGE: (i32, &str) = (10334, "BSONObjectTooLarge");
    pub const PROTOCOL_ERROR: (i32, &str) = (17, "ProtocolError");
    pub const INVALID_BSON: (i32, &str) = (22, "InvalidBSON");
}

/// An error reply.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandError {
    pub code: i32,
    pub code_name: String,
    pub message: String,
    pub labels: Vec<String>,
    /// Extra fields of the reply (for example `keyPattern` and `keyValue`);
    /// boxed, as it is rare, to keep every `CmdResult` small.
    pub extra: Box<Document>,
}

impl CommandError {
    pub fn new((code, name): (i32, &str), message: impl Into<String>) -> CommandError {
        CommandError {
            code,
            code_name: name.to_string(),
            message: message.into(),
            labels: vec![],
            extra: Box::default(),
        }
    }

    pub fn bad_value(message: impl Into<String>) -> CommandError {
        CommandError::new(code::BAD_VALUE, message)
    }

    pub fn type_mismatch(message: impl Into<String>) -> CommandError {
        CommandError::new(code::TYPE_MISMATCH, message)
    }

    pub fn with_label(mut self, label: &str) -> CommandError {
        if !self.labels.iter().any(|l| l == label) {
            self.labels.push(label.to_string());
        }
        self
    }

    /// The error as a command reply document.
    pub fn to_reply(&self) -> Document {
        let mut d = doc! {
            "ok": 0.0,
            "errmsg": &self.message,
            "code": self.code,
            "codeName": &self.code_name,
        };
        for (k, v) in self.extra.iter() {
            d.insert(k.clone(), v.clone());
        }
        if !self.labels.is_empty() {
            d.insert("errorLabels", self.labels.clone());
        }
        d
    }

    /// The error as a `writeErrors` element.
    pub fn to_write_error(&self, index: usize) -> Document {
        let mut d = doc! { "index": index as i32, "code": self.code, "errmsg": &self.message };
        for (k, v) in self.extra.iter() {
            d.insert(k.clone(), v.clone());
        }
        d
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code_name, self.code, self.message)
    }
}

impl From<QueryError> for CommandError {
    fn from(e: QueryError) -> CommandError {
        CommandError::new((e.code, e.code_name), e.message)
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> CommandError {
        let msg = e.to_string();
        match e {
            StoreError::ProjectNotFound(_)
            | StoreError::BranchNotFound { .. }
            | StoreError::NamespaceNotFound(_) => CommandError::new(code::NAMESPACE_NOT_FOUND, msg),
            StoreError::ProjectExists(_)
            | StoreError::BranchExists { .. }
            | StoreError::NamespaceExists(_) => CommandError::new(code::NAMESPACE_EXISTS, msg),
            StoreError::BranchDeleteRefused { .. } | StoreError::BranchProtected { .. } => {
                CommandError::new(code::ILLEGAL_OPERATION, msg)
            }
            StoreError::DuplicateKey { key_pattern, key_value, .. } => {
                let mut err = CommandError::new(code::DUPLICATE_KEY, msg);
                err.extra = Box::new(doc! { "keyPattern": *key_pattern, "keyValue": *key_value });
                err
            }
            StoreError::WriteConflict(_) => CommandError::new(code::WRITE_CONFLICT, msg),
            StoreError::NotACollection(_) => CommandError::new(code::COMMAND_NOT_SUPPORTED_ON_VIEW, msg),
            StoreError::LsnBeyondHead { .. } => CommandError::new(code::INVALID_OPTIONS, msg),
            StoreError::LsnBelowHistory { .. } => CommandError::new(code::SNAPSHOT_TOO_OLD, msg),
            StoreError::InvalidName(_) => CommandError::new(code::INVALID_NAMESPACE, msg),
            StoreError::InvalidArgument(_) => CommandError::new(code::BAD_VALUE, msg),
            StoreError::DocumentTooLarge { .. } => CommandError::new(code::BSON_OBJECT_TOO_LARGE, msg),
            StoreError::Closed => CommandError::new(code::SHUTDOWN_IN_PROGRESS, msg),
            _ => CommandError::new(code::INTERNAL_ERROR, msg),
        }
    }
}

/// Result of a command handler.
pub type CmdResult<T = Document> = Result<T, CommandError>;
