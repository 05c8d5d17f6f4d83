//! The layers point one way: no file of the core imports the web layer (issue 14).
//! The web layer is `src/web/`, `src/startup.rs` and `src/main.rs`; everything else is
//! the core, which speaks no HTTP.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// What a core file may not name: the web layer, or the HTTP framework and its session.
const WEB: &[&str] = &[
    "crate::web",
    "actix_web",
    "actix_session",
    "actix_cors",
    "HttpRequest",
    "HttpResponse",
];

#[test]
fn no_core_file_imports_the_web_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let web_layer = |p: &Path| {
        let rel = p.strip_prefix(&src).unwrap();
        rel.starts_with("web") || rel == Path::new("startup.rs") || rel == Path::new("main.rs")
    };
    let mut offences = Vec::new();
    let mut core_files = 0;
    for file in files.iter().filter(|p| !web_layer(p)) {
        core_files += 1;
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for name in WEB {
                if code.contains(name) {
                    offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(core_files > 20, "the core was found ({core_files} files)");
    assert!(
        offences.is_empty(),
        "the core imports the web layer:\n{}",
        offences.join("\n")
    );
}
