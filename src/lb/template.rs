//! The templates' tiny language: named blocks and `{{name}}` placeholders.
//!
//! A template file is a list of blocks; a line `@@ name` starts one, lines
//! starting with `@@#` are notes for whoever edits the template and never reach
//! the output. In a block, `{{name}}` is replaced by its value. A placeholder
//! alone on its line takes several lines: each gets that line's indentation, and
//! an empty value removes the line. Every placeholder must have a value, so a
//! typo in a template fails the generator's tests instead of reaching a balancer.

use crate::problem::Problem;

/// The blocks of one template file.
pub(crate) struct Blocks {
    file: &'static str,
    blocks: Vec<(&'static str, String)>,
}

/// Values for placeholders.
#[derive(Default, Clone)]
pub(crate) struct Vars(Vec<(&'static str, String)>);

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }
    pub fn set(mut self, name: &'static str, value: impl Into<String>) -> Vars {
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
        self
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Blocks {
    pub fn parse(file: &'static str, text: &'static str) -> Blocks {
        let mut blocks: Vec<(&'static str, String)> = Vec::new();
        for line in text.lines() {
            if line.starts_with("@@#") {
                continue;
            }
            if let Some(name) = line.strip_prefix("@@ ") {
                blocks.push((name.trim(), String::new()));
                continue;
            }
            if let Some((_, body)) = blocks.last_mut() {
                body.push_str(line);
                body.push('\n');
            }
        }
        // Blank lines between blocks are for reading the template, not the output.
        for (_, body) in &mut blocks {
            let trimmed = body.trim_end_matches('\n').len();
            body.truncate(trimmed);
            body.push('\n');
        }
        Blocks { file, blocks }
    }

    /// Block `name` with its placeholders filled in.
    pub fn render(&self, block: &str, vars: &Vars) -> Result<String, Problem> {
        let body = self
            .blocks
            .iter()
            .find(|(n, _)| *n == block)
            .map(|(_, b)| b)
            .ok_or_else(|| self.defect(format!("has no block `{block}`")))?;
        let mut out = String::with_capacity(body.len() + 256);
        for line in body.lines() {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            if let Some(name) = whole_line_placeholder(trimmed) {
                let value = vars.get(name).ok_or_else(|| {
                    self.defect(format!("block `{block}`: no value for {{{{{name}}}}}"))
                })?;
                for l in value.lines() {
                    if l.is_empty() {
                        out.push('\n');
                    } else {
                        out.push_str(indent);
                        out.push_str(l);
                        out.push('\n');
                    }
                }
                continue;
            }
            out.push_str(&self.fill_line(line, vars)?);
            out.push('\n');
        }
        Ok(out)
    }

    fn fill_line(&self, line: &str, vars: &Vars) -> Result<String, Problem> {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| self.defect(format!("unclosed placeholder in `{line}`")))?;
            let name = &after[..end];
            let value = vars
                .get(name)
                .ok_or_else(|| self.defect(format!("no value for {{{{{name}}}}} in `{line}`")))?;
            if value.contains('\n') {
                return Err(self.defect(format!(
                    "{{{{{name}}}}} has several lines but shares its line: `{line}`"
                )));
            }
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn defect(&self, what: String) -> Problem {
        Problem::other(format!("the built-in template {} {what}", self.file))
            .fix("this is a defect in mdcluster; please report it")
    }
}

fn whole_line_placeholder(trimmed: &str) -> Option<&str> {
    let name = trimmed.strip_prefix("{{")?.strip_suffix("}}")?;
    (!name.contains("{{") && !name.contains("}}")).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str =
        "@@# a note\n@@ one\nserver {{name}} {{addr}}\n\n@@ two\nlisten x\n    {{lines}}\nend\n";

    #[test]
    fn inline_and_block_placeholders() {
        let b = Blocks::parse("t", T);
        let v = Vars::new().set("name", "A").set("addr", "1.2.3.4:80");
        assert_eq!(b.render("one", &v).unwrap(), "server A 1.2.3.4:80\n");
        let v = Vars::new().set("lines", "a\nb");
        assert_eq!(
            b.render("two", &v).unwrap(),
            "listen x\n    a\n    b\nend\n"
        );
        let v = Vars::new().set("lines", "");
        assert_eq!(b.render("two", &v).unwrap(), "listen x\nend\n");
    }

    #[test]
    fn missing_values_and_blocks_are_errors() {
        let b = Blocks::parse("t", T);
        assert!(b.render("one", &Vars::new().set("name", "A")).is_err());
        assert!(b.render("three", &Vars::new()).is_err());
        let v = Vars::new().set("name", "A\nB").set("addr", "x");
        assert!(b.render("one", &v).is_err(), "several lines inline");
    }
}
