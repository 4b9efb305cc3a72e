//! OP_QUERY (opcode 2004), kept for one job: the first handshake of older
//! drivers, which send `isMaster`/`hello` as a query on `admin.$cmd` and
//! expect an OP_REPLY. MongoDB 5.1 removed every other use.
//!
//! ```text
//! struct OP_QUERY {
//!     MsgHeader header;
//!     int32     flags;
//!     cstring   fullCollectionName;     // "<db>.$cmd" for a command
//!     int32     numberToSkip;
//!     int32     numberToReturn;
//!     document  query;
//!     [document returnFieldsSelector;]
//! }
//! ```

use bson::{doc, Bson, Document};

use crate::compression::Compressor;
use crate::error::WireError;
use crate::header::OP_QUERY;
use crate::reader::Reader;
use crate::writer::MessageWriter;

/// A decoded OP_QUERY.
#[derive(Debug, Clone, PartialEq)]
pub struct OpQuery {
    /// Query option bits; see the associated constants.
    pub flags: u32,
    /// `"<db>.<collection>"`; `"<db>.$cmd"` for a command.
    pub full_collection_name: String,
    pub number_to_skip: i32,
    pub number_to_return: i32,
    /// The command, possibly wrapped as `{$query: {...}, $readPreference: {...}}`;
    /// see [`OpQuery::into_command`].
    pub query: Document,
    pub return_fields_selector: Option<Document>,
}

impl OpQuery {
    pub const TAILABLE_CURSOR: u32 = 1 << 1;
    /// Reads may go to a secondary (formerly `SlaveOk`).
    pub const SECONDARY_OK: u32 = 1 << 2;
    pub const OPLOG_REPLAY: u32 = 1 << 3;
    pub const NO_CURSOR_TIMEOUT: u32 = 1 << 4;
    pub const AWAIT_DATA: u32 = 1 << 5;
    pub const EXHAUST: u32 = 1 << 6;
    pub const PARTIAL: u32 = 1 << 7;

    /// A command query on `<db>.$cmd`, as drivers send the legacy handshake
    /// (`numberToReturn` -1: one reply document, no cursor).
    pub fn command(db: &str, command: Document) -> OpQuery {
        OpQuery {
            flags: 0,
            full_collection_name: format!("{db}.$cmd"),
            number_to_skip: 0,
            number_to_return: -1,
            query: command,
            return_fields_selector: None,
        }
    }

    /// The database: `full_collection_name` up to its first dot.
    pub fn database(&self) -> &str {
        self.full_collection_name.split_once('.').map_or(&self.full_collection_name, |(db, _)| db)
    }

    /// True if this query targets `<db>.$cmd`, i.e. it is a command.
    pub fn is_command(&self) -> bool {
        self.full_collection_name.split_once('.').is_some_and(|(db, coll)| !db.is_empty() && coll == "$cmd")
    }

    /// The command document: the query itself, or the document under a
    /// leading `$query` (or legacy `query`) key when the driver wrapped it to
    /// add a read preference.
    pub fn unwrapped_query(&self) -> &Document {
        match wrapped(&self.query) {
            Some(key) => match self.query.get(key) {
                Some(Bson::Document(inner)) => inner,
                _ => &self.query,
            },
            None => &self.query,
        }
    }

    /// The read preference: `$readPreference` at the top level of the query
    /// (or inside `$queryOptions`, as old mongos sent it); failing that,
    /// `{mode: "secondaryPreferred"}` if the `SECONDARY_OK` flag is set.
    pub fn read_preference(&self) -> Option<Document> {
        let explicit = match self.query.get("$queryOptions") {
            Some(Bson::Document(options)) => options.get_document("$readPreference").ok(),
            _ => None,
        };
        let explicit = explicit.or_else(|| self.query.get_document("$readPreference").ok());
        match explicit {
            Some(pref) => Some(pref.clone()),
            None if self.flags & Self::SECONDARY_OK != 0 => Some(doc! { "mode": "secondaryPreferred" }),
            None => None,
        }
    }

    /// The command name: the first key of the unwrapped query.
    pub fn command_name(&self) -> Option<&str> {
        self.unwrapped_query().keys().next().map(String::as_str)
    }

    /// The command in OP_MSG form, so one dispatcher serves both opcodes:
    /// the unwrapped query plus `$db` (from the namespace) and
    /// `$readPreference` (see [`OpQuery::read_preference`]).
    ///
    /// Errs if the namespace is not `<db>.$cmd` (legacy queries on
    /// collections are unsupported) or if the command already has `$db`.
    pub fn into_command(self) -> Result<Document, WireError> {
        if !self.is_command() {
            return Err(WireError::NotACommand(self.full_collection_name));
        }
        let read_preference = self.read_preference();
        let db = self.database().to_string();
        let mut command = match wrapped(&self.query) {
            Some(key) if matches!(self.query.get(key), Some(Bson::Document(_))) => {
                let mut query = self.query;
                match query.remove(key) {
                    Some(Bson::Document(inner)) => inner,
                    _ => query,
                }
            }
            _ => self.query,
        };
        command.remove("$queryOptions");
        if command.contains_key("$db") {
            return Err(WireError::DbInOpQuery);
        }
        command.insert("$db", db);
        if let Some(read_preference) = read_preference {
            command.insert("$readPreference", read_preference);
        }
        Ok(command)
    }

    /// Encodes this query (`response_to` is 0, as in every request).
    pub fn encode(&self, request_id: i32, compressor: Option<Compressor>) -> Result<Vec<u8>, WireError> {
        let mut w = MessageWriter::new();
        w.u32(self.flags);
        w.cstring(&self.full_collection_name, "OP_QUERY fullCollectionName")?;
        w.i32(self.number_to_skip);
        w.i32(self.number_to_return);
        w.document(&self.query, &|| "OP_QUERY query".to_string())?;
        if let Some(selector) = &self.return_fields_selector {
            w.document(selector, &|| "OP_QUERY returnFieldsSelector".to_string())?;
        }
        w.finish(OP_QUERY, request_id, 0, false, compressor)
    }

    /// Parses the body of an OP_QUERY (the bytes after the header).
    pub(crate) fn parse(body: &[u8]) -> Result<OpQuery, WireError> {
        let mut r = Reader::new(body);
        let flags = r.u32("OP_QUERY flags")?;
        let full_collection_name = r.cstring("OP_QUERY fullCollectionName")?.to_string();
        let number_to_skip = r.i32("OP_QUERY numberToSkip")?;
        let number_to_return = r.i32("OP_QUERY numberToReturn")?;
        let query = r.document(&|| "OP_QUERY query".to_string())?;
        let return_fields_selector = if r.is_empty() {
            None
        } else {
            Some(r.document(&|| "OP_QUERY returnFieldsSelector".to_string())?)
        };
        r.finish("OP_QUERY returnFieldsSelector")?;
        Ok(OpQuery {
            flags,
            full_collection_name,
            number_to_skip,
            number_to_return,
            query,
            return_fields_selector,
        })
    }
}

/// The wrapper key if the query's first key is `$query` or `query`.
fn wrapped(query: &Document) -> Option<&'static str> {
    match query.keys().next().map(String::as_str) {
        Some("$query") => Some("$query"),
        Some("query") => Some("query"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{MsgHeader, HEADER_LEN};

    fn round_trip(query: &OpQuery) -> OpQuery {
        let frame = query.encode(9, None).unwrap();
        let header = MsgHeader::parse(&frame).unwrap();
        assert_eq!(header.op_code, OP_QUERY);
        assert_eq!(header.message_length as usize, frame.len());
        OpQuery::parse(&frame[HEADER_LEN..]).unwrap()
    }

    #[test]
    fn encode_then_parse_is_identity() {
        let mut query = OpQuery::command("admin", doc! { "isMaster": 1 });
        assert_eq!(round_trip(&query), query);
        query.return_fields_selector = Some(doc! { "a": 1 });
        query.flags = OpQuery::SECONDARY_OK | OpQuery::EXHAUST;
        assert_eq!(round_trip(&query), query);
    }

    #[test]
    fn plain_command_gains_db() {
        let query = OpQuery::command("admin", doc! { "isMaster": 1, "client": { "x": 1 } });
        assert_eq!(query.database(), "admin");
        assert!(query.is_command());
        assert_eq!(query.command_name(), Some("isMaster"));
        assert_eq!(query.read_preference(), None);
        assert_eq!(
            query.into_command().unwrap(),
            doc! { "isMaster": 1, "client": { "x": 1 }, "$db": "admin" }
        );
    }

    #[test]
    fn wrapped_command_is_unwrapped_with_its_read_preference() {
        for key in ["$query", "query"] {
            let query = OpQuery::command(
                "admin",
                doc! { key: { "hello": 1 }, "$readPreference": { "mode": "secondaryPreferred" } },
            );
            assert_eq!(query.unwrapped_query(), &doc! { "hello": 1 });
            assert_eq!(query.command_name(), Some("hello"));
            assert_eq!(
                query.into_command().unwrap(),
                doc! { "hello": 1, "$db": "admin", "$readPreference": { "mode": "secondaryPreferred" } }
            );
        }
    }

    #[test]
    fn read_preference_from_query_options_or_the_secondary_ok_flag() {
        let query = OpQuery::command(
            "admin",
            doc! { "$query": { "ping": 1 }, "$queryOptions": { "$readPreference": { "mode": "nearest" } } },
        );
        assert_eq!(query.read_preference(), Some(doc! { "mode": "nearest" }));
        assert_eq!(
            query.into_command().unwrap(),
            doc! { "ping": 1, "$db": "admin", "$readPreference": { "mode": "nearest" } }
        );
        let mut query = OpQuery::command("admin", doc! { "ping": 1 });
        query.flags = OpQuery::SECONDARY_OK;
        assert_eq!(query.read_preference(), Some(doc! { "mode": "secondaryPreferred" }));
    }

    #[test]
    fn only_commands_convert() {
        let mut query = OpQuery::command("test", doc! { "x": 1 });
        query.full_collection_name = "test.coll".to_string();
        assert!(!query.is_command());
        assert_eq!(
            query.clone().into_command().unwrap_err().to_string(),
            "OP_QUERY on \"test.coll\" is not a command; only <db>.$cmd is supported"
        );
        query.full_collection_name = "nodot".to_string();
        assert_eq!(query.database(), "nodot");
        assert!(query.into_command().is_err());
        let query = OpQuery::command("admin", doc! { "ping": 1, "$db": "other" });
        assert_eq!(query.into_command().unwrap_err().to_string(), "$db is not allowed in OP_QUERY requests");
    }

    #[test]
    fn a_wrapper_that_is_not_a_document_is_left_alone() {
        let query = OpQuery::command("admin", doc! { "query": 1 });
        assert_eq!(query.unwrapped_query(), &doc! { "query": 1 });
        assert_eq!(query.into_command().unwrap(), doc! { "query": 1, "$db": "admin" });
    }

    #[test]
    fn trailing_bytes_after_the_selector_are_rejected() {
        let mut query = OpQuery::command("admin", doc! { "ping": 1 });
        query.return_fields_selector = Some(doc! {});
        let mut frame = query.encode(1, None).unwrap();
        frame.push(0);
        let err = OpQuery::parse(&frame[HEADER_LEN..]).unwrap_err();
        assert!(err.to_string().contains("OP_QUERY"), "{err}");
    }
}
