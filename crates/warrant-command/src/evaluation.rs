//! Text bash reads a second time: as arithmetic, as a variable name with a
//! subscript, or as a prompt.
//!
//! Some places take a word that was already expanded and evaluate it
//! again, and an array subscript in that text is expanded once more, so a
//! `$(…)` in it runs even when the word was single-quoted:
//! `let 'x=a[$(id)]'`, `test -v 'a[$(id)]'`, `read 'a[$(id)]'`,
//! `a['$(id)']=1`, `echo $(( 'a[$(id)]' ))`. Arithmetic also evaluates the
//! value of every variable it names, in turn, so `x='a[$(id)]'; echo
//! $((x))` runs `id`. The places are arithmetic (`$((…))`, `$[…]`,
//! `((…))`, `for ((…))`, indexed subscripts, `${x:offset:length}`,
//! `[[ … -eq … ]]`, `let`, values of `declare -i` variables), and variable
//! names given to builtins (the table [`EVALUATING`]), `[[ -v … ]]` and
//! `${!name}` indirection.
//!
//! The rules, all failing closed to [`crate::Analysis::dynamic`]:
//!
//! - evaluated text that carries code: a literal `$(`, backtick, `<(`,
//!   `>(` or `${`, a command or process substitution (its output is
//!   evaluated), an ANSI-C string with escapes (it can spell `$(`),
//!   positional parameters, or, given to a builtin, a word that is not a
//!   literal;
//! - a variable given a value that could carry code (such a literal, a
//!   substitution's output, positional parameters, what `read`, `mapfile`,
//!   `printf -v`, `getopts` or `select` read, the words of a `for` loop
//!   that are not literals) on a line that also evaluates a variable. Which
//!   value reaches which evaluation is not tracked: the two together are
//!   enough;
//! - `${x@P}`: prompt expansion runs substitutions in the value. The other
//!   transformations (`@Q`, `@E`, `@A`, `@K`, `@k`, `@a`, `@U`, `@u`, `@L`)
//!   only quote, escape or describe the value and run nothing;
//! - a nameref (`declare -n`, `typeset -n`, `local -n`): assigning through
//!   it assigns whatever variable it names, `PATH` or `LD_PRELOAD`
//!   included.
//!
//! It does not see values the line does not set: a variable inherited
//! from the environment is taken to be the caller's, not the agent's.

use tree_sitter::Node;

use crate::environment::named;
use crate::words::{has_glob, literal, text};
use crate::{CommandError, Walker};

/// Which operands of a builtin bash evaluates.
#[derive(Clone, Copy)]
enum Operands {
    /// Every operand is an arithmetic expression.
    Arithmetic,
    /// Every operand (options' values included, to be safe) may name a
    /// variable with a subscript.
    Names,
    /// Every operand but the value of this option names a variable.
    NamesExcept(&'static str),
    /// The value of one of these options names a variable.
    After(&'static [&'static str]),
    /// `declare`-like: names, and with `-i`, arithmetic values.
    Declared,
}

/// A builtin that evaluates some of its operands.
struct Evaluating {
    program: &'static str,
    operands: Operands,
    /// Why it is listed (bash 5.2 runs a `$(…)` in each position).
    reason: &'static str,
}

/// The builtins that evaluate their operands, with why.
const EVALUATING: &[Evaluating] = &[
    Evaluating {
        program: "let",
        operands: Operands::Arithmetic,
        reason: "every operand is an arithmetic expression",
    },
    Evaluating {
        program: "test",
        operands: Operands::After(&["-v", "-R"]),
        reason: "the operand of -v or -R is a variable name, its subscript evaluated",
    },
    Evaluating {
        program: "[",
        operands: Operands::After(&["-v", "-R"]),
        reason: "the operand of -v or -R is a variable name, its subscript evaluated",
    },
    Evaluating {
        program: "printf",
        operands: Operands::After(&["-v"]),
        reason: "the variable -v assigns is named with a subscript",
    },
    Evaluating {
        program: "read",
        operands: Operands::Names,
        reason: "the variables it assigns (operands, -a) are named with subscripts",
    },
    Evaluating {
        program: "mapfile",
        operands: Operands::NamesExcept("-C"),
        reason: "the array it fills is named with a subscript (-C is code, parsed in turn)",
    },
    Evaluating {
        program: "readarray",
        operands: Operands::NamesExcept("-C"),
        reason: "the array it fills is named with a subscript (-C is code, parsed in turn)",
    },
    Evaluating {
        program: "unset",
        operands: Operands::Names,
        reason: "what it unsets is named with a subscript",
    },
    Evaluating {
        program: "wait",
        operands: Operands::After(&["-p"]),
        reason: "the variable -p assigns is named with a subscript",
    },
    Evaluating {
        program: "getopts",
        operands: Operands::Names,
        reason: "the variable it assigns is named (older bashes evaluate its subscript)",
    },
    Evaluating {
        program: "declare",
        operands: Operands::Declared,
        reason: "names take subscripts; -i values are arithmetic; -n makes a nameref",
    },
    Evaluating {
        program: "typeset",
        operands: Operands::Declared,
        reason: "names take subscripts; -i values are arithmetic; -n makes a nameref",
    },
    Evaluating {
        program: "local",
        operands: Operands::Declared,
        reason: "names take subscripts; -i values are arithmetic; -n makes a nameref",
    },
    Evaluating { program: "export", operands: Operands::Declared, reason: "names take subscripts" },
    Evaluating {
        program: "readonly",
        operands: Operands::Declared,
        reason: "names take subscripts",
    },
];

/// Builtins whose operands or input give variables values the line does
/// not show.
const READING: &[&str] = &["read", "mapfile", "readarray", "getopts"];

/// Variables bash itself fills from the line's words or input: `$_` is the
/// previous command's last argument, `BASH_REMATCH` what `=~` matched.
const FILLED_BY_BASH: &[&str] =
    &["_", "BASH_REMATCH", "BASH_ARGV", "BASH_COMMAND", "BASH_EXECUTION_STRING", "REPLY"];

/// Operators of `[[ … ]]` that compare both sides as arithmetic.
const ARITHMETIC_TESTS: &[&str] = &["-eq", "-ne", "-lt", "-le", "-gt", "-ge"];

/// Text that, evaluated again, may run something: a substitution, or a
/// parameter expansion that can be a prompt or an indirection.
pub(crate) fn carries_code(text: &str) -> bool {
    ["$(", "`", "<(", ">(", "${"].iter().any(|opener| text.contains(opener))
}

/// Arithmetic text that names a variable (whose value is evaluated in
/// turn), as opposed to numbers and operators only.
fn names_variable(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
}

/// The names in arithmetic text (`a`, `i` and `_` in `a[i]+_`).
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
}

/// Whether the value of `node`, evaluated again, may run something: a
/// literal that carries code, a substitution, an ANSI-C or translated
/// string, or positional parameters.
fn may_carry_code(node: Node<'_>, src: &str) -> bool {
    match node.kind() {
        "command_substitution" | "process_substitution" | "translated_string" => true,
        "ansi_c_string" => ansi_c_can_spell_code(text(node, src)),
        "raw_string" | "string_content" | "word" | "regex" => carries_code(text(node, src)),
        "simple_expansion" | "expansion" if is_positional(node, src) => true,
        _ => {
            let mut cursor = node.walk();
            node.children(&mut cursor).any(|child| may_carry_code(child, src))
        }
    }
}

/// `$1`, `$@`, `${*}`, …: values the line may set elsewhere (`set --`, a
/// function's arguments, `bash -c '…' x y`).
fn is_positional(expansion: Node<'_>, src: &str) -> bool {
    let mut cursor = expansion.walk();
    expansion.named_children(&mut cursor).any(|child| {
        let name = text(child, src);
        matches!(child.kind(), "variable_name" | "special_variable_name")
            && (name == "@" || name == "*" || name.chars().all(|c| c.is_ascii_digit()))
    })
}

impl Walker {
    /// A node of a kind this module reads, seen by the walker before it
    /// descends into the node's children.
    pub(crate) fn evaluation(
        &mut self,
        node: Node<'_>,
        src: &str,
        via: &[String],
    ) -> Result<(), CommandError> {
        match node.kind() {
            "arithmetic_expansion" => self.evaluated(node, src),
            "compound_statement" if first_token(node) == Some("((") => self.evaluated(node, src),
            "c_style_for_statement" => {
                let body = node.child_by_field_name("body").map(|b| b.id());
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if Some(child.id()) != body {
                        self.evaluated(child, src);
                    }
                }
            }
            "subscript" => {
                if let Some(index) = node.child_by_field_name("index")
                    && !matches!(text(index, src), "@" | "*")
                {
                    self.evaluated(index, src);
                }
            }
            "binary_expression" => {
                let operator = node.child_by_field_name("operator").map(|o| text(o, src));
                if operator.is_some_and(|o| ARITHMETIC_TESTS.contains(&o)) {
                    for side in ["left", "right"] {
                        if let Some(side) = node.child_by_field_name(side) {
                            self.evaluated(side, src);
                        }
                    }
                }
            }
            "unary_expression" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
                if let [operator, operand, ..] = children.as_slice()
                    && operator.kind() == "test_operator"
                    && matches!(text(*operator, src), "-v" | "-R")
                {
                    self.evaluated_name(*operand, src);
                }
            }
            "expansion" => self.expansion(node, src),
            "variable_assignment" => {
                if let Some(value) = node.child_by_field_name("value") {
                    self.assigned_value(value, src);
                }
            }
            "for_statement" => {
                let select = first_token(node) == Some("select");
                let mut cursor = node.walk();
                let mut values = node.children_by_field_name("value", &mut cursor).peekable();
                let from_positional = values.peek().is_none();
                let unknown = values.any(|v| literal(v, src).is_none_or(|l| carries_code(&l)));
                self.tainted |= select || from_positional || unknown;
            }
            "declaration_command" => return self.declaration(node, src, via),
            "unset_command" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    let word = match child.kind() {
                        "variable_name" => Some(text(child, src).to_owned()),
                        _ => literal(child, src),
                    };
                    self.evaluated_word(word.as_deref(), false);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Text bash evaluates as arithmetic.
    fn evaluated(&mut self, node: Node<'_>, src: &str) {
        if may_carry_code(node, src) {
            self.analysis.dynamic = true;
        }
        self.arithmetic_text(text(node, src));
    }

    /// Arithmetic text: whether it names a variable, and whether that is
    /// one bash fills from the line's own words or input.
    fn arithmetic_text(&mut self, text: &str) {
        self.evaluates |= names_variable(text);
        self.tainted |= identifiers(text).any(|name| FILLED_BY_BASH.contains(&name));
    }

    /// A variable name bash reads, with its subscript evaluated.
    fn evaluated_name(&mut self, node: Node<'_>, src: &str) {
        if may_carry_code(node, src) {
            self.analysis.dynamic = true;
        }
        self.evaluates |= text(node, src).contains('[');
    }

    /// `${x@P}`, `${!x}` and `${x:offset:length}`.
    fn expansion(&mut self, node: Node<'_>, src: &str) {
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
        let kinds: Vec<&str> = children.iter().map(Node::kind).collect();
        if kinds.windows(2).any(|pair| pair == ["@", "P"]) {
            self.analysis.dynamic = true;
        }
        let whole = text(node, src);
        if whole.starts_with("${!") && !["*}", "@}"].iter().any(|end| whole.ends_with(end)) {
            self.evaluates = true;
        }
        // `${y:=value}` assigns the value to `y`.
        if let Some(assign) = kinds.iter().position(|k| matches!(*k, ":=" | "=")) {
            for child in children.iter().skip(assign + 1) {
                self.tainted |= may_carry_code(*child, src);
            }
        }
        // Everything after a `:` operator (not `:-`, `:=`, …) is an offset
        // or a length.
        if let Some(colon) = kinds.iter().position(|k| *k == ":") {
            for child in children.iter().skip(colon + 1).filter(|c| c.is_named()) {
                self.evaluated(*child, src);
            }
        }
    }

    /// The value given to a variable: tainted if it could carry code. An
    /// array literal's `[index]=` is evaluated, and its unquoted globs are
    /// file names.
    fn assigned_value(&mut self, value: Node<'_>, src: &str) {
        self.tainted |= may_carry_code(value, src);
        if value.kind() != "array" {
            return;
        }
        let mut cursor = value.walk();
        for element in value.named_children(&mut cursor) {
            let element_text = text(element, src);
            self.tainted |= element.kind() == "word" && has_glob(element_text);
            if let Some(index) =
                element_text.strip_prefix('[').and_then(|rest| rest.split_once("]=")).map(|s| s.0)
            {
                if carries_code(index) {
                    self.analysis.dynamic = true;
                }
                self.evaluates |= names_variable(index);
            }
        }
    }

    /// `declare`, `typeset`, `local`, `export`, `readonly` as the grammar
    /// shows them: its assignments are walked as such, and its other
    /// words are read here.
    fn declaration(
        &mut self,
        node: Node<'_>,
        src: &str,
        via: &[String],
    ) -> Result<(), CommandError> {
        let Some(keyword) = node.child(0).map(|k| k.kind()) else { return Ok(()) };
        let mut words = Vec::new();
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "variable_assignment" => {}
                // Plain names; a subscript's index is read where it is walked.
                "variable_name" | "subscript" => words.push(Some(text(child, src).to_owned())),
                _ => words.push(literal(child, src)),
            }
        }
        self.declared(keyword, &words, Some(via))
    }

    /// A `declare`-like builtin's words (assignments the grammar parsed
    /// left out). With `quoted` (the wrappers around it), a `NAME=value`
    /// word among them is an assignment the walker has not seen yet: bash
    /// reads `export 'PATH=.'` as one, the grammar as a quoted word.
    fn declared(
        &mut self,
        keyword: &str,
        words: &[Option<String>],
        quoted: Option<&[String]>,
    ) -> Result<(), CommandError> {
        let mut names = words.iter();
        let mut options = String::new();
        for word in names.by_ref() {
            match word.as_deref() {
                Some("--") => break,
                Some(option) if option.starts_with('-') && option.len() > 1 => {
                    options.push_str(option);
                }
                Some(option) if option.starts_with('+') && option.len() > 1 => {}
                _ => {
                    self.declared_name(word.as_deref(), quoted)?;
                    break;
                }
            }
        }
        for word in names {
            self.declared_name(word.as_deref(), quoted)?;
        }
        let takes_attributes = matches!(keyword, "declare" | "typeset" | "local");
        if takes_attributes && options.contains('n') {
            self.analysis.dynamic = true;
        }
        if takes_attributes && options.contains('i') {
            self.evaluates = true;
        }
        Ok(())
    }

    /// One `NAME`, `NAME[i]` or `NAME=value` word of a `declare`-like
    /// builtin.
    fn declared_name(
        &mut self,
        word: Option<&str>,
        quoted: Option<&[String]>,
    ) -> Result<(), CommandError> {
        let Some(word) = word else {
            // A name or assignment the line does not show.
            self.analysis.dynamic = true;
            return Ok(());
        };
        if carries_code(word) {
            self.analysis.dynamic = true;
        }
        let (name, value) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (word, None),
        };
        self.evaluates |= name.contains('[');
        if let (Some(via), Some(value)) = (quoted, value) {
            self.tainted |= carries_code(value);
            let name = name.strip_suffix('+').unwrap_or(name);
            self.variable(named(name), Some(value.to_owned()), via)?;
        }
        Ok(())
    }

    /// A builtin's operands that bash evaluates, and the values it reads
    /// from input; called for every program the walker records.
    pub(crate) fn evaluating_builtin(
        &mut self,
        program: &str,
        args: &[Option<String>],
    ) -> Result<(), CommandError> {
        if READING.contains(&program)
            || (program == "printf" && args.iter().flatten().any(|a| a.starts_with("-v")))
        {
            self.tainted = true;
        }
        let Some(entry) = EVALUATING.iter().find(|e| e.program == program) else { return Ok(()) };
        let _ = entry.reason;
        match entry.operands {
            Operands::Arithmetic => {
                for arg in args {
                    self.evaluated_word(arg.as_deref(), true);
                }
            }
            Operands::Names => {
                for arg in args {
                    self.evaluated_word(arg.as_deref(), false);
                }
            }
            Operands::NamesExcept(option) => {
                let mut skip = false;
                for arg in args {
                    if !skip {
                        self.evaluated_word(arg.as_deref(), false);
                    }
                    skip = arg.as_deref() == Some(option);
                }
            }
            Operands::After(options) => {
                for pair in args.windows(2) {
                    if let [Some(option), value] = pair
                        && options.contains(&option.as_str())
                    {
                        self.evaluated_word(value.as_deref(), false);
                    }
                }
                // An attached value (`printf -vNAME`).
                for arg in args.iter().flatten() {
                    if let Some(value) = options.iter().find_map(|o| arg.strip_prefix(o))
                        && !value.is_empty()
                    {
                        self.evaluated_word(Some(value), false);
                    }
                }
            }
            Operands::Declared => self.declared(program, args, None)?,
        }
        Ok(())
    }

    /// An operand a builtin evaluates: one that is not a literal could be
    /// anything, and is dynamic.
    fn evaluated_word(&mut self, word: Option<&str>, arithmetic: bool) {
        let Some(word) = word else {
            self.analysis.dynamic = true;
            return;
        };
        if carries_code(word) {
            self.analysis.dynamic = true;
        }
        if arithmetic {
            self.arithmetic_text(word);
        } else {
            self.evaluates |= word.contains('[');
        }
    }

    /// Leaves the grammar does not parse (a `${x#…}` pattern): a prompt
    /// expansion or an indirection in them is still found.
    pub(crate) fn evaluation_in_text(&mut self, leaf: &str) {
        if leaf.contains("@P}") {
            self.analysis.dynamic = true;
        }
        if leaf.contains("${!") || leaf.contains("$((") || leaf.contains("$[") {
            self.evaluates = true;
        }
    }
}

/// An ANSI-C string (`$'…'`) whose escapes can spell a character that
/// opens a substitution (`\x24`, `\u0060`, `\044`); `\n` and the like
/// cannot.
fn ansi_c_can_spell_code(quoted: &str) -> bool {
    if carries_code(quoted.strip_prefix('$').unwrap_or(quoted)) {
        return true;
    }
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next().is_some_and(|e| matches!(e, 'x' | 'u' | 'U' | '0'..='7')) {
            return true;
        }
    }
    false
}

/// The kind of a node's first child, which tells `((…))` from `{ …; }`
/// and `select` from `for`.
fn first_token(node: Node<'_>) -> Option<&'static str> {
    node.child(0).map(|c| c.kind())
}
