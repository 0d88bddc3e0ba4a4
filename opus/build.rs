//! Builds the vendored libopus (floating point, portable C, no SIMD) with the `cc`
//! crate. The source lists come from libopus's own `*_sources.mk`, so an update of
//! the vendored tree needs no edit here.

use std::path::Path;

fn sources(mk: &Path, vars: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(mk)
        .unwrap_or_else(|e| panic!("{}: {e}", mk.display()))
        .replace("\\\n", " ");
    let mut out = Vec::new();
    for var in vars {
        let line = text
            .lines()
            .find(|l| l.split('=').next().map(str::trim) == Some(*var))
            .unwrap_or_else(|| panic!("{}: no {var}", mk.display()));
        out.extend(
            line.split_once('=')
                .map(|(_, v)| v)
                .unwrap_or("")
                .split_whitespace()
                .map(String::from),
        );
    }
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("libopus");
    println!("cargo:rerun-if-changed=libopus");
    let version = std::fs::read_to_string(root.join("package_version")).unwrap_or_default();
    let version = version.split('"').nth(1).unwrap_or("unknown").to_string();

    let mut files = sources(&root.join("celt_sources.mk"), &["CELT_SOURCES"]);
    files.extend(sources(
        &root.join("silk_sources.mk"),
        &["SILK_SOURCES", "SILK_SOURCES_FLOAT"],
    ));
    files.extend(sources(
        &root.join("opus_sources.mk"),
        &["OPUS_SOURCES", "OPUS_SOURCES_FLOAT"],
    ));

    let mut build = cc::Build::new();
    build
        .include(root.join("include"))
        .include(root.join("celt"))
        .include(root.join("silk"))
        .include(root.join("silk/float"))
        .include(root.join("src"))
        .define("OPUS_BUILD", None)
        .define("PACKAGE_VERSION", Some(format!("\"{version}\"").as_str()))
        .define("HAVE_LRINT", None)
        .define("HAVE_LRINTF", None)
        .warnings(false)
        // The encoder is slow without optimisation, even in debug builds.
        .opt_level(2);
    if build.get_compiler().is_like_msvc() {
        build.define("USE_ALLOCA", None);
    } else {
        build.define("VAR_ARRAYS", None);
    }
    for f in &files {
        build.file(root.join(f));
    }
    build.compile("opus");
    println!("cargo:include={}", root.join("include").display());
}
