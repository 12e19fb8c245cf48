//! Runs the redactor over a JSONL file: xsignal's half of `scripts/pii-eval`.
//!
//! Usage: `redact < IN.jsonl > OUT.jsonl` (every kind) or `redact --kinds email,phone`. Each input
//! line is an object with a `text` field (other fields are copied); each output line adds
//! `redacted` (the text as it would be stored) and `findings` (`start`, `end` as byte offsets into
//! `text`, and `kind`).

use std::io::{BufRead, BufWriter, Write};

use clap::Parser;
use xsignal::privacy::{PiiKind, Redactor};

#[derive(Parser)]
struct Args {
    /// Kinds to redact, comma-separated (`email,phone,iban,card,ip,url_secret,handle,name`).
    #[arg(long, value_delimiter = ',')]
    kinds: Option<Vec<String>>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kinds: Vec<PiiKind> = match &args.kinds {
        Some(names) => names
            .iter()
            .map(|name| {
                PiiKind::ALL
                    .into_iter()
                    .find(|kind| kind.name() == name)
                    .ok_or_else(|| anyhow::anyhow!("unknown kind {name:?}"))
            })
            .collect::<anyhow::Result<_>>()?,
        None => PiiKind::ALL.to_vec(),
    };
    let redactor = Redactor::new(&kinds);
    let stdin = std::io::stdin();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (number, line) in stdin.lock().lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let mut row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&line)
            .map_err(|error| anyhow::anyhow!("stdin:{}: {error}", number + 1))?;
        let text = row
            .get("text")
            .and_then(|text| text.as_str())
            .ok_or_else(|| anyhow::anyhow!("stdin:{}: no string field `text`", number + 1))?
            .to_string();
        let (redacted, findings) = redactor.redact(&text);
        row.insert("redacted".into(), redacted.into());
        row.insert("findings".into(), serde_json::to_value(&findings)?);
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
