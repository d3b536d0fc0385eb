//! `PUT /1.0/config` bodies. Our controller sends the agent's TOML file;
//! upstream's controller sends the `amphora-agent.conf` it renders from
//! `amphora_agent_conf.template` (oslo.config INI). The agent's file
//! stays TOML either way: from an INI body it takes what the agent acts
//! on, the `[health_manager]` heartbeat settings.

use crate::AgentConfig;

/// The new text of the agent's config file for `body`, given the file's
/// current text. Err: why the body is neither form (nothing is written).
pub fn updated(current: &str, body: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the configuration is not UTF-8")?;
    let toml_err = match toml::from_str::<AgentConfig>(text) {
        Ok(_) => return Ok(text.to_owned()),
        Err(e) => e.message().trim().to_owned(),
    };
    let ini = parse_ini(text).map_err(|e| {
        format!("neither an agent TOML file ({toml_err}) nor oslo.config INI ({e})")
    })?;
    let mut table: toml::Table = toml::from_str(current)
        .map_err(|e| format!("the current configuration: {}", e.message().trim()))?;
    if let Some(hm) = ini.iter().find(|(s, _)| s == "health_manager") {
        let hb = table
            .entry("heartbeat")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(hb) = hb else {
            return Err("the current configuration's heartbeat is not a table".into());
        };
        for (k, v) in &hm.1 {
            match k.as_str() {
                // oslo.config's ListOpt: comma-separated.
                "controller_ip_port_list" => {
                    let list = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_owned()))
                        .collect();
                    hb.insert(k.clone(), toml::Value::Array(list));
                }
                "heartbeat_interval" => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| format!("heartbeat_interval: {v:?} is not an integer"))?;
                    hb.insert(k.clone(), toml::Value::Integer(n));
                }
                "heartbeat_key" => {
                    hb.insert(k.clone(), toml::Value::String(v.clone()));
                }
                _ => {}
            }
        }
    }
    let out = toml::to_string(&table).map_err(|e| e.to_string())?;
    toml::from_str::<AgentConfig>(&out).map_err(|e| e.message().trim().to_owned())?;
    Ok(out)
}

type Section = (String, Vec<(String, String)>);

/// oslo.config's INI dialect: `[section]`, `key = value` or `key: value`,
/// `#`/`;` comments, indented lines continuing the previous value.
fn parse_ini(text: &str) -> Result<Vec<Section>, String> {
    let mut out: Vec<Section> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let Some((_, values)) = out.last_mut() else {
                return Err(format!("line {n}: continuation outside a section"));
            };
            let Some((_, v)) = values.last_mut() else {
                return Err(format!("line {n}: continuation without a value"));
            };
            v.push('\n');
            v.push_str(t);
            continue;
        }
        if let Some(name) = t.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| format!("line {n}: unterminated section header"))?;
            if name.trim().is_empty() {
                return Err(format!("line {n}: empty section name"));
            }
            out.push((name.trim().to_owned(), Vec::new()));
            continue;
        }
        let Some(i) = t.find(['=', ':']) else {
            return Err(format!("line {n}: no '=' or ':'"));
        };
        let (k, v) = (t[..i].trim(), t[i + 1..].trim());
        if k.is_empty() {
            return Err(format!("line {n}: empty key"));
        }
        let Some((_, values)) = out.last_mut() else {
            return Err(format!("line {n}: no section header"));
        };
        values.push((k.to_owned(), v.to_owned()));
    }
    if out.is_empty() {
        return Err("no section".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURRENT: &str =
        "amphora_id = \"a1\"\nbase_dir = \"/b\"\n\n[heartbeat]\nheartbeat_interval = 10\n";

    #[test]
    fn toml_body_is_kept_verbatim() {
        let body = "# ours\namphora_id = \"a2\"\nbase_dir = \"/c\"\n";
        assert_eq!(updated(CURRENT, body.as_bytes()).unwrap(), body);
    }

    #[test]
    fn upstream_ini_updates_the_heartbeat_only() {
        let body = "[DEFAULT]\ndebug = False\n\n[health_manager]\ncontroller_ip_port_list = 192.0.2.1:5555, 192.0.2.2:5555\nheartbeat_interval = 3\nheartbeat_key = insecure\n\n[amphora_agent]\namphora_id = a1\n";
        let out = updated(CURRENT, body.as_bytes()).unwrap();
        let cfg: AgentConfig = toml::from_str(&out).unwrap();
        assert_eq!(cfg.amphora_id, "a1");
        assert_eq!(cfg.base_dir, std::path::Path::new("/b"));
        assert_eq!(
            cfg.heartbeat.controller_ip_port_list,
            ["192.0.2.1:5555", "192.0.2.2:5555"]
        );
        assert_eq!(cfg.heartbeat.heartbeat_interval, Some(3));
        assert_eq!(cfg.heartbeat.heartbeat_key.as_deref(), Some("insecure"));
    }

    #[test]
    fn neither_form_is_refused() {
        for body in [
            "amphora_id = \"x\"\n",
            "not a config",
            "[health_manager]\nheartbeat_interval = soon\n",
            "key = value\n",
        ] {
            let e = updated(CURRENT, body.as_bytes()).unwrap_err();
            assert!(!e.is_empty(), "{body:?}");
        }
        assert!(updated(CURRENT, b"\xff").is_err());
    }
}
