//! Tables of results, written once and rendered both as CSV (full precision, for programs) and
//! as Markdown (for the results pages). Cells are text: the caller formats numbers as the
//! medium needs (CSV cells with `{}`, page cells rounded).

/// A table: a header and rows of cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Cells from values that display themselves: `cells![a, b, c]`.
#[macro_export]
macro_rules! cells {
    ($($cell:expr),* $(,)?) => { vec![$($cell.to_string()),*] };
}

impl Table {
    /// A table with these column names.
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        Table { header: header.iter().map(|h| h.as_ref().to_string()).collect(), rows: Vec::new() }
    }

    /// Appends a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len(), "a row of {} cells in a table of {} columns", cells.len(), self.header.len());
        self.rows.push(cells);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Comma-separated values: the header line, then one line per row. Cells holding a comma,
    /// a quote or a line break are quoted (RFC 4180).
    pub fn csv(&self) -> String {
        let line = |cells: &[String]| {
            let quoted: Vec<String> = cells
                .iter()
                .map(|c| if c.contains([',', '"', '\n']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.clone() })
                .collect();
            quoted.join(",") + "\n"
        };
        std::iter::once(&self.header).chain(&self.rows).map(|r| line(r)).collect()
    }

    /// A Markdown table: the header, the rule, one line per row. A `|` inside a cell is escaped.
    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
        let rule = format!("|{}\n", "---|".repeat(self.header.len()));
        let mut text = line(&self.header);
        text.push_str(&rule);
        for r in &self.rows {
            text.push_str(&line(r));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn renders_csv_and_markdown() {
        let mut t = Table::new(&["c", "time"]);
        t.row(cells![1.5, "2 ± 0.1"]);
        t.row(cells!["a,b", "x|y"]);
        assert_eq!(t.csv(), "c,time\n1.5,2 ± 0.1\n\"a,b\",x|y\n");
        assert_eq!(t.markdown(), "| c | time |\n|---|---|\n| 1.5 | 2 ± 0.1 |\n| a,b | x\\|y |\n");
        assert_eq!(t.len(), 2);
    }
}
