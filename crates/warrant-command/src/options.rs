//! A wrapper's options, read the way getopt reads them.
//!
//! Where a wrapped command starts depends on which options take a value:
//! `sudo -Eu root curl x` runs `curl`, not `root`, because `-u` takes the
//! rest of its cluster or the next word. Each wrapper declares its options
//! as data ([`Grammar`]); [`parse`] reads short clusters (`-Eu root`,
//! `-uroot`, `-qc 'cmd'`), long options (`--user root`, `--user=root`),
//! optional values (`-n1024`, `--nofile=1024`), `--`, and `NAME=value`
//! words for wrappers that take them.
//!
//! An option the grammar does not declare is taken for a flag and reported
//! ([`Parsed::unknown`]): it might take a value, so the caller cannot be
//! sure where the command starts and says the line is dynamic.

/// The options one program accepts.
#[derive(Clone, Copy)]
pub(crate) struct Grammar {
    // Each list is option names separated by spaces, to keep the tables
    // of `runners.rs` readable.
    /// Options without a value; `-` for a lone dash (env's `-`).
    pub(crate) flags: &'static str,
    /// Options with a value: attached (`-uroot`, `--user=root`) or the next
    /// word.
    pub(crate) valued: &'static str,
    /// Options whose value, if any, is attached (`-n1024`, `--nofile=1024`).
    pub(crate) optional: &'static str,
    /// Options taking the next two words (bwrap's `--bind SRC DEST`,
    /// hyperfine's `-L NAME VALUES`).
    pub(crate) valued2: &'static str,
    /// `-5`, nice's old form of `-n 5`.
    pub(crate) numeric: bool,
    /// Every `--long` or `--long=value` is one word (valgrind, firejail).
    pub(crate) long_in_one_word: bool,
    /// Options may follow operands, as getopt does by default
    /// (`su user -c …`); otherwise they end at the first operand.
    pub(crate) permute: bool,
    /// `NAME=value` words before the command are assignments (env, sudo).
    pub(crate) assigns: bool,
}

/// A program with no options.
pub(crate) const NONE: Grammar = Grammar {
    flags: "",
    valued: "",
    optional: "",
    valued2: "",
    numeric: false,
    long_in_one_word: false,
    permute: false,
    assigns: false,
};

/// What [`parse`] found.
pub(crate) struct Parsed {
    /// Each option given, as declared (`-u` for `-uroot`), and its value.
    pub(crate) options: Vec<(&'static str, Option<String>)>,
    /// The operands: with `permute`, every word that is not an option;
    /// otherwise everything from the first operand on.
    pub(crate) operands: Vec<Option<String>>,
    /// How many words the options took (the options' part of `args`).
    pub(crate) options_end: usize,
    /// An option the grammar does not know was taken for a flag.
    pub(crate) unknown: bool,
    /// `NAME=value` words among the options, for a grammar that `assigns`.
    pub(crate) assignments: Vec<(String, String)>,
}

impl Parsed {
    /// Whether option `name` was given.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.options.iter().any(|(o, _)| *o == name)
    }

    /// The value of the last of `names` given, if it has a literal one.
    pub(crate) fn value(&self, names: &[&str]) -> Option<Option<&str>> {
        self.options.iter().rev().find(|(o, _)| names.contains(o)).map(|(_, v)| v.as_deref())
    }
}

/// Reads `args` with `grammar`; `None` if a word that could be an option
/// is not a literal (it could be any option, or the command).
pub(crate) fn parse(args: &[Option<String>], grammar: &Grammar) -> Option<Parsed> {
    let mut parsed = Parsed {
        options: Vec::new(),
        operands: Vec::new(),
        options_end: 0,
        unknown: false,
        assignments: Vec::new(),
    };
    let mut i = 0;
    while let Some(word) = args.get(i) {
        let arg = word.as_deref()?;
        i += 1;
        if arg == "--" {
            parsed.operands.extend(args.get(i..).unwrap_or_default().iter().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            i += long_option(long, args.get(i..).unwrap_or_default(), grammar, &mut parsed)?;
        } else if let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) {
            i += short_options(cluster, args.get(i), grammar, &mut parsed)?;
        } else if arg == "-" && grammar.flags.split_whitespace().any(|f| f == "-") {
            parsed.options.push(("-", None));
        } else if grammar.assigns
            && parsed.operands.is_empty()
            && let Some((name, value)) = assignment(arg)
        {
            parsed.assignments.push((name.to_owned(), value.to_owned()));
        } else if grammar.permute {
            parsed.operands.push(word.clone());
            continue;
        } else {
            parsed.operands.extend(args.get(i - 1..).unwrap_or_default().iter().cloned());
            break;
        }
        parsed.options_end = i;
    }
    Some(parsed)
}

/// `NAME=value`: env takes any word with `=` that does not start with one
/// (`BASH_FUNC_f%%=…` included).
fn assignment(word: &str) -> Option<(&str, &str)> {
    word.split_once('=').filter(|(name, _)| !name.is_empty())
}

/// `--name`, `--name=value` or `--name value`; returns how many further
/// words it took.
fn long_option(
    long: &str,
    rest: &[Option<String>],
    grammar: &Grammar,
    parsed: &mut Parsed,
) -> Option<usize> {
    let (name, attached) = match long.split_once('=') {
        Some((name, value)) => (name, Some(value.to_owned())),
        None => (long, None),
    };
    let find =
        |list: &'static str| list.split_whitespace().find(|o| o.strip_prefix("--") == Some(name));
    if let Some(option) = find(grammar.valued) {
        if attached.is_some() {
            parsed.options.push((option, attached));
            return Some(0);
        }
        parsed.options.push((option, rest.first().cloned().flatten()));
        return Some(1);
    }
    if let Some(option) = find(grammar.valued2) {
        parsed.options.push((option, None));
        return Some(if attached.is_some() { 1 } else { 2 });
    }
    if let Some(option) = find(grammar.optional) {
        parsed.options.push((option, attached));
        return Some(0);
    }
    match find(grammar.flags) {
        Some(option) if attached.is_none() => parsed.options.push((option, None)),
        _ => parsed.unknown |= !grammar.long_in_one_word,
    }
    Some(0)
}

/// A cluster of short options (`Eu` of `-Eu root`); returns how many
/// further words it took.
fn short_options(
    cluster: &str,
    next: Option<&Option<String>>,
    grammar: &Grammar,
    parsed: &mut Parsed,
) -> Option<usize> {
    if grammar.numeric && cluster.chars().all(|c| c.is_ascii_digit()) {
        return Some(0);
    }
    for (at, letter) in cluster.char_indices() {
        let mut buffer = [0u8; 4];
        let name: &str = letter.encode_utf8(&mut buffer);
        let find = |list: &'static str| {
            list.split_whitespace().find(|o| o.strip_prefix('-') == Some(name))
        };
        let rest = cluster.get(at + letter.len_utf8()..).unwrap_or_default();
        if let Some(option) = find(grammar.valued) {
            if rest.is_empty() {
                parsed.options.push((option, next.cloned().flatten()));
                return Some(1);
            }
            parsed.options.push((option, Some(rest.to_owned())));
            return Some(0);
        }
        if let Some(option) = find(grammar.optional) {
            parsed.options.push((option, (!rest.is_empty()).then(|| rest.to_owned())));
            return Some(0);
        }
        if let Some(option) = find(grammar.valued2) {
            parsed.options.push((option, None));
            return Some(if rest.is_empty() { 2 } else { 1 });
        }
        match find(grammar.flags) {
            Some(option) => parsed.options.push((option, None)),
            None => parsed.unknown = true,
        }
    }
    Some(0)
}
