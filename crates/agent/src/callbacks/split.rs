//! A command line split into words as Patroni splits its callbacks and scripts: Python's
//! `shlex.split` (POSIX mode, no comments). It differs from a shell, and from the `shlex` crate,
//! in ways users' strings can meet: `#` starts no comment, and inside double quotes a backslash
//! escapes only `"` and `\` (`"\$HOME"` keeps its backslash); nothing is expanded.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SplitError {
    #[error("No closing quotation")]
    NoClosingQuotation,
    #[error("No escaped character")]
    NoEscapedCharacter,
}

/// Where the splitter is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between words.
    Between,
    /// In a word, outside quotes.
    Word,
    Single,
    Double,
}

/// Python's `shlex.split(line)`.
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = State::Between;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (state, c) {
            (State::Between | State::Word, ' ' | '\t' | '\r' | '\n') => {
                if state == State::Word {
                    words.push(std::mem::take(&mut word));
                }
                state = State::Between;
            }
            (State::Between | State::Word, '\'') => state = State::Single,
            (State::Between | State::Word, '"') => state = State::Double,
            (State::Between | State::Word, '\\') => {
                word.push(chars.next().ok_or(SplitError::NoEscapedCharacter)?);
                state = State::Word;
            }
            (State::Between | State::Word, c) => {
                word.push(c);
                state = State::Word;
            }
            (State::Single, '\'') | (State::Double, '"') => state = State::Word,
            (State::Double, '\\') => {
                let next = chars.next().ok_or(SplitError::NoEscapedCharacter)?;
                if next != '"' && next != '\\' {
                    word.push('\\');
                }
                word.push(next);
            }
            (State::Single | State::Double, c) => word.push(c),
        }
    }
    match state {
        State::Single | State::Double => Err(SplitError::NoClosingQuotation),
        State::Word => {
            words.push(word);
            Ok(words)
        }
        State::Between => Ok(words),
    }
}

/// A command line as Python prints a list of strings (`['a', 'b']`), for Patroni's log lines.
pub fn python_list(words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| {
            if w.contains('\'') && !w.contains('"') {
                format!("\"{w}\"")
            } else {
                format!("'{}'", w.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        })
        .collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    /// Each row's expected words are what Python 3's `shlex.split` returns.
    #[test]
    fn splits_as_python_shlex() {
        let rows: &[(&str, &[&str])] = &[
            ("/usr/local/bin/cb.sh", &["/usr/local/bin/cb.sh"]),
            ("  cb.sh   /tmp/log  ", &["cb.sh", "/tmp/log"]),
            ("cb.sh '/tmp/a b' \"c d\"", &["cb.sh", "/tmp/a b", "c d"]),
            ("a'b c'd", &["ab cd"]),
            ("echo #not-a-comment", &["echo", "#not-a-comment"]),
            ("a\\ b", &["a b"]),
            ("\"a\\\"b\"", &["a\"b"]),
            ("\"\\$HOME\"", &["\\$HOME"]),
            ("'\\n'", &["\\n"]),
            ("x ''", &["x", ""]),
            (
                "sudo -n /bin/ip addr add 10.0.0.5/24 dev eth0",
                &[
                    "sudo",
                    "-n",
                    "/bin/ip",
                    "addr",
                    "add",
                    "10.0.0.5/24",
                    "dev",
                    "eth0",
                ],
            ),
            ("a\tb\r\nc", &["a", "b", "c"]),
            ("", &[]),
        ];
        for (line, want) in rows {
            assert_eq!(words(line), *want, "{line:?}");
        }
    }

    #[test]
    fn unbalanced_quotes_and_trailing_escapes_are_errors() {
        assert_eq!(split("a 'b"), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("a \"b\\"), Err(SplitError::NoEscapedCharacter));
        assert_eq!(split("a \\"), Err(SplitError::NoEscapedCharacter));
    }

    #[test]
    fn prints_like_python() {
        let argv = vec!["/bin/cb.sh".to_string(), "on_start".into(), "it's".into()];
        assert_eq!(python_list(&argv), "['/bin/cb.sh', 'on_start', \"it's\"]");
    }
}
