//! `dbHash`: an MD5 of each collection's documents (their BSON bytes in
//! `_id` order, as MongoDB hashes them) and one of the whole database.
//! Two branches, or a branch and a past point (`app~main@1500`), hold the
//! same data exactly when their hashes agree: a quick check that a
//! staging copy or a restore is what it should be.

use bson::{doc, Bson, Document};
use md5::{Digest, Md5};

use super::{Call, Ctx};
use crate::error::{CmdResult, CommandError};

pub fn run(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    let started = std::time::Instant::now();
    let only: Option<Vec<String>> = match call.cmd.get("collections") {
        None => None,
        Some(Bson::Array(names)) => Some(
            names
                .iter()
                .map(|n| match n {
                    Bson::String(s) => Ok(s.clone()),
                    _ => Err(CommandError::type_mismatch("dbHash 'collections' must be an array of strings")),
                })
                .collect::<CmdResult<_>>()?,
        ),
        Some(_) => {
            return Err(CommandError::type_mismatch("dbHash 'collections' must be an array of strings"))
        }
    };
    let target = call.target(ctx)?;
    let snap = match call.snapshot(ctx, &target) {
        Ok(s) => s,
        Err(e) if e.code == crate::error::code::NAMESPACE_NOT_FOUND.0 => {
            return Ok(reply(Document::new(), hex(&Md5::new().finalize()), started))
        }
        Err(e) => return Err(e),
    };
    // Collections only (views hold no documents), sorted by name.
    let names: Vec<String> = snap
        .collections()
        .filter(|(name, c)| {
            !crate::views::is_view(&c.options) && only.as_ref().is_none_or(|o| o.contains(name))
        })
        .map(|(name, _)| name.clone())
        .collect();
    let mut hashes = Document::new();
    let mut whole = Md5::new();
    for name in names {
        let digest = crate::ops::long_running(|| {
            let mut h = Md5::new();
            let mut scan = snap.scan(&name)?;
            while let Some((_, bytes)) = scan.next_raw()? {
                crate::ops::check_interrupted()?;
                h.update(bytes);
            }
            Ok(hex(&h.finalize()))
        })?;
        whole.update(name.as_bytes());
        whole.update(digest.as_bytes());
        hashes.insert(name, digest);
    }
    Ok(reply(hashes, hex(&whole.finalize()), started))
}

fn reply(collections: Document, md5: String, started: std::time::Instant) -> Document {
    doc! {
        "host": "",
        "collections": collections,
        "capped": [],
        "uuids": {},
        "md5": md5,
        "timeMillis": started.elapsed().as_millis() as i64,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
