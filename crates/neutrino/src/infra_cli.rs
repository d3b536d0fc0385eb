//! `neutrino infra`: apply, get and delete the infra resources
//! (`network.openstack.org/v1beta1` YAML) on a running server.
//!
//! The server is found the way the `openstack` client finds it: the cloud
//! named by `--os-cloud`/`OS_CLOUD` in `clouds.yaml` (`OS_CLIENT_CONFIG_FILE`,
//! `./clouds.yaml`, `~/.config/openstack/clouds.yaml`,
//! `/etc/openstack/clouds.yaml`), `OS_*` variables overriding it; password
//! authentication at its `auth_url`; then the catalog's `network-infra`
//! endpoint. `render` needs no server when given a NetConfig file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use neutrino_infra::render::{self, NodeDescription, RenderInput};
use neutrino_infra::resources::{IPAddress, IPSetReservation, Kind, NetConfigSpec, Spec};
use serde_json::{Map, Value, json};

#[derive(Args, Debug)]
pub struct InfraArgs {
    /// Cloud of clouds.yaml to use.
    #[arg(long, env = "OS_CLOUD", global = true)]
    pub os_cloud: Option<String>,
    /// Use this infra API URL (e.g. http://127.0.0.1:9696/infra) instead of
    /// the catalog's `network-infra` endpoint.
    #[arg(long, env = "NEUTRINO_INFRA_URL", global = true)]
    pub endpoint: Option<String>,
    #[command(subcommand)]
    pub command: InfraCommand,
}

#[derive(Subcommand, Debug)]
pub enum InfraCommand {
    /// Create or update the resources of a (multi-document) YAML file.
    Apply {
        /// The YAML file; `-` reads standard input.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// Namespace of documents that name none.
        #[arg(short, long, default_value = "openstack")]
        namespace: String,
    },
    /// Show resources of a kind, or one by name.
    Get {
        /// netconfig (netcfg), ipset, reservation, dnsmasq, dnsdata; plural
        /// and `.network.openstack.org` forms work too.
        kind: String,
        name: Option<String>,
        #[arg(short, long, default_value = "openstack")]
        namespace: String,
        /// Every namespace the caller may see.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Output format: a table (default), yaml, json or name.
        #[arg(short, long, value_parser = ["yaml", "json", "name", "table"], default_value = "table")]
        output: String,
    },
    /// Delete a resource.
    Delete {
        kind: String,
        name: String,
        #[arg(short, long, default_value = "openstack")]
        namespace: String,
    },
    /// Print the cluster manifests a NetConfig needs (node network policies,
    /// network attachments, MetalLB pools, the Octavia network), or a
    /// node's os-net-config document.
    #[command(after_help = RENDER_HELP)]
    Render(RenderArgs),
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// NetConfig YAML; IPSets (with status) and Reservations in the same
    /// file give nodes their addresses. `-` reads standard input. Without
    /// it, the NetConfig and Reservations of the namespace on the server.
    #[arg(short = 'f', long = "filename", conflicts_with = "os_net_config")]
    pub file: Option<PathBuf>,
    /// The node description (YAML, see below).
    #[arg(
        long,
        value_name = "NODES.yaml",
        required_unless_present = "os_net_config",
        conflicts_with = "os_net_config"
    )]
    pub nodes: Option<PathBuf>,
    /// Namespace read on the server and given to the attachments and the
    /// control-plane patch [default: the -f NetConfig's, else openstack].
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Print the os-net-config document (JSON) of this IPSet, read from the
    /// server, instead of the manifests.
    #[arg(long, value_name = "IPSET")]
    pub os_net_config: Option<String>,
}

const RENDER_HELP: &str = "\
Node description (--nodes):
  baseInterface: enp6s0          # required: VLAN interfaces are <baseInterface>.<vlan>
  nodeSelector: {}               # labels added to every node's selector
  nodes:                         # required, one NodeNetworkConfigurationPolicy each
  - name: worker-0               # the policy's name
    nodeSelector: {...}          # default: kubernetes.io/hostname: <name>
    ipSet: worker-0              # IPSet/Reservation with the node's addresses [default: <name>]
    addresses:                   # network -> address or list; replaces the IPSet's
      ctlplane: 192.168.122.10
  networks:                      # by NetConfig network name or serviceNetwork
    internalapi:
      range: 172.17.0.30-172.17.0.70      # pods' range: a NetworkAttachmentDefinition
      metallb: [172.17.0.80-172.17.0.90]  # an IPAddressPool and L2Advertisement
  metallb:
    namespace: metallb-system
  octavia:                       # default: the network named or serviceNetwork `octavia`
    network: octavia             # needs one VLAN and a range; its subnet's routes
    bridge: octbr                #   (lb-mgmt CIDR via the link router) go to the attachment
    controlPlane: controlplane   # the OpenStackControlPlane the last document patches

The OpenStackControlPlane document is a patch: apply the output with
`oc apply --server-side -f -` (a client-side apply would drop the rest of
the control plane's spec).";

pub async fn run(args: InfraArgs) -> anyhow::Result<()> {
    if let InfraCommand::Render(r) = &args.command
        && r.file.is_some()
    {
        return render_cmd(None, r).await;
    }
    let client = Client::connect(args.os_cloud.as_deref(), args.endpoint.as_deref()).await?;
    match args.command {
        InfraCommand::Render(r) => render_cmd(Some(&client), &r).await,
        InfraCommand::Apply { file, namespace } => apply(&client, &file, &namespace).await,
        InfraCommand::Get {
            kind,
            name,
            namespace,
            all_namespaces,
            output,
        } => {
            let kind = resolve(&kind)?;
            let ns = (!all_namespaces).then_some(namespace.as_str());
            get(&client, kind, name.as_deref(), ns, &output).await
        }
        InfraCommand::Delete {
            kind,
            name,
            namespace,
        } => {
            let kind = resolve(&kind)?;
            let path = format!("/v1beta1/namespaces/{namespace}/{}/{name}", kind.plural());
            client.send(reqwest::Method::DELETE, &path, None).await?;
            println!(
                "{}.{}/{name} deleted",
                kind.singular(),
                neutrino_infra::meta::GROUP
            );
            Ok(())
        }
    }
}

fn resolve(kind: &str) -> anyhow::Result<Kind> {
    Kind::resolve(kind).with_context(|| {
        format!(
            "the server doesn't have a resource type {kind:?} (known: {})",
            Kind::ALL.map(|k| k.singular()).join(", ")
        )
    })
}

// ------------------------------------------------------------------ commands

/// Fields the server owns: dropped from applied documents, as `kubectl
/// apply` leaves them out of what it sends, so `get -o yaml` output can be
/// applied again.
fn strip_server_fields(doc: &mut Value) {
    if let Some(m) = doc.as_object_mut() {
        m.remove("status");
    }
    if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
            "selfLink",
            "deletionTimestamp",
            "finalizers",
        ] {
            meta.remove(k);
        }
    }
}

async fn apply(client: &Client, file: &PathBuf, namespace: &str) -> anyhow::Result<()> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .with_context(|| format!("{} is not valid YAML", file.display()))?;
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.is_empty() {
        bail!("no objects passed to apply");
    }
    // Check every document before sending any.
    let mut plan = Vec::new();
    for (i, mut doc) in docs.into_iter().enumerate() {
        let kind_name = doc["kind"]
            .as_str()
            .with_context(|| format!("document {}: kind not set", i + 1))?
            .to_string();
        let kind = resolve(&kind_name).with_context(|| format!("document {}", i + 1))?;
        let name = doc["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .with_context(|| format!("document {}: metadata.name not set", i + 1))?
            .to_string();
        let ns = doc["metadata"]["namespace"]
            .as_str()
            .unwrap_or(namespace)
            .to_string();
        strip_server_fields(&mut doc);
        if doc.get("apiVersion").is_none_or(Value::is_null) {
            doc["apiVersion"] = Value::from(neutrino_infra::meta::API_VERSION);
        }
        plan.push((kind, ns, name, doc));
    }
    let mut failed = false;
    for (kind, ns, name, doc) in plan {
        let path = format!("/v1beta1/namespaces/{ns}/{}/{name}", kind.plural());
        match client.put(&path, doc).await {
            Ok(outcome) => println!(
                "{}.{}/{name} {outcome}",
                kind.singular(),
                neutrino_infra::meta::GROUP
            ),
            Err(e) => {
                eprintln!("{e:#}");
                failed = true;
            }
        }
    }
    if failed {
        bail!("some objects were not applied");
    }
    Ok(())
}

async fn get(
    client: &Client,
    kind: Kind,
    name: Option<&str>,
    ns: Option<&str>,
    output: &str,
) -> anyhow::Result<()> {
    let path = match (ns, name) {
        (Some(ns), Some(name)) => format!("/v1beta1/namespaces/{ns}/{}/{name}", kind.plural()),
        (Some(ns), None) => format!("/v1beta1/namespaces/{ns}/{}", kind.plural()),
        (None, None) => format!("/v1beta1/{}", kind.plural()),
        (None, Some(_)) => bail!("a resource cannot be retrieved by name across all namespaces"),
    };
    let body = client.send(reqwest::Method::GET, &path, None).await?;
    let items: Vec<Value> = if name.is_some() {
        vec![body.clone()]
    } else {
        body["items"].as_array().cloned().unwrap_or_default()
    };
    let doc = if name.is_some() {
        body
    } else {
        json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items})
    };
    match output {
        "yaml" => print!(
            "{}",
            serde_saphyr::to_string(&doc).context("rendering YAML")?
        ),
        "json" => println!("{}", serde_json::to_string_pretty(&doc)?),
        "name" => {
            for i in &items {
                println!(
                    "{}.{}/{}",
                    kind.singular(),
                    neutrino_infra::meta::GROUP,
                    i["metadata"]["name"].as_str().unwrap_or_default()
                );
            }
        }
        _ => {
            if items.is_empty() {
                match ns {
                    Some(ns) => eprintln!("No resources found in {ns} namespace."),
                    None => eprintln!("No resources found"),
                }
            } else {
                print!("{}", table(kind, &items, ns.is_none()));
            }
        }
    }
    Ok(())
}

/// kubectl-like columns: the CRDs' printer columns and the age.
fn table(kind: Kind, items: &[Value], with_ns: bool) -> String {
    let mut header: Vec<&str> = Vec::new();
    if with_ns {
        header.push("NAMESPACE");
    }
    header.push("NAME");
    let has_status = !matches!(kind, Kind::NetConfig | Kind::Reservation);
    if has_status {
        header.extend(["READY", "MESSAGE"]);
    }
    match kind {
        Kind::IPSet | Kind::Reservation => header.push("RESERVATION"),
        Kind::DNSMasq => header.push("ADDRESSES"),
        _ => {}
    }
    header.push("AGE");
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    let now = chrono::Utc::now();
    for i in items {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let mut row = Vec::new();
        if with_ns {
            row.push(s(&i["metadata"]["namespace"]));
        }
        row.push(s(&i["metadata"]["name"]));
        if has_status {
            row.push(s(&i["status"]["conditions"][0]["status"]));
            row.push(s(&i["status"]["conditions"][0]["message"]));
        }
        match kind {
            Kind::IPSet => row.push(
                i["status"]["reservations"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .map(|e| format!("{}={}", s(&e["network"]), s(&e["address"])))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default(),
            ),
            Kind::Reservation => row.push(
                i["spec"]["reservation"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, e)| format!("{k}={}", s(&e["address"])))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default(),
            ),
            Kind::DNSMasq => row.push(
                i["status"]["dnsAddresses"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect::<Vec<_>>().join(","))
                    .unwrap_or_default(),
            ),
            _ => {}
        }
        let age = i["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| human_age((now - t.with_timezone(&chrono::Utc)).num_seconds()))
            .unwrap_or_default();
        row.push(age);
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| format!("{v:<w$}", w = widths[c]))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

fn human_age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

// ------------------------------------------------------------------ render

fn read_input(file: &Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
    }
}

/// `{address, network, subnet}` of a Reservation entry or an IPSet status
/// entry (which has more fields).
fn reserved_address(v: &Value) -> Option<IPAddress> {
    let s = |k: &str| v[k].as_str().map(String::from);
    Some(IPAddress {
        address: s("address")?,
        network: s("network")?,
        subnet: s("subnet")?,
    })
}

/// The entries of a Reservation's `spec.reservation`.
fn reservation_entries(doc: &Value) -> Vec<IPAddress> {
    doc["spec"]["reservation"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(reserved_address)
        .collect()
}

/// A NetConfig document's spec, defaulted as the server would.
fn netconfig_spec(doc: &Value, namespace: &str) -> anyhow::Result<NetConfigSpec> {
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    let mut spec: NetConfigSpec =
        neutrino_infra::codec::deserialize_at("spec", doc["spec"].clone())
            .map_err(|e| anyhow::anyhow!("NetConfig {name:?} is invalid: {e}"))?;
    spec.apply_defaults(namespace);
    Ok(spec)
}

/// The NetConfig and the reserved addresses by IPSet name, from a file.
fn local_inputs(
    file: &Path,
    namespace: Option<&str>,
) -> anyhow::Result<(NetConfigSpec, String, BTreeMap<String, Vec<IPAddress>>)> {
    let text = read_input(file)?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .with_context(|| format!("{} is not valid YAML", file.display()))?;
    let mut netconfigs = Vec::new();
    let mut reservations: BTreeMap<String, Vec<IPAddress>> = BTreeMap::new();
    for doc in docs.iter().filter(|d| !d.is_null()) {
        let name = doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match doc["kind"].as_str() {
            Some("NetConfig") => netconfigs.push(doc),
            Some("IPSet") => {
                let entries: Vec<IPAddress> = doc["status"]["reservations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(reserved_address)
                    .collect();
                reservations.entry(name).or_insert(entries);
            }
            Some("Reservation") => {
                reservations
                    .entry(name)
                    .or_insert_with(|| reservation_entries(doc));
            }
            _ => {}
        }
    }
    let doc = match netconfigs.as_slice() {
        [one] => *one,
        [] => bail!("{} holds no NetConfig", file.display()),
        many => bail!(
            "{} holds {} NetConfigs; render takes one",
            file.display(),
            many.len()
        ),
    };
    let ns = namespace
        .or(doc["metadata"]["namespace"].as_str())
        .unwrap_or("openstack")
        .to_string();
    Ok((netconfig_spec(doc, &ns)?, ns, reservations))
}

/// The namespace's NetConfig and reserved addresses, from the server.
async fn remote_inputs(
    client: &Client,
    ns: &str,
) -> anyhow::Result<(NetConfigSpec, BTreeMap<String, Vec<IPAddress>>)> {
    let list = client
        .send(
            reqwest::Method::GET,
            &format!("/v1beta1/namespaces/{ns}/netconfigs"),
            None,
        )
        .await?;
    let doc = list["items"]
        .get(0)
        .with_context(|| format!("no NetConfig in namespace {ns}"))?;
    let spec = netconfig_spec(doc, ns)?;
    let list = client
        .send(
            reqwest::Method::GET,
            &format!("/v1beta1/namespaces/{ns}/reservations"),
            None,
        )
        .await?;
    let reservations = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let name = r["metadata"]["name"].as_str().unwrap_or_default();
            (name.to_string(), reservation_entries(r))
        })
        .collect();
    Ok((spec, reservations))
}

/// Multi-document YAML, the control-plane patch marked as such.
fn yaml_stream(docs: &[Value]) -> anyhow::Result<String> {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        if d["kind"] == "OpenStackControlPlane" {
            out.push_str(
                "# A patch, naming only what it sets: apply with --server-side (or oc patch --type=merge).\n",
            );
        }
        out.push_str(&serde_saphyr::to_string(d).context("rendering YAML")?);
    }
    Ok(out)
}

async fn render_cmd(client: Option<&Client>, args: &RenderArgs) -> anyhow::Result<()> {
    if let Some(set) = &args.os_net_config {
        let client = client.context("--os-net-config reads the IPSet from the server")?;
        let ns = args.namespace.as_deref().unwrap_or("openstack");
        return os_net_config(client, ns, set).await;
    }
    let nodes_file = args.nodes.as_deref().context("--nodes is required")?;
    let text = read_input(nodes_file)?;
    let value: Value = serde_saphyr::from_str(&text)
        .with_context(|| format!("{} is not valid YAML", nodes_file.display()))?;
    let nodes = NodeDescription::from_value(value)
        .with_context(|| format!("reading {}", nodes_file.display()))?;
    let (netconfig, ns, reservations) = match (&args.file, client) {
        (Some(file), _) => local_inputs(file, args.namespace.as_deref())?,
        (None, Some(client)) => {
            let ns = args.namespace.clone().unwrap_or_else(|| "openstack".into());
            let (spec, res) = remote_inputs(client, &ns).await?;
            (spec, ns, res)
        }
        (None, None) => bail!("no NetConfig: give -f FILE or a server"),
    };
    let rendered = render::render(&RenderInput {
        netconfig: &netconfig,
        nodes: &nodes,
        namespace: &ns,
        reservations: &reservations,
    })?;
    for w in &rendered.warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", yaml_stream(&rendered.documents)?);
    Ok(())
}

/// The os-net-config document of an IPSet, with the namespace's DNS
/// responders as name servers.
async fn os_net_config(client: &Client, ns: &str, set: &str) -> anyhow::Result<()> {
    let doc = client
        .send(
            reqwest::Method::GET,
            &format!("/v1beta1/namespaces/{ns}/ipsets/{set}"),
            None,
        )
        .await?;
    let reservations: Vec<IPSetReservation> =
        serde_json::from_value(doc["status"]["reservations"].clone()).unwrap_or_default();
    let masqs = client
        .send(
            reqwest::Method::GET,
            &format!("/v1beta1/namespaces/{ns}/dnsmasqs"),
            None,
        )
        .await?;
    // os-net-config takes plain addresses: a responder on another port than
    // 53 (listed as IP:PORT) cannot be one.
    let mut dns: Vec<String> = Vec::new();
    for a in masqs["items"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| {
            m["status"]["dnsAddresses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
    {
        if let Some(ip) = a.as_str().and_then(|s| s.parse::<std::net::IpAddr>().ok())
            && !dns.contains(&ip.to_string())
        {
            dns.push(ip.to_string());
        }
    }
    let doc = render::os_net_config::render(set, &reservations, &dns)?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

// ------------------------------------------------------------------ client

/// Authentication settings of one cloud.
#[derive(Debug, Default, Clone)]
struct CloudAuth {
    auth_url: String,
    username: String,
    password: String,
    project_name: Option<String>,
    project_id: Option<String>,
    user_domain: String,
    project_domain: String,
    region: Option<String>,
    interface: String,
}

fn clouds_yaml_paths() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(p) = std::env::var("OS_CLIENT_CONFIG_FILE")
        && !p.is_empty()
    {
        out.push(PathBuf::from(p));
    }
    out.push(PathBuf::from("clouds.yaml"));
    if let Some(home) = std::env::var_os("HOME") {
        out.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
    }
    out.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    out
}

fn load_cloud(name: Option<&str>) -> anyhow::Result<CloudAuth> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let str_of = |v: &Value| v.as_str().map(String::from);
    let mut c = CloudAuth {
        user_domain: "Default".into(),
        project_domain: "Default".into(),
        interface: "public".into(),
        ..Default::default()
    };
    if let Some(name) = name {
        let path = clouds_yaml_paths()
            .into_iter()
            .find(|p| p.is_file())
            .context("OS_CLOUD is set but no clouds.yaml was found (OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml)")?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let doc: Value = serde_saphyr::from_str(&text)
            .with_context(|| format!("{} is not valid YAML", path.display()))?;
        let cloud = doc["clouds"]
            .get(name)
            .with_context(|| format!("cloud {name:?} not found in {}", path.display()))?;
        let auth = &cloud["auth"];
        c.auth_url = str_of(&auth["auth_url"]).unwrap_or_default();
        c.username = str_of(&auth["username"]).unwrap_or_default();
        c.password = str_of(&auth["password"]).unwrap_or_default();
        c.project_name = str_of(&auth["project_name"]);
        c.project_id = str_of(&auth["project_id"]);
        if let Some(d) =
            str_of(&auth["user_domain_name"]).or_else(|| str_of(&auth["user_domain_id"]))
        {
            c.user_domain = d;
        }
        if let Some(d) =
            str_of(&auth["project_domain_name"]).or_else(|| str_of(&auth["project_domain_id"]))
        {
            c.project_domain = d;
        }
        c.region = str_of(&cloud["region_name"]);
        if let Some(i) = str_of(&cloud["interface"]) {
            c.interface = i;
        }
    }
    if let Some(v) = env("OS_AUTH_URL") {
        c.auth_url = v;
    }
    if let Some(v) = env("OS_USERNAME") {
        c.username = v;
    }
    if let Some(v) = env("OS_PASSWORD") {
        c.password = v;
    }
    if let Some(v) = env("OS_PROJECT_NAME") {
        c.project_name = Some(v);
    }
    if let Some(v) = env("OS_PROJECT_ID") {
        c.project_id = Some(v);
    }
    if let Some(v) = env("OS_USER_DOMAIN_NAME") {
        c.user_domain = v;
    }
    if let Some(v) = env("OS_PROJECT_DOMAIN_NAME") {
        c.project_domain = v;
    }
    if let Some(v) = env("OS_REGION_NAME") {
        c.region = Some(v);
    }
    if let Some(v) = env("OS_INTERFACE") {
        c.interface = v;
    }
    if c.auth_url.is_empty() {
        bail!(
            "no cloud configured: set OS_CLOUD (with a clouds.yaml) or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME"
        );
    }
    Ok(c)
}

/// `{"name": ...}` or `{"id": ...}` for a domain given either way (ids of
/// the built-in domain are lower case, names capitalised).
fn domain_ref(d: &str) -> Value {
    if d == "default" {
        json!({"id": d})
    } else {
        json!({"name": d})
    }
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn connect(cloud: Option<&str>, endpoint: Option<&str>) -> anyhow::Result<Client> {
        Self::connect_to(cloud, endpoint, "network-infra").await
    }

    /// Authenticates and finds the catalog endpoint of `service_type`
    /// (`network` for the Network API), unless `endpoint` is given.
    pub(crate) async fn connect_to(
        cloud: Option<&str>,
        endpoint: Option<&str>,
        service_type: &str,
    ) -> anyhow::Result<Client> {
        let auth = load_cloud(cloud)?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        let base_auth = auth.auth_url.trim_end_matches('/');
        let tokens_url = if base_auth.ends_with("/v3") {
            format!("{base_auth}/auth/tokens")
        } else {
            format!("{base_auth}/v3/auth/tokens")
        };
        let project = match (&auth.project_id, &auth.project_name) {
            (Some(id), _) => json!({"id": id}),
            (None, Some(name)) => json!({"name": name, "domain": domain_ref(&auth.project_domain)}),
            (None, None) => bail!("the cloud names no project (project_name or project_id)"),
        };
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": auth.username, "domain": domain_ref(&auth.user_domain), "password": auth.password}}},
            "scope": {"project": project},
        }});
        let resp = http
            .post(&tokens_url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach the identity service at {tokens_url}"))?;
        let status = resp.status();
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let catalog: Value = resp.json().await.unwrap_or(Value::Null);
        let Some(token) = token.filter(|_| status.is_success()) else {
            bail!(
                "authentication at {tokens_url} failed ({status}): {}",
                catalog["error"]["message"].as_str().unwrap_or("no details")
            );
        };
        let base = match endpoint {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => find_service_endpoint(&catalog, &auth, service_type)?,
        };
        Ok(Client { http, base, token })
    }

    /// Sends a request; a Kubernetes Status failure becomes an error
    /// worded like kubectl's.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        Ok(self.request(method, path, body).await?.1)
    }

    async fn put(&self, path: &str, body: Value) -> anyhow::Result<String> {
        let (outcome, _) = self.request(reqwest::Method::PUT, path, Some(body)).await?;
        Ok(outcome)
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(String, Value)> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method, &url)
            .header("x-auth-token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        let outcome = resp
            .headers()
            .get("x-neutrino-outcome")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("configured")
            .to_string();
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| {
            let mut m = Map::new();
            m.insert("message".into(), Value::from(text));
            Value::Object(m)
        });
        if !status.is_success() {
            bail!(
                "Error from server ({}): {}",
                v["reason"]
                    .as_str()
                    .unwrap_or(status.canonical_reason().unwrap_or("Error")),
                v["message"]
                    .as_str()
                    .or(v["NeutronError"]["message"].as_str())
                    .unwrap_or("no details")
            );
        }
        Ok((outcome, v))
    }
}

/// The `network-infra` endpoint of the token's catalog, for the cloud's
/// interface and region.
#[cfg(test)]
fn find_endpoint(token_body: &Value, auth: &CloudAuth) -> anyhow::Result<String> {
    find_service_endpoint(token_body, auth, "network-infra")
}

/// The endpoint of a service type in the token's catalog, for the cloud's
/// interface and region.
fn find_service_endpoint(
    token_body: &Value,
    auth: &CloudAuth,
    service_type: &str,
) -> anyhow::Result<String> {
    let catalog = token_body["token"]["catalog"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let service = catalog
        .iter()
        .find(|s| s["type"] == service_type)
        .with_context(|| format!("the service catalog has no {service_type} endpoint (is the server a neutrino?); use --endpoint"))?;
    let interface = auth.interface.trim_end_matches("URL");
    service["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| {
            e["interface"] == interface
                && auth
                    .region
                    .as_deref()
                    .is_none_or(|r| e["region"] == r || e["region_id"] == r)
        })
        .and_then(|e| e["url"].as_str())
        .map(|u| u.trim_end_matches('/').to_string())
        .with_context(|| format!("no {interface} {service_type} endpoint in the catalog"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_owned_fields_are_not_sent() {
        let mut d = json!({"kind": "IPSet", "metadata": {"name": "a", "uid": "u", "resourceVersion": "4",
            "generation": 1, "creationTimestamp": "t", "finalizers": ["IPSet"], "labels": {"x": "y"}},
            "spec": {}, "status": {"reservations": []}});
        strip_server_fields(&mut d);
        assert_eq!(
            d,
            json!({"kind": "IPSet", "metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {}})
        );
    }

    #[test]
    fn endpoint_is_picked_by_type_interface_and_region() {
        let body = json!({"token": {"catalog": [
            {"type": "network", "endpoints": [{"interface": "public", "region": "R", "url": "http://n"}]},
            {"type": "network-infra", "endpoints": [
                {"interface": "internal", "region": "R", "url": "http://i/infra"},
                {"interface": "public", "region": "R", "url": "http://p/infra/"}]}]}});
        let mut auth = CloudAuth {
            interface: "public".into(),
            region: Some("R".into()),
            ..Default::default()
        };
        assert_eq!(find_endpoint(&body, &auth).unwrap(), "http://p/infra");
        auth.interface = "internalURL".into();
        assert_eq!(find_endpoint(&body, &auth).unwrap(), "http://i/infra");
        auth.region = Some("Other".into());
        assert!(find_endpoint(&body, &auth).is_err());
    }

    #[test]
    fn tables_show_printer_columns() {
        let items = vec![
            json!({"metadata": {"name": "edpm-compute-0", "namespace": "openstack"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "message": "Setup complete"}],
                       "reservations": [{"network": "CtlPlane", "address": "192.168.122.100"}]}}),
        ];
        let t = table(Kind::IPSet, &items, false);
        assert!(t.starts_with("NAME"), "{t}");
        assert!(t.contains("CtlPlane=192.168.122.100"), "{t}");
        assert!(t.contains("Setup complete"), "{t}");
        assert_eq!(human_age(30), "30s");
        assert_eq!(human_age(3 * 86400), "3d");
    }
}
