//! Editing `bucketdrive.yaml` the way a person would: `bucketdrive groups …` changes the few
//! lines concerned and leaves every other byte alone, so comments, blank lines, key order and
//! quoting survive.
//!
//! How: the wanted [`Config`] is computed by changing the parsed one; a text edit is made at the
//! positions [`SourceMap`] gives (a group block appended at the end of `groups:`, a list item
//! after a group's last grant, the lines of a grant or group deleted); the edited text is parsed
//! again and must give exactly the wanted config. When the YAML is written in a form these edits
//! do not handle (flow mappings such as `finance: { grants: [...] }`, anchors, a list spread over
//! unusual lines), or the check fails, the file is re-serialised from the wanted config instead
//! and [`Edited::comments_kept`] says so: the caller warns that comments and formatting were
//! lost. docs/cli.md lists what is kept.
//!
//! Nothing here writes files; callers validate the text with core's `load` before writing it.

use bucketdrive_core::config::{
    AccessSpec, Config, DenyEntry, GrantEntry, GroupConfig, Location, Seg, SourceMap,
};

/// One change to the groups of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    AddGroup { name: String, group: GroupConfig },
    RemoveGroup { name: String },
    AddGrant { group: String, grant: GrantEntry },
    RemoveGrant { group: String, path: String },
    AddDeny { group: String, deny: DenyEntry },
    RemoveDeny { group: String, path: String },
}

impl Edit {
    pub fn group(&self) -> &str {
        match self {
            Edit::AddGroup { name, .. } | Edit::RemoveGroup { name } => name,
            Edit::AddGrant { group, .. }
            | Edit::RemoveGrant { group, .. }
            | Edit::AddDeny { group, .. }
            | Edit::RemoveDeny { group, .. } => group,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(
        "`{file}` is not a config these commands can edit ({reason}); fix it first (`bucketdrive validate -c {file}` shows where)"
    )]
    Unreadable { file: String, reason: String },
    #[error(
        "group `{group}` already exists in `{file}`; change its grants with `bucketdrive groups grant {group} s3://…` or `groups revoke`"
    )]
    GroupExists { file: String, group: String },
    #[error("there is no group `{group}` in `{file}`; declared groups: {known}")]
    NoSuchGroup {
        file: String,
        group: String,
        known: String,
    },
    #[error("group `{group}` has no {list} entry for `{path}`; its {list}: {known}")]
    NoSuchEntry {
        group: String,
        list: &'static str,
        path: String,
        known: String,
    },
    #[error(
        "group `{group}` already has a {list} entry for `{path}`; remove it first (`bucketdrive groups revoke {group} {path}`) to change it"
    )]
    Duplicate {
        group: String,
        list: &'static str,
        path: String,
    },
    #[error("cannot write the config as YAML: {0}")]
    Serialize(String),
}

/// The result of an edit.
#[derive(Debug, Clone)]
pub struct Edited {
    /// The new file content.
    pub text: String,
    /// The config it parses to.
    pub config: Config,
    /// `true` when only the lines concerned changed; `false` when the file was re-serialised.
    pub comments_kept: bool,
    /// Why the file had to be re-serialised.
    pub fallback_reason: Option<String>,
}

/// Applies `edit` to the config text `source` (read from `file`, named in errors).
pub fn apply(file: &str, source: &str, edit: &Edit) -> Result<Edited, EditError> {
    let config: Config = serde_yaml_ng::from_str(source).map_err(|e| EditError::Unreadable {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    let want = wanted(file, &config, edit)?;
    let doc = Doc::new(source);
    let attempt = doc.edit(&config, edit);
    let reason = match attempt {
        Ok(text) => match serde_yaml_ng::from_str::<Config>(&text) {
            Ok(got) if got == want => {
                return Ok(Edited {
                    text,
                    config: want,
                    comments_kept: true,
                    fallback_reason: None,
                });
            }
            Ok(_) => "the edited text did not read back as intended".to_owned(),
            Err(e) => format!("the edited text did not parse ({e})"),
        },
        Err(why) => why,
    };
    let text = serde_yaml_ng::to_string(&want).map_err(|e| EditError::Serialize(e.to_string()))?;
    Ok(Edited {
        text,
        config: want,
        comments_kept: false,
        fallback_reason: Some(reason),
    })
}

fn known_groups(config: &Config) -> String {
    if config.groups.is_empty() {
        "none".to_owned()
    } else {
        config
            .groups
            .keys()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The config the edit should produce.
fn wanted(file: &str, config: &Config, edit: &Edit) -> Result<Config, EditError> {
    let mut want = config.clone();
    let group = edit.group().to_owned();
    let no_group = || EditError::NoSuchGroup {
        file: file.to_owned(),
        group: group.clone(),
        known: known_groups(config),
    };
    match edit {
        Edit::AddGroup { name, group: g } => {
            if want.groups.contains_key(name) {
                return Err(EditError::GroupExists {
                    file: file.to_owned(),
                    group: name.clone(),
                });
            }
            want.groups.insert(name.clone(), g.clone());
        }
        Edit::RemoveGroup { name } => {
            want.groups.shift_remove(name).ok_or_else(no_group)?;
        }
        Edit::AddGrant { grant, .. } => {
            let g = want.groups.get_mut(&group).ok_or_else(no_group)?;
            if g.grants.iter().any(|x| x.path == grant.path) {
                return Err(EditError::Duplicate {
                    group,
                    list: "grants",
                    path: grant.path.clone(),
                });
            }
            g.grants.push(grant.clone());
        }
        Edit::AddDeny { deny, .. } => {
            let g = want.groups.get_mut(&group).ok_or_else(no_group)?;
            if g.deny.iter().any(|x| x.path == deny.path) {
                return Err(EditError::Duplicate {
                    group,
                    list: "deny",
                    path: deny.path.clone(),
                });
            }
            g.deny.push(deny.clone());
        }
        Edit::RemoveGrant { path, .. } => {
            let g = want.groups.get_mut(&group).ok_or_else(no_group)?;
            let before = g.grants.len();
            g.grants.retain(|x| &x.path != path);
            if g.grants.len() == before {
                return Err(EditError::NoSuchEntry {
                    known: list_paths(g.grants.iter().map(|x| x.path.as_str())),
                    group,
                    list: "grants",
                    path: path.clone(),
                });
            }
        }
        Edit::RemoveDeny { path, .. } => {
            let g = want.groups.get_mut(&group).ok_or_else(no_group)?;
            let before = g.deny.len();
            g.deny.retain(|x| &x.path != path);
            if g.deny.len() == before {
                return Err(EditError::NoSuchEntry {
                    known: list_paths(g.deny.iter().map(|x| x.path.as_str())),
                    group,
                    list: "deny",
                    path: path.clone(),
                });
            }
        }
    }
    Ok(want)
}

fn list_paths<'a>(paths: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = paths.map(|p| format!("`{p}`")).collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

// ------------------------------------------------------------------------------ rendering YAML

/// A scalar as YAML: plain when that reads back as the same string in any context (block or
/// flow), otherwise double-quoted (JSON string syntax is valid YAML).
pub fn scalar(s: &str) -> String {
    let safe_chars = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '/' | '.' | '_' | '-' | ':' | '@' | '+' | '=' | '~' | ' ')
        })
        && !s.starts_with(['-', ':', '@', '.', '~', ' '])
        && !s.ends_with([':', ' '])
        && !s.contains(": ");
    let reads_back = safe_chars
        && matches!(
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>(s),
            Ok(serde_yaml_ng::Value::String(ref v)) if v == s
        );
    if reads_back {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
    }
}

fn access_text(a: &AccessSpec) -> String {
    match a {
        AccessSpec::One(w) => scalar(w),
        AccessSpec::Many(ws) => format!(
            "[{}]",
            ws.iter().map(|w| scalar(w)).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A grant as one list item: the bare path, or a flow mapping when it has more than a path.
pub fn grant_item(g: &GrantEntry) -> String {
    if g.access.is_none() && g.until.is_none() {
        return scalar(&g.path);
    }
    let mut parts = vec![format!("path: {}", serde_json_string(&g.path))];
    if let Some(a) = &g.access {
        parts.push(format!("access: {}", access_text(a)));
    }
    if let Some(u) = &g.until {
        parts.push(format!("until: {}", scalar(u)));
    }
    format!("{{ {} }}", parts.join(", "))
}

pub fn deny_item(d: &DenyEntry) -> String {
    match &d.access {
        None => scalar(&d.path),
        Some(a) => format!(
            "{{ path: {}, access: {} }}",
            serde_json_string(&d.path),
            access_text(a)
        ),
    }
}

fn serde_json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
}

/// A group as block YAML lines, the key at `indent` spaces, nesting by `step`.
pub fn group_block(name: &str, g: &GroupConfig, indent: usize, step: usize, nl: &str) -> String {
    let pad = " ".repeat(indent);
    let inner = " ".repeat(indent + step);
    let item = " ".repeat(indent + 2 * step);
    if g.description.is_none() && g.grants.is_empty() && g.deny.is_empty() {
        return format!("{pad}{}: {{}}{nl}", scalar(name));
    }
    let mut out = format!("{pad}{}:{nl}", scalar(name));
    if let Some(d) = &g.description {
        out.push_str(&format!("{inner}description: {}{nl}", scalar(d)));
    }
    if !g.grants.is_empty() {
        out.push_str(&format!("{inner}grants:{nl}"));
        for x in &g.grants {
            out.push_str(&format!("{item}- {}{nl}", grant_item(x)));
        }
    }
    if !g.deny.is_empty() {
        out.push_str(&format!("{inner}deny:{nl}"));
        for x in &g.deny {
            out.push_str(&format!("{item}- {}{nl}", deny_item(x)));
        }
    }
    out
}

// ------------------------------------------------------------------------------- text editing

/// The source with its lines and the path index.
struct Doc<'a> {
    src: &'a str,
    map: SourceMap,
    /// Byte range of each line, without its line break.
    lines: Vec<(usize, usize)>,
    nl: &'static str,
}

/// A text edit: replace `start..end` with `text`.
struct Splice {
    start: usize,
    end: usize,
    text: String,
}

type Attempt<T> = Result<T, String>;

impl<'a> Doc<'a> {
    fn new(src: &'a str) -> Doc<'a> {
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, _) in src.match_indices('\n') {
            let end = if i > start && src.as_bytes()[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            lines.push((start, end));
            start = i + 1;
        }
        if start < src.len() {
            lines.push((start, src.len()));
        }
        Doc {
            src,
            map: SourceMap::new(src),
            lines,
            nl: if src.contains("\r\n") { "\r\n" } else { "\n" },
        }
    }

    fn line(&self, i: usize) -> &'a str {
        self.lines
            .get(i)
            .map(|&(s, e)| &self.src[s..e])
            .unwrap_or("")
    }

    fn indent(&self, i: usize) -> usize {
        let l = self.line(i);
        l.len() - l.trim_start_matches(' ').len()
    }

    fn is_blank(&self, i: usize) -> bool {
        self.line(i).trim().is_empty()
    }

    fn is_comment(&self, i: usize) -> bool {
        self.line(i).trim_start().starts_with('#')
    }

    /// Byte offset where line `i` starts (the end of the file past the last line).
    fn line_start(&self, i: usize) -> usize {
        self.lines.get(i).map_or(self.src.len(), |&(s, _)| s)
    }

    /// Byte offset just after line `i`'s line break.
    fn after_line(&self, i: usize) -> usize {
        match self.lines.get(i + 1) {
            Some(&(s, _)) => s,
            None => self.src.len(),
        }
    }

    fn line_of(&self, byte: usize) -> usize {
        self.lines
            .iter()
            .rposition(|&(s, _)| s <= byte)
            .unwrap_or(0)
    }

    /// The position of the key at `path`, only if that exact key exists and starts its line
    /// (block style).
    fn block_key(&self, path: &[Seg]) -> Option<(Location, usize)> {
        let Some(Seg::Key(name)) = path.last() else {
            return None;
        };
        let loc = self.map.key(self.src, path)?;
        let text = self.src.get(loc.start..loc.end)?;
        let unquoted = text.trim_matches(|c| c == '"' || c == '\'');
        if unquoted != name {
            return None;
        }
        if path.len() > 1 && self.map.key(self.src, &path[..path.len() - 1]) == Some(loc) {
            return None;
        }
        let line = self.line_of(loc.start);
        let before = &self.src[self.line_start(line)..loc.start];
        if !before.chars().all(|c| c == ' ') {
            return None;
        }
        Some((loc, line))
    }

    /// What follows `key:` on the key's line, without a trailing comment, and where it starts.
    fn inline_value(&self, key: Location) -> Attempt<(usize, &'a str)> {
        let line = self.line_of(key.start);
        let end = self.lines.get(line).map_or(self.src.len(), |&(_, e)| e);
        let rest = &self.src[key.end..end];
        let colon = rest
            .find(':')
            .ok_or_else(|| "a key without a colon".to_owned())?;
        let after = key.end + colon + 1;
        let value = &self.src[after..end];
        let value = match value.find(" #") {
            Some(i) => &value[..i],
            None => value,
        };
        let trimmed = value.trim_start();
        Ok((after + (value.len() - trimmed.len()), trimmed.trim_end()))
    }

    /// The last line of the block that starts at `line` (a key or a list item whose own
    /// indentation is `indent`): lines indented deeper belong to it, as do list items at the
    /// same indentation when `same_indent_items` (a sequence written under its key without
    /// indentation). Blank lines and comments at the outer level that end the block do not.
    fn block_end(&self, line: usize, indent: usize, same_indent_items: bool) -> usize {
        let mut last = line;
        for i in line + 1..self.lines.len() {
            if self.is_blank(i) {
                continue;
            }
            let ind = self.indent(i);
            let item = same_indent_items
                && ind == indent
                && (self.line(i).trim_start().starts_with("- ") || self.line(i).trim() == "-");
            if ind > indent || item {
                last = i;
            } else if self.is_comment(i) {
                continue;
            } else {
                break;
            }
        }
        last
    }

    /// Comment lines directly above `line` at exactly `indent`: they describe it and go with it.
    fn attached_comments(&self, line: usize, indent: usize) -> usize {
        let mut first = line;
        while first > 0 {
            let prev = first - 1;
            if self.is_comment(prev) && self.indent(prev) == indent {
                first = prev;
            } else {
                break;
            }
        }
        first
    }

    /// Indentation of the first child key of a block mapping at `path` (whose key is at
    /// `parent_indent`), or `parent_indent + 2`.
    fn child_indent(&self, path: &[Seg], parent_indent: usize) -> usize {
        match self.map.value(self.src, path) {
            Some(v) if self.line_of(v.start) > self.line_of(self.key_start(path)) => {
                let l = self.line_of(v.start);
                self.indent(l).max(parent_indent + 1)
            }
            _ => parent_indent + 2,
        }
    }

    fn key_start(&self, path: &[Seg]) -> usize {
        self.map.key(self.src, path).map_or(0, |l| l.start)
    }

    fn apply(&self, mut splices: Vec<Splice>) -> String {
        splices.sort_by_key(|s| std::cmp::Reverse(s.start));
        let mut out = self.src.to_owned();
        for s in splices {
            out.replace_range(s.start..s.end, &s.text);
        }
        out
    }

    /// `" {}"`/`" []"` after the colon of the key at `key`: the container became empty.
    fn empty_value(&self, key: Location, empty: &str) -> Attempt<Splice> {
        let (at, _) = self.inline_value(key)?;
        // `at` is past the spaces after the colon; put the marker right after the colon.
        let colon = self.src[..at]
            .rfind(':')
            .ok_or_else(|| "a key without a colon".to_owned())?;
        Ok(Splice {
            start: colon + 1,
            end: colon + 1,
            text: format!(" {empty}"),
        })
    }

    fn edit(&self, config: &Config, edit: &Edit) -> Attempt<String> {
        let splices = match edit {
            Edit::AddGroup { name, group } => self.add_group(config, name, group)?,
            Edit::RemoveGroup { name } => self.remove_group(config, name)?,
            Edit::AddGrant { group, grant } => {
                self.add_item(group, "grants", &grant_item(grant))?
            }
            Edit::AddDeny { group, deny } => self.add_item(group, "deny", &deny_item(deny))?,
            Edit::RemoveGrant { group, path } => {
                let g = config
                    .groups
                    .get(group)
                    .ok_or_else(|| "no such group".to_owned())?;
                let idx: Vec<usize> = g
                    .grants
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| &x.path == path)
                    .map(|(i, _)| i)
                    .collect();
                self.remove_items(group, "grants", g.grants.len(), &idx)?
            }
            Edit::RemoveDeny { group, path } => {
                let g = config
                    .groups
                    .get(group)
                    .ok_or_else(|| "no such group".to_owned())?;
                let idx: Vec<usize> = g
                    .deny
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| &x.path == path)
                    .map(|(i, _)| i)
                    .collect();
                self.remove_items(group, "deny", g.deny.len(), &idx)?
            }
        };
        Ok(self.apply(splices))
    }

    fn add_group(&self, config: &Config, name: &str, group: &GroupConfig) -> Attempt<Vec<Splice>> {
        let groups = [Seg::Key("groups".into())];
        let Some((key, key_line)) = self.block_key(&groups) else {
            // No `groups:` yet: append one at the end of the file.
            let mut text = String::new();
            if !self.src.is_empty() && !self.src.ends_with('\n') {
                text.push_str(self.nl);
            }
            text.push_str(&format!("{}groups:{}", self.nl, self.nl));
            text.push_str(&group_block(name, group, 2, 2, self.nl));
            return Ok(vec![Splice {
                start: self.src.len(),
                end: self.src.len(),
                text,
            }]);
        };
        let key_indent = self.indent(key_line);
        let (at, inline) = self.inline_value(key)?;
        if inline == "{}" {
            // `groups: {}` becomes a block: drop the marker, put the group under the key.
            let block = group_block(name, group, key_indent + 2, 2, self.nl);
            return Ok(self.open_empty_mapping(at, key_line, &block));
        }
        if !inline.is_empty() {
            return Err("`groups:` is written as a flow mapping".to_owned());
        }
        let Some(first) = config.groups.keys().next() else {
            return Err("`groups:` has no entries".to_owned());
        };
        let first_path = [Seg::Key("groups".into()), Seg::Key(first.clone())];
        let Some((_, first_line)) = self.block_key(&first_path) else {
            return Err("the groups are written in flow style".to_owned());
        };
        let child = self.indent(first_line);
        let step = child.saturating_sub(key_indent).max(2);
        let end = self.block_end(key_line, key_indent, false);
        let at = self.after_line(end);
        let block = group_block(name, group, child, step, self.nl);
        Ok(vec![Splice {
            start: at,
            end: at,
            text: with_leading_break(self.src, at, &block, self.nl),
        }])
    }

    /// `key: {}` opened into block style: the `{}` at `at` (and the spaces before it) removed,
    /// `block` written on the lines after the key's line.
    fn open_empty_mapping(&self, at: usize, key_line: usize, block: &str) -> Vec<Splice> {
        let after = self.after_line(key_line);
        let mut remove_start = at;
        while remove_start > 0 && self.src.as_bytes()[remove_start - 1] == b' ' {
            remove_start -= 1;
        }
        vec![
            Splice {
                start: remove_start,
                end: at + 2,
                text: String::new(),
            },
            Splice {
                start: after,
                end: after,
                text: with_leading_break(self.src, after, block, self.nl),
            },
        ]
    }

    fn remove_group(&self, config: &Config, name: &str) -> Attempt<Vec<Splice>> {
        let path = [Seg::Key("groups".into()), Seg::Key(name.to_owned())];
        let (_, line) = self
            .block_key(&path)
            .ok_or_else(|| "the group is written in flow style (`{ … }`)".to_owned())?;
        let indent = self.indent(line);
        let end = self.block_end(line, indent, false);
        let first = self.attached_comments(line, indent);
        let mut splices = vec![Splice {
            start: self.line_start(first),
            end: self.after_line(end),
            text: String::new(),
        }];
        if config.groups.len() == 1 {
            let (gkey, _) = self
                .block_key(&[Seg::Key("groups".into())])
                .ok_or_else(|| "`groups:` is written in flow style".to_owned())?;
            splices.push(self.empty_value(gkey, "{}")?);
        }
        Ok(splices)
    }

    /// Appends `item` to the list `list` (`grants` or `deny`) of `group`.
    fn add_item(&self, group: &str, list: &str, item: &str) -> Attempt<Vec<Splice>> {
        let gpath = [Seg::Key("groups".into()), Seg::Key(group.to_owned())];
        let (gkey, gline) = self
            .block_key(&gpath)
            .ok_or_else(|| "the group is written in flow style (`{ … }`)".to_owned())?;
        let gindent = self.indent(gline);
        let (at, inline) = self.inline_value(gkey)?;
        let step = 2;
        if inline == "{}" {
            let inner = gindent + step;
            let block = format!(
                "{}{list}:{nl}{}- {item}{nl}",
                " ".repeat(inner),
                " ".repeat(inner + step),
                nl = self.nl
            );
            return Ok(self.open_empty_mapping(at, gline, &block));
        }
        if !inline.is_empty() {
            return Err(format!("group `{group}` is written as a flow mapping"));
        }
        let lpath = [
            Seg::Key("groups".into()),
            Seg::Key(group.to_owned()),
            Seg::Key(list.to_owned()),
        ];
        match self.block_key(&lpath) {
            None => {
                // No such list yet: add it as the group's last key.
                let inner = self.child_indent(&gpath, gindent);
                let end = self.block_end(gline, gindent, false);
                let at = self.after_line(end);
                let block = format!(
                    "{}{list}:{nl}{}- {item}{nl}",
                    " ".repeat(inner),
                    " ".repeat(inner + step),
                    nl = self.nl
                );
                Ok(vec![Splice {
                    start: at,
                    end: at,
                    text: with_leading_break(self.src, at, &block, self.nl),
                }])
            }
            Some((lkey, lline)) => {
                let (vat, inline) = self.inline_value(lkey)?;
                if inline.starts_with('[') {
                    let close = flow_end(self.src, vat)
                        .ok_or_else(|| "an unterminated flow list".to_owned())?;
                    let inner = &self.src[vat + 1..close - 1];
                    if inner.trim().is_empty() {
                        return Ok(vec![Splice {
                            start: vat,
                            end: close,
                            text: format!("[{item}]"),
                        }]);
                    }
                    let last = vat + 1 + inner.trim_end().len();
                    if self.src[..last].ends_with(',') {
                        return Ok(vec![Splice {
                            start: last,
                            end: last,
                            text: format!(" {item},"),
                        }]);
                    }
                    return Ok(vec![Splice {
                        start: last,
                        end: last,
                        text: format!(", {item}"),
                    }]);
                }
                if !inline.is_empty() {
                    return Err(format!("`{list}` of group `{group}` is not a list"));
                }
                // A block list: the new item goes after the last one, at the same indentation.
                let lindent = self.indent(lline);
                let mut last_item = None;
                for i in lline + 1..self.lines.len() {
                    if self.is_blank(i) || self.is_comment(i) {
                        continue;
                    }
                    let ind = self.indent(i);
                    let t = self.line(i).trim_start();
                    if ind < lindent || (ind == lindent && !t.starts_with('-')) {
                        break;
                    }
                    if t.starts_with("- ") || t == "-" {
                        match last_item {
                            None => last_item = Some((i, ind)),
                            Some((_, d)) if d == ind => last_item = Some((i, ind)),
                            _ => {}
                        }
                    }
                }
                let (iline, dash) =
                    last_item.ok_or_else(|| format!("`{list}` has no block items"))?;
                let end = self.block_end(iline, dash, false);
                let at = self.after_line(end);
                let text = format!("{}- {item}{}", " ".repeat(dash), self.nl);
                Ok(vec![Splice {
                    start: at,
                    end: at,
                    text: with_leading_break(self.src, at, &text, self.nl),
                }])
            }
        }
    }

    /// Removes the items at `indices` of a group's `list`, which has `len` items.
    fn remove_items(
        &self,
        group: &str,
        list: &str,
        len: usize,
        indices: &[usize],
    ) -> Attempt<Vec<Splice>> {
        let lpath = [
            Seg::Key("groups".into()),
            Seg::Key(group.to_owned()),
            Seg::Key(list.to_owned()),
        ];
        let (lkey, _) = self.block_key(&lpath).ok_or_else(|| {
            format!("`{list}` of group `{group}` is written in flow style (`[ … ]`)")
        })?;
        let (vat, inline) = self.inline_value(lkey)?;
        let item_at = |i: usize| -> Attempt<usize> {
            let mut p = lpath.to_vec();
            p.push(Seg::Index(i));
            self.map
                .value(self.src, &p)
                .map(|l| l.start)
                .ok_or_else(|| "an item without a position".to_owned())
        };
        if inline.starts_with('[') {
            let close =
                flow_end(self.src, vat).ok_or_else(|| "an unterminated flow list".to_owned())?;
            if indices.len() == len {
                return Ok(vec![Splice {
                    start: vat,
                    end: close,
                    text: "[]".to_owned(),
                }]);
            }
            let mut splices = Vec::new();
            for &i in indices {
                let start = item_at(i)?;
                if i + 1 < len {
                    // Up to the next item: the item, its comma and the space after.
                    let next = item_at(i + 1)?;
                    splices.push(Splice {
                        start,
                        end: next,
                        text: String::new(),
                    });
                } else {
                    // The last item: from the end of the previous one (its comma included).
                    let prev_start = item_at(i - 1)?;
                    let prev_end = item_end(self.src, prev_start)
                        .ok_or_else(|| "an item without an end".to_owned())?;
                    let end = item_end(self.src, start)
                        .ok_or_else(|| "an item without an end".to_owned())?;
                    splices.push(Splice {
                        start: prev_end,
                        end,
                        text: String::new(),
                    });
                }
            }
            if splices.windows(2).any(|w| w[0].end > w[1].start) {
                return Err("overlapping edits in a flow list".to_owned());
            }
            return Ok(splices);
        }
        if !inline.is_empty() {
            return Err(format!("`{list}` of group `{group}` is not a list"));
        }
        let mut splices = Vec::new();
        for &i in indices {
            let start = item_at(i)?;
            let line = self.line_of(start);
            let text = self.line(line);
            let dash = text
                .find('-')
                .filter(|&d| text[..d].chars().all(|c| c == ' '))
                .ok_or_else(|| "a list item that does not start its line".to_owned())?;
            let end = if i + 1 < len {
                let next_line = self.line_of(item_at(i + 1)?);
                // The item's lines, without comments that belong to the next item.
                let mut e = next_line.saturating_sub(1);
                let next_first = self.attached_comments(next_line, dash);
                if next_first <= e {
                    e = next_first.saturating_sub(1);
                }
                e.max(line)
            } else {
                self.block_end(line, dash, false)
            };
            let first = self.attached_comments(line, dash);
            splices.push(Splice {
                start: self.line_start(first),
                end: self.after_line(end),
                text: String::new(),
            });
        }
        if indices.len() == len {
            splices.push(self.empty_value(lkey, "[]")?);
        }
        Ok(splices)
    }
}

/// Inserting at `at` (a line start, or the end of a file without a final line break).
fn with_leading_break(src: &str, at: usize, text: &str, nl: &str) -> String {
    if at == src.len() && !src.is_empty() && !src.ends_with('\n') {
        format!("{nl}{text}")
    } else {
        text.to_owned()
    }
}

/// The byte just past the flow collection that opens at `start` (`[` or `{`), skipping quoted
/// strings and comments.
fn flow_end(src: &str, start: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' => i = quoted_end(bytes, i, b'"')?,
            b'\'' => i = quoted_end(bytes, i, b'\'')?,
            b'#' if i > 0 && matches!(bytes[i - 1], b' ' | b'\t' | b'\n') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the closing quote of the string opening at `start`.
fn quoted_end(bytes: &[u8], start: usize, quote: u8) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        if quote == b'"' && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The byte just past the flow item starting at `start`.
fn item_end(src: &str, start: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    match bytes.get(start)? {
        b'[' | b'{' => flow_end(src, start),
        b'"' => quoted_end(bytes, start, b'"').map(|i| i + 1),
        b'\'' => quoted_end(bytes, start, b'\'').map(|i| i + 1),
        _ => {
            let mut i = start;
            while i < bytes.len() && !matches!(bytes[i], b',' | b']' | b'}' | b'\n') {
                i += 1;
            }
            Some(start + src[start..i].trim_end().len())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const HEAD: &str = "stack: s\nregion: eu-west-1\nbuckets: [{name: files}]\n";

    fn grant(path: &str) -> GrantEntry {
        GrantEntry {
            path: path.into(),
            access: None,
            until: None,
        }
    }

    fn kept(src: &str, edit: Edit) -> String {
        let out = apply("t.yaml", src, &edit).unwrap();
        assert!(
            out.comments_kept,
            "fell back: {:?}\n{}",
            out.fallback_reason, out.text
        );
        out.text
    }

    #[test]
    fn adding_a_grant_to_a_block_list_keeps_comments_and_order() {
        let src = format!(
            "# top comment\n{HEAD}groups:\n  # finance team\n  finance:\n    grants:\n      - s3://files/q/   # quarterly\n      # annual next\n      - s3://files/a/\n    deny: [s3://files/a/secret/]\n  # engineering\n  eng:\n    grants: [s3://files/e/]\n# trailing\n"
        );
        let out = kept(
            &src,
            Edit::AddGrant {
                group: "finance".into(),
                grant: GrantEntry {
                    path: "s3://files/new/".into(),
                    access: Some(AccessSpec::One("read-write".into())),
                    until: Some("2027-03-31".into()),
                },
            },
        );
        assert_eq!(
            out,
            format!(
                "# top comment\n{HEAD}groups:\n  # finance team\n  finance:\n    grants:\n      - s3://files/q/   # quarterly\n      # annual next\n      - s3://files/a/\n      - {{ path: \"s3://files/new/\", access: read-write, until: 2027-03-31 }}\n    deny: [s3://files/a/secret/]\n  # engineering\n  eng:\n    grants: [s3://files/e/]\n# trailing\n"
            )
        );
    }

    #[test]
    fn a_grant_for_a_group_written_as_an_empty_mapping_opens_it_into_a_block() {
        let src =
            format!("{HEAD}groups:\n  admins: {{}}   # audit readers\n  eng:\n    grants: []\n");
        let out = kept(
            &src,
            Edit::AddGrant {
                group: "admins".into(),
                grant: grant("s3://files/audit/"),
            },
        );
        assert_eq!(
            out,
            format!(
                "{HEAD}groups:\n  admins:   # audit readers\n    grants:\n      - s3://files/audit/\n  eng:\n    grants: []\n"
            )
        );
    }

    #[test]
    fn adding_to_a_flow_list_and_creating_a_missing_list() {
        let src = format!(
            "{HEAD}groups:\n  eng:\n    grants: [s3://files/e/, \"s3://files/f/\"] # two\n  ops:\n    description: Ops\n"
        );
        let out = kept(
            &src,
            Edit::AddGrant {
                group: "eng".into(),
                grant: grant("s3://files/g/"),
            },
        );
        assert!(
            out.contains("grants: [s3://files/e/, \"s3://files/f/\", s3://files/g/] # two\n"),
            "{out}"
        );
        let out = kept(
            &out,
            Edit::AddDeny {
                group: "ops".into(),
                deny: DenyEntry {
                    path: "s3://files/x/".into(),
                    access: None,
                },
            },
        );
        assert!(
            out.ends_with("  ops:\n    description: Ops\n    deny:\n      - s3://files/x/\n"),
            "{out}"
        );
    }

    #[test]
    fn adding_a_group_goes_at_the_end_of_groups_before_the_next_key() {
        let src = format!(
            "{HEAD}groups:\n    finance:\n        grants:\n            - s3://files/q/\n\n# tags below\ntags:\n  team: x\n"
        );
        let out = kept(
            &src,
            Edit::AddGroup {
                name: "auditors".into(),
                group: GroupConfig {
                    description: Some("External: auditors".into()),
                    grants: vec![grant("s3://files/a/")],
                    deny: vec![],
                },
            },
        );
        assert_eq!(
            out,
            format!(
                "{HEAD}groups:\n    finance:\n        grants:\n            - s3://files/q/\n    auditors:\n        description: \"External: auditors\"\n        grants:\n            - s3://files/a/\n\n# tags below\ntags:\n  team: x\n"
            )
        );
    }

    #[test]
    fn adding_a_group_to_an_empty_or_missing_groups_key() {
        let g = GroupConfig {
            description: None,
            grants: vec![grant("s3://files/a/")],
            deny: vec![],
        };
        let out = kept(
            &format!("{HEAD}groups: {{}} # none yet\n"),
            Edit::AddGroup {
                name: "a".into(),
                group: g.clone(),
            },
        );
        assert_eq!(
            out,
            format!("{HEAD}groups: # none yet\n  a:\n    grants:\n      - s3://files/a/\n")
        );
        let out = kept(
            HEAD.trim_end(),
            Edit::AddGroup {
                name: "a".into(),
                group: g,
            },
        );
        assert!(out.ends_with("\n\ngroups:\n  a:\n    grants:\n      - s3://files/a/\n"));
    }

    #[test]
    fn removing_grants_from_block_and_flow_lists() {
        let src = format!(
            "{HEAD}groups:\n  finance:\n    grants:\n      # the quarter\n      - s3://files/q/\n      - {{ path: \"s3://files/a/\",\n          access: read }}\n      - s3://files/z/\n    deny: [s3://files/a/x/, s3://files/a/y/]\n"
        );
        let out = kept(
            &src,
            Edit::RemoveGrant {
                group: "finance".into(),
                path: "s3://files/a/".into(),
            },
        );
        assert_eq!(
            out,
            format!(
                "{HEAD}groups:\n  finance:\n    grants:\n      # the quarter\n      - s3://files/q/\n      - s3://files/z/\n    deny: [s3://files/a/x/, s3://files/a/y/]\n"
            )
        );
        let out = kept(
            &out,
            Edit::RemoveGrant {
                group: "finance".into(),
                path: "s3://files/q/".into(),
            },
        );
        assert!(
            out.contains("    grants:\n      - s3://files/z/\n"),
            "{out}"
        );
        let out = kept(
            &out,
            Edit::RemoveDeny {
                group: "finance".into(),
                path: "s3://files/a/y/".into(),
            },
        );
        assert!(out.contains("deny: [s3://files/a/x/]\n"), "{out}");
        let out = kept(
            &out,
            Edit::RemoveDeny {
                group: "finance".into(),
                path: "s3://files/a/x/".into(),
            },
        );
        assert!(out.contains("deny: []\n"), "{out}");
        let out = kept(
            &out,
            Edit::RemoveGrant {
                group: "finance".into(),
                path: "s3://files/z/".into(),
            },
        );
        assert!(out.contains("    grants: []\n"), "{out}");
    }

    #[test]
    fn removing_a_group_takes_its_comment_and_leaves_the_rest() {
        let src = format!(
            "{HEAD}admins: [admins]\ngroups:\n  # finance team\n  finance:\n    grants: [s3://files/q/]\n\n  admins: {{}} # audit readers\n"
        );
        let out = kept(
            &src,
            Edit::RemoveGroup {
                name: "finance".into(),
            },
        );
        assert_eq!(
            out,
            format!("{HEAD}admins: [admins]\ngroups:\n\n  admins: {{}} # audit readers\n")
        );
        let out = kept(
            &out,
            Edit::AddGrant {
                group: "admins".into(),
                grant: grant("s3://files/audit/"),
            },
        );
        assert!(
            out.ends_with("  admins: # audit readers\n    grants:\n      - s3://files/audit/\n"),
            "{out}"
        );
        let out = kept(
            &out,
            Edit::RemoveGroup {
                name: "admins".into(),
            },
        );
        assert!(out.ends_with("groups: {}\n\n"), "{out:?}");
    }

    #[test]
    fn a_flow_style_group_falls_back_to_reserialising_and_says_why() {
        let src = format!("{HEAD}# lost\ngroups: {{ finance: {{ grants: [s3://files/q/] }} }}\n");
        let out = apply(
            "t.yaml",
            &src,
            &Edit::AddGrant {
                group: "finance".into(),
                grant: grant("s3://files/a/"),
            },
        )
        .unwrap();
        assert!(!out.comments_kept);
        assert!(out.fallback_reason.unwrap().contains("flow"));
        let back: Config = serde_yaml_ng::from_str(&out.text).unwrap();
        assert_eq!(back.groups["finance"].grants.len(), 2);
    }

    #[test]
    fn errors_name_what_exists() {
        let src = format!("{HEAD}groups:\n  finance:\n    grants: [s3://files/q/]\n");
        let e = apply(
            "t.yaml",
            &src,
            &Edit::RemoveGrant {
                group: "finance".into(),
                path: "s3://files/x/".into(),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("`s3://files/q/`"), "{e}");
        let e = apply(
            "t.yaml",
            &src,
            &Edit::RemoveGroup {
                name: "nope".into(),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("`finance`"), "{e}");
        let e = apply(
            "t.yaml",
            &src,
            &Edit::AddGroup {
                name: "finance".into(),
                group: GroupConfig::default(),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
    }

    #[test]
    fn scalars_are_plain_only_when_they_read_back() {
        assert_eq!(scalar("s3://files/q/"), "s3://files/q/");
        assert_eq!(scalar("finance"), "finance");
        assert_eq!(scalar("2027-03-31"), "2027-03-31");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("123"), "\"123\"");
        assert_eq!(scalar("Project team"), "Project team");
        assert_eq!(scalar(" lead"), "\" lead\"");
        assert_eq!(scalar("s3://b/year=2024/"), "s3://b/year=2024/");
        assert_eq!(scalar("x: y"), "\"x: y\"");
        assert_eq!(scalar("s3://b/a#b"), "\"s3://b/a#b\"");
    }
}
