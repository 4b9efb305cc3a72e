//! `argon import` and `argon export`: documents in and out of a branch.
//!
//! Formats: JSON lines of (relaxed or canonical) Extended JSON, one
//! Extended JSON array, or a mongodump `.bson` file (BSON documents back to
//! back). Import guesses from the file (`.bson`, else `[` or not); export
//! writes JSON lines unless told otherwise, in `_id` order, so exporting
//! what was imported from a sorted JSON lines file gives the same bytes.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bson::{oid::ObjectId, Bson, Document};
use clap::{Args, ValueEnum};

use crate::backend::{resolve_point, Backend, Create, Query, Target};
use crate::error::{CliError, Result};
use crate::extjson;
use crate::output::{self, Format};
use crate::time_arg::OptPointArgs;

/// Documents inserted per commit.
const BATCH: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// One Extended JSON document per line.
    Jsonl,
    /// One Extended JSON array of documents.
    Json,
    /// BSON documents back to back (mongodump).
    Bson,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Project.
    #[arg(short, long)]
    pub project: String,
    /// Branch.
    #[arg(short, long, default_value = "main")]
    pub branch: String,
    /// Collection.
    #[arg(short, long)]
    pub collection: String,
    /// File format (default: bson for *.bson, else JSON lines or an array, by the first character).
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// The file to read (`-` for stdin).
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Project.
    #[arg(short, long)]
    pub project: String,
    /// Branch.
    #[arg(short, long, default_value = "main")]
    pub branch: String,
    #[command(flatten)]
    pub at: OptPointArgs,
    /// Collection.
    #[arg(short, long)]
    pub collection: String,
    /// File format (default: bson for *.bson, else JSON lines).
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// The file to write (default: stdout).
    pub file: Option<PathBuf>,
}

pub fn import(target: &Target, format: Format, args: ImportArgs) -> Result<()> {
    let backend = target.open(Create::No)?;
    // Refuse an unknown project or branch before reading anything.
    backend.branch(&args.project, &args.branch)?;
    let (reader, total): (Box<dyn Read>, u64) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let f = File::open(&args.file)
            .map_err(|e| CliError::new(format!("cannot open {}: {e}", args.file.display())))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), len)
    };
    let bar = output::bytes_bar(total, "importing");
    let mut reader = BufReader::new(bar.wrap_read(reader));
    let file_format = match args.format {
        Some(f) => f,
        None if has_extension(&args.file, "bson") => FileFormat::Bson,
        None => {
            let buf = reader.fill_buf()?;
            match buf.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'[') => FileFormat::Json,
                _ => FileFormat::Jsonl,
            }
        }
    };
    let docs: Box<dyn Iterator<Item = Result<Bson>>> = match file_format {
        FileFormat::Bson => Box::new(BsonFile { reader }.map(|r| r.map(Bson::Document))),
        FileFormat::Jsonl => Box::new(extjson::stream(reader)),
        FileFormat::Json => match extjson::stream(reader).next().transpose()? {
            Some(Bson::Array(items)) => Box::new(items.into_iter().map(Ok)),
            Some(_) => return Err(CliError::new(format!("{} is not a JSON array", args.file.display()))),
            None => Box::new(std::iter::empty()),
        },
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut imported = 0u64;
    let flush = |batch: &mut Vec<Document>, imported: &mut u64| -> Result<()> {
        let n = batch.len() as u64;
        backend.insert(&args.project, &args.branch, &args.collection, std::mem::take(batch)).map_err(
            |e| match e.index {
                // Ordered: the documents before the refused one were written.
                Some(i) => {
                    let at = *imported + i as u64 + 1;
                    CliError::new(format!(
                        "document {at} of {}: {} ({} documents were imported before it)",
                        args.file.display(),
                        e.error,
                        at - 1
                    ))
                }
                None => CliError::new(format!(
                    "{} ({imported} documents were imported before this batch)",
                    e.error
                )),
            },
        )?;
        *imported += n;
        Ok(())
    };
    for (i, item) in docs.enumerate() {
        let item =
            item.map_err(|e| CliError::new(format!("document {} of {}: {e}", i + 1, args.file.display())))?;
        let Bson::Document(mut doc) = item else {
            return Err(CliError::new(format!(
                "document {} of {} is not an object",
                i + 1,
                args.file.display()
            )));
        };
        if !doc.contains_key("_id") {
            let mut with_id = Document::new();
            with_id.insert("_id", ObjectId::new());
            with_id.extend(doc);
            doc = with_id;
        }
        batch.push(doc);
        if batch.len() >= BATCH {
            flush(&mut batch, &mut imported)?;
        }
    }
    if !batch.is_empty() {
        flush(&mut batch, &mut imported)?;
    }
    bar.finish_and_clear();
    match format {
        Format::Json => output::json(&serde_json::json!({
            "project": args.project, "branch": args.branch, "collection": args.collection, "imported": imported,
        })),
        Format::Table => output::say(format!(
            "imported {imported} documents into {} of project {} (branch {})",
            args.collection, args.project, args.branch
        )),
    }
}

pub fn export(target: &Target, format: Format, args: ExportArgs) -> Result<()> {
    let backend = target.open(Create::No)?;
    let lsn = resolve_point(backend.as_ref(), &args.project, &args.branch, args.at.point()?)?;
    let file_format = match args.format {
        Some(f) => f,
        None if args.file.as_deref().is_some_and(|f| has_extension(f, "bson")) => FileFormat::Bson,
        None => FileFormat::Jsonl,
    };
    let sink: Box<dyn Write> = match &args.file {
        Some(path) if path.as_os_str() != "-" => Box::new(
            File::create(path)
                .map_err(|e| CliError::new(format!("cannot create {}: {e}", path.display())))?,
        ),
        _ => Box::new(std::io::stdout().lock()),
    };
    let n = write_docs(backend.as_ref(), &args, lsn, file_format, BufWriter::new(sink))?;
    if let Some(path) = args.file.as_ref().filter(|p| p.as_os_str() != "-") {
        let at = lsn.map(|l| format!("at LSN {l}")).unwrap_or_else(|| "at its head".into());
        match format {
            Format::Json => output::json(&serde_json::json!({
                "project": args.project, "branch": args.branch, "collection": args.collection,
                "lsn": lsn.map(|l| l.0), "exported": n, "file": path.display().to_string(),
            }))?,
            Format::Table => output::say(format!(
                "exported {n} documents of {} from project {} (branch {} {at}) to {}",
                args.collection,
                args.project,
                args.branch,
                path.display()
            ))?,
        }
    }
    Ok(())
}

fn write_docs(
    backend: &dyn Backend,
    args: &ExportArgs,
    lsn: Option<argon_types::Lsn>,
    format: FileFormat,
    mut out: impl Write,
) -> Result<u64> {
    let bar = output::counter("exporting documents");
    let mut n = 0u64;
    if format == FileFormat::Json {
        out.write_all(b"[")?;
    }
    backend.read(&args.project, &args.branch, lsn, &args.collection, &Query::default(), &mut |d| {
        match format {
            FileFormat::Jsonl => writeln!(out, "{}", extjson::doc_to_json(&d))?,
            FileFormat::Json => {
                let sep = if n == 0 { "\n" } else { ",\n" };
                write!(out, "{sep}{}", extjson::doc_to_json(&d))?;
            }
            FileFormat::Bson => {
                d.to_writer(&mut out).map_err(|e| CliError::new(format!("cannot encode a document: {e}")))?
            }
        }
        n += 1;
        bar.inc(1);
        Ok(())
    })?;
    if format == FileFormat::Json {
        out.write_all(if n == 0 { b"]\n" } else { b"\n]\n" })?;
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(n)
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Documents of a mongodump `.bson` file: BSON documents back to back.
struct BsonFile<R> {
    reader: R,
}

impl<R: Read> Iterator for BsonFile<R> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Result<Document>> {
        let mut len = [0u8; 4];
        match read_full(&mut self.reader, &mut len) {
            Ok(0) => return None,
            Ok(4) => {}
            Ok(_) => return Some(Err(CliError::new("the BSON file ends inside a document length"))),
            Err(e) => return Some(Err(e.into())),
        }
        let n = i32::from_le_bytes(len);
        if !(5..=16 << 20).contains(&n) {
            return Some(Err(CliError::new(format!("bad BSON document length {n}"))));
        }
        let mut buf = vec![0u8; n as usize];
        buf[..4].copy_from_slice(&len);
        if let Err(e) = self.reader.read_exact(&mut buf[4..]) {
            return Some(Err(CliError::new(format!("the BSON file ends inside a document: {e}"))));
        }
        Some(Document::from_reader(&buf[..]).map_err(|e| CliError::new(format!("bad BSON document: {e}"))))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
