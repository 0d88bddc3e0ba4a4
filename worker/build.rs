//! Embeds Shaka Player's compiled file, for the page `dashpack preview` serves, from
//! the npm package `player/package-lock.json` pins: `npm ci` runs in the build folder,
//! never in the source tree. Without npm the binary is built without the player (the
//! preview then says so and still serves the report); `DASHPACK_PLAYER_DIR` may name an
//! installed `shaka-player` package instead.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(shaka_player)");
    println!("cargo::rerun-if-changed=player/package.json");
    println!("cargo::rerun-if-changed=player/package-lock.json");
    println!("cargo::rerun-if-env-changed=DASHPACK_PLAYER_DIR");
    let package = match env::var_os("DASHPACK_PLAYER_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => install(),
    };
    let Some(package) = package else { return };
    let js = package.join("dist/shaka-player.compiled.js");
    let licence = package.join("LICENSE");
    if js.is_file() && licence.is_file() {
        println!("cargo::rerun-if-changed={}", js.display());
        println!("cargo::rustc-cfg=shaka_player");
        println!("cargo::rustc-env=DASHPACK_SHAKA_JS={}", js.display());
        println!(
            "cargo::rustc-env=DASHPACK_SHAKA_LICENSE={}",
            licence.display()
        );
    } else {
        println!(
            "cargo::warning=no Shaka Player in {}: `dashpack preview` is built without its player",
            package.display()
        );
    }
}

/// `npm ci` of `player/` in OUT_DIR; the installed package's folder.
fn install() -> Option<PathBuf> {
    let out = PathBuf::from(env::var_os("OUT_DIR")?).join("player");
    let installed = out.join("node_modules/shaka-player");
    let lock = Path::new("player/package-lock.json");
    let copied = out.join("package-lock.json");
    if installed.join("dist/shaka-player.compiled.js").is_file()
        && fs::read(&copied).ok() == fs::read(lock).ok()
    {
        return Some(installed);
    }
    fs::create_dir_all(&out).ok()?;
    fs::copy("player/package.json", out.join("package.json")).ok()?;
    fs::copy(lock, &copied).ok()?;
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let status = Command::new(npm)
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(&out)
        .status();
    match status {
        Ok(s) if s.success() => Some(installed),
        Ok(s) => {
            println!("cargo::warning=npm ci for the preview player failed ({s}): built without it");
            None
        }
        Err(e) => {
            println!(
                "cargo::warning=npm not found ({e}): `dashpack preview` is built without its player"
            );
            None
        }
    }
}
