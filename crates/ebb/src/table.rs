//! kubectl-style tables: upper-case headers, left-aligned columns three spaces apart, no borders.

/// A table being built.
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
    padding: usize,
}

impl Table {
    /// A `kubectl get` table: columns three spaces apart.
    pub(crate) fn new(headers: &[&str]) -> Self {
        Table {
            rows: vec![headers.iter().map(|h| (*h).to_string()).collect()],
            padding: 3,
        }
    }

    /// A `kubectl describe` section table: columns two spaces apart, headers underlined.
    pub(crate) fn describe(headers: &[&str]) -> Self {
        let mut t = Table {
            rows: vec![headers.iter().map(|h| (*h).to_string()).collect()],
            padding: 2,
        };
        t.rows.push(
            headers
                .iter()
                .map(|h| "-".repeat(h.chars().count()))
                .collect(),
        );
        t
    }

    pub(crate) fn row(&mut self, cells: &[String]) {
        self.rows.push(cells.to_vec());
    }

    /// The table as lines, each ending in a newline.
    pub(crate) fn render(&self) -> String {
        self.indented(0)
    }

    /// The table with every line indented by `indent` spaces.
    pub(crate) fn indented(&self, indent: usize) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = " ".repeat(indent);
            for (c, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if c + 1 < row.len() {
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + self.padding));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_three_spaces_apart() {
        let mut t = Table::new(&["NAME", "REPLICAS"]);
        t.row(&["app-fastapi".into(), "2".into()]);
        assert_eq!(t.render(), "NAME          REPLICAS\napp-fastapi   2\n");
        assert_eq!(
            t.indented(2),
            "  NAME          REPLICAS\n  app-fastapi   2\n"
        );
        let mut d = Table::describe(&["Type", "Reason"]);
        d.row(&["Normal".into(), "SuccessfulRescale".into()]);
        assert_eq!(
            d.render(),
            "Type    Reason\n----    ------\nNormal  SuccessfulRescale\n"
        );
    }
}
