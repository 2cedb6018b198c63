//! Words as the shell passes them: quotes removed, escapes undone, and
//! `None` for anything the shell would expand (parameters, substitutions,
//! globs, brace expansion, `$'\…'` escapes, translated strings).

use tree_sitter::Node;

/// The source text of `node`.
pub(crate) fn text<'s>(node: Node<'_>, src: &'s str) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

/// The value of a word as the shell would pass it, if it is a literal (no
/// expansion or substitution in it).
pub(crate) fn literal(node: Node<'_>, src: &str) -> Option<String> {
    match node.kind() {
        "command_name" => {
            let mut cursor = node.walk();
            let mut children = node.named_children(&mut cursor);
            let only = children.next()?;
            if children.next().is_some() {
                return None;
            }
            literal(only, src)
        }
        // An unquoted glob is replaced by the names it matches.
        "word" if has_glob(text(node, src)) => None,
        "word" | "number" => Some(unescape_bare(text(node, src))),
        "raw_string" => {
            let t = text(node, src);
            Some(t.strip_prefix('\'')?.strip_suffix('\'')?.to_owned())
        }
        "string" => {
            let mut out = String::new();
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                if child.kind() != "string_content" {
                    return None;
                }
                out.push_str(&unescape_double(text(child, src)));
            }
            Some(out)
        }
        "ansi_c_string" => {
            let t = text(node, src);
            let inner = t.strip_prefix("$'")?.strip_suffix('\'')?;
            // Escapes other than the plain ones could spell any byte; a
            // name built that way is not taken at face value.
            (!inner.contains('\\')).then(|| inner.to_owned())
        }
        "concatenation" => {
            let mut out = String::new();
            if has_brace_expansion(node, src) {
                return None;
            }
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                out.push_str(&literal(child, src)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// An unescaped `*`, `?` or `[` in an unquoted word: a pathname pattern.
pub(crate) fn has_glob(word: &str) -> bool {
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// `{a,b}` or `{1..3}` among a concatenation's unquoted words: the shell
/// turns it into several words (`cu{r,}l` is `curl cul`).
fn has_brace_expansion(node: Node<'_>, src: &str) -> bool {
    let mut open = false;
    let mut list = false;
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        let t = text(child, src);
        match (child.kind(), t) {
            ("word", "{") => (open, list) = (true, false),
            ("word", "}") if open && list => return true,
            ("word", t) if open => list |= t.contains(',') || t.contains(".."),
            _ => {}
        }
    }
    false
}

/// An unquoted word: a backslash keeps the next character (and a
/// backslash-newline disappears).
fn unescape_bare(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\n') | None => {}
                Some(next) => out.push(next),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Inside double quotes, a backslash escapes only `$`, `` ` ``, `"`, `\`
/// and newline.
fn unescape_double(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    let mut chars = content.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('$' | '`' | '"' | '\\') => {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                }
                Some('\n') => {
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}
