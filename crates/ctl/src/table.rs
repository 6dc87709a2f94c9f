//! patronictl's tables: PrettyTable's layout (`+---+` frames, one space of padding, left or right
//! aligned columns, multi-line cells, rules between rows when a cell has several lines) with the
//! cluster title written into the top border (`+ Cluster: demo (7711…) ---+----+`).

/// How a column's cells (and its header) are aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table to print.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Written into the top border, e.g. ` Cluster: demo (7711416411379105180) `.
    pub title: String,
    pub columns: Vec<String>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<String>>,
    /// The column whose cells are coloured by role (only at a terminal).
    pub colour: Option<usize>,
}

/// ANSI colours of the roles: leaders green, synchronous standbys cyan, replicas blue.
fn role_colour(text: &str) -> Option<&'static str> {
    match text {
        "Leader" | "Standby Leader" => Some("\x1b[1;32m"),
        "Sync Standby" | "Quorum Standby" => Some("\x1b[36m"),
        "Replica" => Some("\x1b[34m"),
        _ => None,
    }
}

fn width(text: &str) -> usize {
    text.chars().count()
}

impl Table {
    /// A table with `columns`, all left-aligned.
    pub fn new(title: &str, columns: &[&str]) -> Table {
        Table {
            title: title.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            align: vec![Align::Left; columns.len()],
            rows: Vec::new(),
            colour: None,
        }
    }

    /// Right-aligns the columns named in `names`.
    pub fn right(mut self, names: &[&str]) -> Table {
        for (i, c) in self.columns.iter().enumerate() {
            if names.contains(&c.as_str()) {
                self.align[i] = Align::Right;
            }
        }
        self
    }

    /// The printed table, every line ending with a newline.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, header)| {
                self.rows
                    .iter()
                    .flat_map(|r| r.get(i).map(String::as_str).unwrap_or("").lines())
                    .map(width)
                    .chain([width(header)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let rule: String = std::iter::once("+".to_string())
            .chain(widths.iter().map(|w| format!("{}+", "-".repeat(w + 2))))
            .collect();
        let line = |cells: &[String], header: bool| -> String {
            let height = cells
                .iter()
                .map(|c| c.lines().count().max(1))
                .max()
                .unwrap_or(1);
            let mut out = String::new();
            for l in 0..height {
                out.push('|');
                for (i, w) in widths.iter().enumerate() {
                    let raw = cells.get(i).and_then(|c| c.lines().nth(l)).unwrap_or("");
                    let pad = " ".repeat(w.saturating_sub(width(raw)));
                    let text = match (self.colour == Some(i) && !header, role_colour(raw)) {
                        (true, Some(code)) => format!("{code}{raw}\x1b[0m"),
                        _ => raw.to_string(),
                    };
                    match self.align[i] {
                        Align::Left => out.push_str(&format!(" {text}{pad} |")),
                        Align::Right => out.push_str(&format!(" {pad}{text} |")),
                    }
                }
                out.push('\n');
            }
            out
        };
        let mut out = String::new();
        out.push_str(&self.top(&rule));
        out.push('\n');
        out.push_str(&line(&self.columns, true));
        out.push_str(&rule);
        out.push('\n');
        let rule_between = self.rows.iter().flatten().any(|c| c.contains('\n'));
        for (n, row) in self.rows.iter().enumerate() {
            if rule_between && n > 0 {
                out.push_str(&rule);
                out.push('\n');
            }
            out.push_str(&line(row, false));
        }
        out.push_str(&rule);
        out.push('\n');
        out
    }

    /// The top border with the title written over its start (cut to fit, as patronictl does).
    fn top(&self, rule: &str) -> String {
        if self.title.is_empty() {
            return rule.to_string();
        }
        let chars: Vec<char> = rule.chars().collect();
        let title: String = self
            .title
            .chars()
            .take(chars.len().saturating_sub(2))
            .collect();
        let rest: String = chars.iter().skip(1 + width(&title)).collect();
        format!("+{title}{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_keeps_its_header() {
        let t = Table::new("", &["TL", "LSN"]).right(&["TL", "LSN"]);
        assert_eq!(
            t.render(),
            "+----+-----+\n| TL | LSN |\n+----+-----+\n+----+-----+\n"
        );
    }

    #[test]
    fn multi_line_cells_get_rules_between_rows() {
        let mut t = Table::new(" T ", &["A", "B"]);
        t.rows.push(vec!["x".into(), "1\n2".into()]);
        t.rows.push(vec!["y".into(), "3".into()]);
        assert_eq!(
            t.render(),
            "+ T +---+\n| A | B |\n+---+---+\n| x | 1 |\n|   | 2 |\n+---+---+\n| y | 3 |\n+---+---+\n"
        );
    }
}

#[cfg(test)]
mod colour_tests {
    use super::*;

    #[test]
    fn colour_keeps_the_alignment() {
        let mut t = Table::new("", &["Role", "X"]);
        t.rows.push(vec!["Leader".into(), "1".into()]);
        t.rows.push(vec!["Replica".into(), "2".into()]);
        t.colour = Some(0);
        let plain: String = t
            .render()
            .replace("\x1b[1;32m", "")
            .replace("\x1b[34m", "")
            .replace("\x1b[0m", "");
        t.colour = None;
        assert_eq!(plain, t.render());
    }
}
