//! `ovn.env`: where the databases are, as shell `KEY=value` lines, so
//! `. DIR/ovn.env; ovn-nbctl --db=$OVN_NB_DB show` works (and, with the
//! variables exported, plain `ovn-nbctl show`, which reads OVN_NB_DB).

use std::path::Path;

use crate::error::{Error, Result};

/// The connection strings (`unix:PATH` / `tcp:HOST:PORT` lists) of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OvnEnv {
    pub nb: Option<String>,
    pub sb: Option<String>,
    pub ovs: Option<String>,
}

impl OvnEnv {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (key, value) in [
            ("OVN_NB_DB", &self.nb),
            ("OVN_SB_DB", &self.sb),
            ("OVS_DB", &self.ovs),
        ] {
            if let Some(v) = value {
                out.push_str(&format!("{key}={}\n", shell_quote(v)));
            }
        }
        out
    }

    /// Reads what [`OvnEnv::render`] writes (and simple hand-written
    /// variants: `export`, quotes, comments).
    pub fn parse(text: &str) -> Self {
        let mut env = OvnEnv::default();
        for line in text.lines() {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line);
            if line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = shell_unquote(value.trim());
            match key.trim() {
                "OVN_NB_DB" => env.nb = Some(value),
                "OVN_SB_DB" => env.sb = Some(value),
                "OVS_DB" => env.ovs = Some(value),
                _ => {}
            }
        }
        env
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        Ok(Self::parse(&text))
    }

    /// Writes atomically: a reader never sees half a file.
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("env.tmp");
        std::fs::write(&tmp, self.render())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }
}

fn shell_quote(v: &str) -> String {
    let plain = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/:._-,[]@+%=".contains(c));
    if plain && !v.is_empty() {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

fn shell_unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        inner.replace(r"'\''", "'")
    } else if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        inner.to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_quotes_only_when_needed() {
        let env = OvnEnv {
            nb: Some("unix:/var/lib/neutrino/ovn/ovnnb_db.sock".into()),
            sb: Some("tcp:10.0.0.1:6642,tcp:10.0.0.2:6642".into()),
            ovs: Some("unix:/tmp/my dir/db.sock".into()),
        };
        let text = env.render();
        assert!(text.contains("OVN_NB_DB=unix:/var/lib/neutrino/ovn/ovnnb_db.sock\n"));
        assert!(text.contains("OVS_DB='unix:/tmp/my dir/db.sock'\n"));
        assert_eq!(OvnEnv::parse(&text), env);
        assert_eq!(
            OvnEnv::parse("# x\nexport OVN_NB_DB=\"tcp:1.2.3.4:6641\"\n").nb,
            Some("tcp:1.2.3.4:6641".into())
        );
    }
}
