//! A bounded randomized test (the quick cousin of `fuzz/`, which runs libFuzzer): real manifests
//! with random edits — lines dropped, duplicated, re-indented, truncated, characters replaced by
//! YAML's special ones — must never make the reader panic, every finding must point inside the
//! file, and whatever converts must read back without errors.

use std::path::PathBuf;

use ebb_manifest::{Mode, Source, check};
use proptest::prelude::*;

fn corpus() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dirs = [
        root.join("../../examples/seed"),
        root.join("tests/fixtures/valid"),
        root.join("tests/fixtures/broken"),
    ];
    let mut texts = Vec::new();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("corpus directory")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        texts.extend(
            files
                .iter()
                .map(|f| std::fs::read_to_string(f).expect("readable")),
        );
    }
    texts
}

#[derive(Debug, Clone)]
enum Edit {
    DropLine(usize),
    DuplicateLine(usize),
    Indent(usize, usize),
    Dedent(usize),
    Truncate(usize),
    Replace(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let special = prop::sample::select(vec![
        ':', '-', '[', ']', '{', '}', '"', '\'', '#', '&', '*', '!', '|', '>', '\n', ' ', '\t',
        '0', 'a', '%', '@', '`', ',', '?', 'é',
    ]);
    prop_oneof![
        any::<usize>().prop_map(Edit::DropLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), 1..6usize).prop_map(|(l, n)| Edit::Indent(l, n)),
        any::<usize>().prop_map(Edit::Dedent),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), special).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let pick = |i: usize, n: usize| if n == 0 { 0 } else { i % n };
    match edit {
        Edit::DropLine(i) if !lines.is_empty() => {
            lines.remove(pick(*i, lines.len()));
        }
        Edit::DuplicateLine(i) if !lines.is_empty() => {
            let at = pick(*i, lines.len());
            lines.insert(at, lines[at].clone());
        }
        Edit::Indent(i, n) if !lines.is_empty() => {
            let at = pick(*i, lines.len());
            lines[at].insert_str(0, &" ".repeat(*n));
        }
        Edit::Dedent(i) if !lines.is_empty() => {
            let at = pick(*i, lines.len());
            lines[at] = lines[at].trim_start().to_string();
        }
        Edit::Truncate(i) => {
            let chars: Vec<char> = text.chars().collect();
            return chars[..pick(*i, chars.len() + 1)].iter().collect();
        }
        Edit::Replace(i, c) => {
            let mut chars: Vec<char> = text.chars().collect();
            if !chars.is_empty() {
                let at = pick(*i, chars.len());
                chars[at] = *c;
            }
            return chars.into_iter().collect();
        }
        _ => {}
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn edited_manifests_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let corpus = corpus();
        let mut text = corpus[pick.index(corpus.len())].clone();
        for e in &edits {
            text = apply(&text, e);
        }
        let lines = text.lines().count().max(1) as u32 + 1;
        let source = Source::new("edited.yaml", text.clone());
        for mode in [Mode::Local, Mode::Cluster] {
            let checked = check(std::slice::from_ref(&source), mode);
            for d in &checked.diagnostics {
                prop_assert!(d.pos.line >= 1 && d.pos.line <= lines, "{d} outside {lines} lines");
                prop_assert!(d.pos.column >= 1);
                let _ = d.render(&text);
            }
            let _ = ebb_manifest::local::workloads(&checked.objects);
            if checked.has_errors() {
                continue;
            }
            for autoscaler in checked.autoscalers() {
                let value = serde_json::to_value(&autoscaler).expect("serializes");
                let yaml = ebb_manifest::yaml::to_yaml(&value);
                // In the mode the source passed: an image-less Deployment is fine locally only.
                let again = check(&[source.clone(), Source::new("converted.yaml", yaml.clone())], mode);
                prop_assert!(!again.has_errors(), "{yaml}\n{:#?}", again.diagnostics);
            }
        }
    }
}
