//! The steps of the load-balancer flows. Database steps are short
//! transactions; backend steps call the [`Backend`](crate::backend) and
//! never hold a transaction across the call. All are idempotent (see
//! [`Step`]).

use std::collections::BTreeMap;

use futures::FutureExt;
use futures::future::BoxFuture;
use neutrino_lb_types::enums::AmphoraStatus;
use neutrino_lb_types::model::Amphora;
use neutrino_store::lb::{amphorae, load_balancers};
use neutrino_store::{StoreError, Tx};
use serde_json::Value;

use super::{Ctx, Plan};
use crate::backend::{AmphoraSpec, Booted, VipPlug, VipTarget};
use crate::engine::{Step, StepError, StepIo};

fn plan(io: &StepIo<'_>) -> Result<Plan, StepError> {
    Plan::of(&io.flow).map_err(StepError::permanent)
}

fn lb_id<'a>(io: &StepIo<'a>) -> Result<&'a str, StepError> {
    io.flow
        .lb_id
        .ok_or_else(|| StepError::permanent("flow has no load balancer"))
}

/// The database hiccups (a conflict, a lost connection): try again.
fn store_err(e: StoreError) -> StepError {
    StepError::transient(format!("database: {e}"))
}

async fn in_tx<T>(
    ctx: &Ctx,
    f: impl for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, Result<T, StoreError>>,
) -> Result<T, StepError> {
    let mut tx = ctx.db.begin().await.map_err(store_err)?;
    let out = f(&mut tx).await.map_err(store_err)?;
    tx.commit().await.map_err(store_err)?;
    Ok(out)
}

/// A map from amphora id to what a step got for it, as recorded.
fn recorded<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> BTreeMap<String, T> {
    v.and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

fn to_output<T: serde::Serialize>(v: &T) -> Result<Value, StepError> {
    serde_json::to_value(v).map_err(StepError::permanent)
}

macro_rules! step_name {
    ($name:literal) => {
        fn name(&self) -> &str {
            $name
        }
    };
}

/// Inserts the plan's new amphorae (BOOTING).
pub(super) struct CreateAmphoraRows;

impl Step<Ctx> for CreateAmphoraRows {
    step_name!("amphorae_create_rows");

    fn execute<'a>(
        &'a self,
        ctx: &'a Ctx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        async move {
            let plan = plan(&io)?;
            let lb = lb_id(&io)?.to_string();
            in_tx(ctx, |tx| {
                async move {
                    for a in &plan.amphorae {
                        if amphorae::get_tx(tx, &a.id).await?.is_some() {
                            continue;
                        }
                        amphorae::insert(
                            tx,
                            &Amphora {
                                id: a.id.clone(),
                                load_balancer_id: Some(lb.clone()),
                                compute_id: None,
                                lb_network_ip: None,
                                vrrp_ip: None,
                                ha_ip: None,
                                vrrp_port_id: None,
                                ha_port_id: None,
                                cert_expiration: None,
                                cert_busy: false,
                                role: Some(a.role),
                                status: AmphoraStatus::Booting,
                                vrrp_interface: None,
                                vrrp_id: a.vrrp_priority.map(|_| 1),
                                vrrp_priority: a.vrrp_priority,
                                cached_zone: plan.zone.clone(),
                                image_id: None,
                                compute_flavor: None,
                                created_at: neutrino_store::lb::now(),
                                updated_at: None,
                            },
                        )
                        .await?;
                    }
                    Ok(Value::Null)
                }
                .boxed()
            })
            .await
        }
        .boxed()
    }

    fn undo<'a>(&'a self, ctx: &'a Ctx, io: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            let plan = plan(&io)?;
            in_tx(ctx, |tx| {
                async move {
                    for a in &plan.amphorae {
                        amphorae::delete(tx, &a.id).await?;
                    }
                    Ok(())
                }
                .boxed()
            })
            .await
        }
        .boxed()
    }
}

/// Boots the plan's new amphorae; records compute id and addresses.
pub(super) struct BootAmphorae;

impl Step<Ctx> for BootAmphorae {
    step_name!("amphorae_boot");

    fn execute<'a>(
        &'a self,
        ctx: &'a Ctx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        async move {
            let plan = plan(&io)?;
            let lb = lb_id(&io)?;
            let mut out = BTreeMap::new();
            for a in &plan.amphorae {
                let spec = AmphoraSpec {
                    id: &a.id,
                    lb_id: lb,
                    role: a.role,
                    zone: plan.zone.as_deref(),
                };
                out.insert(a.id.clone(), ctx.backend.boot(&spec).await?);
            }
            to_output(&out)
        }
        .boxed()
    }

    fn undo<'a>(&'a self, ctx: &'a Ctx, io: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            let plan = plan(&io)?;
            let booted: BTreeMap<String, Booted> = recorded(io.own_output());
            for a in &plan.amphorae {
                let compute = booted.get(&a.id).map(|b| b.compute_id.as_str());
                ctx.backend.delete(&a.id, compute).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn max_attempts(&self) -> u32 {
        5
    }
}

/// Plugs the new amphorae into the VIP network.
pub(super) struct PlugVip;

impl Step<Ctx> for PlugVip {
    step_name!("amphorae_plug_vip");

    fn execute<'a>(
        &'a self,
        ctx: &'a Ctx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        async move {
            let plan = plan(&io)?;
            let lb = load_balancers::get(&ctx.db, lb_id(&io)?)
                .await
                .map_err(store_err)?
                .ok_or_else(|| StepError::permanent("load balancer is gone"))?;
            let (Some(port_id), Some(address), Some(network_id)) = (
                lb.vip.port_id.as_deref(),
                lb.vip.ip_address.as_deref(),
                lb.vip.network_id.as_deref(),
            ) else {
                return Err(StepError::permanent("load balancer has no VIP port"));
            };
            let vip = VipTarget {
                port_id,
                address,
                network_id,
            };
            let mut out = BTreeMap::new();
            for a in &plan.amphorae {
                out.insert(a.id.clone(), ctx.backend.plug_vip(&a.id, &vip).await?);
            }
            to_output(&out)
        }
        .boxed()
    }

    fn undo<'a>(&'a self, ctx: &'a Ctx, io: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        async move {
            let plan = plan(&io)?;
            let plugs: BTreeMap<String, VipPlug> = recorded(io.own_output());
            for a in &plan.amphorae {
                ctx.backend.unplug_vip(&a.id, plugs.get(&a.id)).await?;
            }
            Ok(())
        }
        .boxed()
    }
}

/// Records what booting and plugging gave; the amphorae are ALLOCATED.
pub(super) struct AllocateAmphorae;

impl Step<Ctx> for AllocateAmphorae {
    step_name!("amphorae_allocate");

    fn execute<'a>(
        &'a self,
        ctx: &'a Ctx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        async move {
            let plan = plan(&io)?;
            let booted: BTreeMap<String, Booted> = recorded(io.flow.output_of(BootAmphorae.name()));
            let plugs: BTreeMap<String, VipPlug> = recorded(io.flow.output_of(PlugVip.name()));
            in_tx(ctx, |tx| {
                async move {
                    for n in &plan.amphorae {
                        let Some(mut a) = amphorae::get_tx(tx, &n.id).await? else {
                            continue;
                        };
                        if let Some(b) = booted.get(&n.id) {
                            a.compute_id = Some(b.compute_id.clone());
                            a.lb_network_ip = Some(b.lb_network_ip.clone());
                            a.cert_expiration = Some(b.cert_expiration.clone());
                        }
                        if let Some(p) = plugs.get(&n.id) {
                            a.vrrp_port_id = Some(p.vrrp_port_id.clone());
                            a.vrrp_ip = Some(p.vrrp_ip.clone());
                            a.ha_port_id = Some(p.ha_port_id.clone());
                            a.ha_ip = Some(p.ha_ip.clone());
                        }
                        a.status = AmphoraStatus::Allocated;
                        a.updated_at = Some(neutrino_store::lb::now());
                        amphorae::update(tx, &a).await?;
                    }
                    Ok(Value::Null)
                }
                .boxed()
            })
            .await
        }
        .boxed()
    }

    /// The rows go with `amphorae_create_rows`' undo.
    fn undo<'a>(&'a self, _: &'a Ctx, _: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        async { Ok(()) }.boxed()
    }
}

/// Makes the load balancer's amphorae serve its current configuration.
pub(super) struct ApplyConfig;

impl Step<Ctx> for ApplyConfig {
    step_name!("config_apply");

    fn execute<'a>(
        &'a self,
        ctx: &'a Ctx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        async move {
            ctx.backend.apply_config(lb_id(&io)?).await?;
            Ok(Value::Null)
        }
        .boxed()
    }

    /// A failed change leaves the objects in ERROR (or its parents
    /// ACTIVE); the next change renders the whole configuration again.
    fn undo<'a>(&'a self, _: &'a Ctx, _: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        async { Ok(()) }.boxed()
    }

    fn max_attempts(&self) -> u32 {
        5
    }
}

/// Stops every listener of a load balancer being deleted.
pub(super) struct RemoveConfig;

impl Step<Ctx> for RemoveConfig {
    step_name!("config_remove");

    fn execute<'a>(
        &'a self,
        ctx: &'a Ctx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        async move {
            ctx.backend.remove_config(lb_id(&io)?).await?;
            Ok(Value::Null)
        }
        .boxed()
    }

    fn undo<'a>(&'a self, ctx: &'a Ctx, io: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        // The delete failed: serve again what the database still holds.
        async move { ctx.backend.apply_config(lb_id(&io)?).await }.boxed()
    }
}

/// The steps that delete amphorae (`amphorae_delete`, `amphorae_retire`,
/// `amphora_delete`) differ only in which amphorae they delete; each
/// names its own, and [`Step`] is implemented once for all of them.
trait DeletesAmphorae: Send + Sync {
    const NAME: &'static str;

    /// The amphorae to delete (those already gone are simply absent).
    fn doomed<'a>(
        ctx: &'a Ctx,
        io: &'a StepIo<'_>,
    ) -> BoxFuture<'a, Result<Vec<Amphora>, StepError>>;
}

/// Deletes amphorae and their rows: done for each when already gone.
async fn delete_amphorae(ctx: &Ctx, list: Vec<Amphora>) -> Result<(), StepError> {
    for a in list {
        ctx.backend.unplug_vip(&a.id, None).await?;
        ctx.backend.delete(&a.id, a.compute_id.as_deref()).await?;
        let id = a.id.clone();
        in_tx(ctx, |tx| {
            async move { amphorae::delete(tx, &id).await }.boxed()
        })
        .await?;
    }
    Ok(())
}

impl<T: DeletesAmphorae> Step<Ctx> for T {
    fn name(&self) -> &str {
        T::NAME
    }

    fn execute<'a>(
        &'a self,
        ctx: &'a Ctx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        async move {
            let list = T::doomed(ctx, &io).await?;
            delete_amphorae(ctx, list).await?;
            Ok(Value::Null)
        }
        .boxed()
    }

    /// Amphorae cannot come back; the load balancer ends in ERROR and a
    /// failover brings new ones.
    fn undo<'a>(&'a self, _: &'a Ctx, _: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        async { Ok(()) }.boxed()
    }

    fn max_attempts(&self) -> u32 {
        10
    }
}

/// Deletes every amphora of a load balancer being deleted.
pub(super) struct DeleteAmphorae;

impl DeletesAmphorae for DeleteAmphorae {
    const NAME: &'static str = "amphorae_delete";

    fn doomed<'a>(
        ctx: &'a Ctx,
        io: &'a StepIo<'_>,
    ) -> BoxFuture<'a, Result<Vec<Amphora>, StepError>> {
        async move {
            let lb = lb_id(io)?.to_string();
            in_tx(ctx, |tx| {
                async move { amphorae::list_by_lb_tx(tx, &lb).await }.boxed()
            })
            .await
        }
        .boxed()
    }
}

/// After a failover: deletes the amphorae the new ones replace.
pub(super) struct RetireAmphorae;

impl DeletesAmphorae for RetireAmphorae {
    const NAME: &'static str = "amphorae_retire";

    fn doomed<'a>(
        ctx: &'a Ctx,
        io: &'a StepIo<'_>,
    ) -> BoxFuture<'a, Result<Vec<Amphora>, StepError>> {
        async move {
            let plan = plan(io)?;
            let mut list = Vec::new();
            for id in &plan.retire {
                if let Some(a) = amphorae::get(&ctx.db, id).await.map_err(store_err)? {
                    list.push(a);
                }
            }
            Ok(list)
        }
        .boxed()
    }
}

/// Deletes the amphora the flow names (`DELETE /amphorae/{id}`).
pub(super) struct DeleteOneAmphora;

impl DeletesAmphorae for DeleteOneAmphora {
    const NAME: &'static str = "amphora_delete";

    fn doomed<'a>(
        ctx: &'a Ctx,
        io: &'a StepIo<'_>,
    ) -> BoxFuture<'a, Result<Vec<Amphora>, StepError>> {
        async move {
            let amp = amphorae::get(&ctx.db, io.flow.object_id)
                .await
                .map_err(store_err)?;
            Ok(amp.into_iter().collect())
        }
        .boxed()
    }
}

/// Pushes the agent configuration to the amphora the flow names.
pub(super) struct PushAgentConfig;

impl Step<Ctx> for PushAgentConfig {
    step_name!("agent_config_push");

    fn execute<'a>(
        &'a self,
        ctx: &'a Ctx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        async move {
            ctx.backend.push_agent_config(io.flow.object_id).await?;
            Ok(Value::Null)
        }
        .boxed()
    }

    fn undo<'a>(&'a self, _: &'a Ctx, _: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        async { Ok(()) }.boxed()
    }
}
