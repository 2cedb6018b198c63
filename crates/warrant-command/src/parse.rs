//! The line as bash reads it: line continuations removed, then parsed.
//!
//! Bash deletes every backslash-newline before it splits words, except
//! inside single quotes (`'…'`, `$'…'`), comments and the body of a
//! here-document whose delimiter is quoted. tree-sitter's grammar instead
//! reads a backslash-newline as a separator between words, so `cu\⏎rl`
//! would be two words (`cu`, `rl`) where bash runs `curl`. [`parse`]
//! deletes the continuations bash deletes and parses what is left.
//!
//! Which regions keep their continuations is read from the parse itself,
//! and deleting one can change those regions (`a\⏎#x` is a word, not a
//! comment), so the text is joined and parsed again until a parse leaves
//! nothing to delete, at most [`MAX_ROUNDS`] times; a line that needs more
//! is refused rather than half-read.
//!
//! A backslash before a carriage return and newline is an escaped carriage
//! return to bash (the newline still ends the command: `echo x \␍⏎curl y`
//! runs `curl`), but a continuation to the grammar. Such a line is refused:
//! no rewriting makes the grammar read it as bash does.
//!
//! It does not decide what a here-document's body or a `sh -c` string
//! means: the walker parses those in turn, through this same function.

use tree_sitter::{Node, Parser, Tree};

use crate::CommandError;

/// How many times a line is joined and parsed again before it is refused.
const MAX_ROUNDS: usize = 8;

/// Parsed text: `text` is what the tree's byte ranges refer to.
pub(crate) struct Parsed {
    pub(crate) text: String,
    pub(crate) tree: Tree,
}

/// `source` with its continuations removed as bash removes them, parsed.
/// A syntax error anywhere is an error, with its byte offset in `source`.
pub(crate) fn parse(source: &str) -> Result<Parsed, CommandError> {
    let mut text = source.to_owned();
    // Where each round removed continuations, to map an error's offset back.
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for _ in 0..=MAX_ROUNDS {
        let tree = match tree(&text) {
            Ok(tree) => tree,
            Err(CommandError::Syntax(at)) => {
                return Err(CommandError::Syntax(original_offset(at, &rounds)));
            }
            Err(other) => return Err(other),
        };
        if !text.contains("\\\n") && !text.contains("\\\r\n") {
            return Ok(Parsed { text, tree });
        }
        let mut kept = Vec::new();
        protected(tree.root_node(), &text, &mut kept);
        let (joined, removed) = remove_continuations(&text, &kept)
            .map_err(|at| CommandError::CarriageReturn(original_offset(at, &rounds)))?;
        if removed.is_empty() {
            return Ok(Parsed { text, tree });
        }
        rounds.push(removed);
        text = joined;
    }
    Err(CommandError::Continuations)
}

/// One parse of `text`, refused if any part of it is not valid syntax.
fn tree(text: &str) -> Result<Tree, CommandError> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_bash::LANGUAGE.into())
        .map_err(|e| CommandError::Parser(e.to_string()))?;
    let tree = parser.parse(text, None).ok_or(CommandError::Syntax(0))?;
    if let Some(bad) = first_error(tree.root_node()) {
        return Err(CommandError::Syntax(bad));
    }
    Ok(tree)
}

/// The byte offset of the first syntax error under `node`, if any.
fn first_error(node: Node<'_>) -> Option<usize> {
    if !node.has_error() {
        return None;
    }
    if node.is_error() || node.is_missing() {
        return Some(node.start_byte());
    }
    let mut cursor = node.walk();
    let found = node.children(&mut cursor).find_map(first_error);
    found.or(Some(node.start_byte()))
}

/// Byte ranges where bash keeps a backslash-newline as it is: single-quoted
/// strings, comments, and the body of a here-document with a quoted
/// delimiter (from the line after its operator to its end line).
fn protected(node: Node<'_>, text: &str, kept: &mut Vec<(usize, usize)>) {
    match node.kind() {
        "raw_string" | "ansi_c_string" | "comment" => {
            kept.push((node.start_byte(), node.end_byte()));
            return;
        }
        "heredoc_redirect" => {
            let mut cursor = node.walk();
            let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
            let start = children.iter().find(|c| c.kind() == "heredoc_start");
            let end = children.iter().find(|c| c.kind() == "heredoc_end");
            if let Some(start) = start
                && text.get(start.byte_range()).is_some_and(|d| d.contains(['\'', '"', '\\']))
                && let Some(line) = text.get(start.end_byte()..).and_then(|t| t.find('\n'))
            {
                let body = start.end_byte() + line + 1;
                let end = end.map_or(node.end_byte(), |e| e.start_byte());
                if body < end {
                    kept.push((body, end));
                }
            }
        }
        _ => {}
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        protected(child, text, kept);
    }
}

/// `text` without the backslash-newlines outside `kept`, and where each
/// removed one was; `Err` with the offset of a backslash before `\r\n`.
fn remove_continuations(
    text: &str,
    kept: &[(usize, usize)],
) -> Result<(String, Vec<usize>), usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut removed = Vec::new();
    let mut kept = kept.iter().peekable();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        while kept.next_if(|(_, end)| *end <= i).is_some() {}
        if let Some(&&(start, end)) = kept.peek()
            && start <= i
        {
            out.extend_from_slice(bytes.get(i..end).unwrap_or_default());
            i = end;
            continue;
        }
        let next_is_kept = kept.peek().is_some_and(|(start, _)| *start == i + 1);
        match (byte, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'\\', Some(b'\n'), _) => {
                removed.push(i);
                i += 2;
            }
            (b'\\', Some(b'\r'), Some(b'\n')) => return Err(i),
            // An escaped character is kept with its backslash: `\\⏎` is a
            // backslash and then a newline that ends the command.
            (b'\\', Some(&next), _) if !next_is_kept => {
                out.extend_from_slice(&[byte, next]);
                i += 2;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    // Only ASCII pairs were removed, so the text is still UTF-8.
    String::from_utf8(out).map(|joined| (joined, removed)).map_err(|_| 0)
}

/// Maps a byte offset in the joined text back to the text the caller gave.
fn original_offset(mut at: usize, rounds: &[Vec<usize>]) -> usize {
    for removed in rounds.iter().rev() {
        for &position in removed {
            if position <= at {
                at += 2;
            } else {
                break;
            }
        }
    }
    at
}
