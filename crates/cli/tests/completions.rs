//! `chainsig completions SHELL`: the script loads in a real bash and completes subcommands.

mod common;

use common::chainsig;
use std::process::Command;

#[test]
fn bash_completes_subcommands_from_the_generated_script() {
    let (code, script, stderr) = chainsig(&["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    let dir = std::env::temp_dir().join(format!("chainsig-completions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chainsig.bash");
    std::fs::write(&path, script).unwrap();
    // What bash's completion machinery would call: the word list so far and its index.
    let complete = |words: &str, cword: usize, cur: &str, prev: &str| -> String {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}'; COMP_WORDS=({words}); COMP_CWORD={cword}; \
                 _chainsig chainsig '{cur}' '{prev}'; echo \"${{COMPREPLY[@]}}\"",
                path.display()
            ))
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        complete("chainsig de", 1, "de", "chainsig").trim(),
        "devnet"
    );
    let node = complete("chainsig node ''", 2, "", "node");
    assert!(node.contains("init") && node.contains("run"), "{node}");
    std::fs::remove_dir_all(&dir).unwrap();

    for shell in ["zsh", "fish"] {
        let (code, script, stderr) = chainsig(&["completions", shell]);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            script.contains("devnet") && script.contains("bench"),
            "{shell}"
        );
    }
    let (code, _, stderr) = chainsig(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("possible values"), "{stderr}");
}
