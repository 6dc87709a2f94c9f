//! click's prompts: `Question [y/N]: ` and `Text [default]: `, answered on stdin. End of input
//! aborts (`Aborted!`, exit 1), as click does.

use anyhow::Result;
use std::io::{BufRead, Write};

/// The user closed stdin.
#[derive(Debug)]
pub struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aborted!")
    }
}

impl std::error::Error for Aborted {}

fn read_line() -> Result<String> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Err(Aborted.into());
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// `click.prompt(text, default=default)`.
pub fn ask(text: &str, default: Option<&str>) -> Result<String> {
    loop {
        match default {
            Some(d) => print!("{text} [{d}]: "),
            None => print!("{text}: "),
        }
        std::io::stdout().flush()?;
        let answer = read_line()?;
        if !answer.is_empty() {
            return Ok(answer);
        }
        if let Some(d) = default {
            return Ok(d.to_string());
        }
    }
}

/// `click.confirm(question)`: yes only when answered `y`/`yes`.
pub fn confirm(question: &str) -> Result<bool> {
    loop {
        print!("{question} [y/N]: ");
        std::io::stdout().flush()?;
        match read_line()?.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Ok(true),
            "" | "n" | "no" => return Ok(false),
            _ => println!("Error: invalid input"),
        }
    }
}
