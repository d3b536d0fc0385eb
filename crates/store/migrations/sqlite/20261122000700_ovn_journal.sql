-- What the data plane must do, recorded by triggers in the same transaction
-- as the change itself, so no API write can commit without it. Rows name
-- the object to re-read (level-triggered): the sync worker recomputes that
-- object's northbound rows from the tables, applies the difference and
-- deletes the rows it read.

CREATE TABLE ovn_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL
);

-- One API server at a time drives the northbound DB; the others wait for
-- the lease to expire.
CREATE TABLE ovn_sync_lease (
    id BIGINT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO ovn_sync_lease (id, holder, expires_at) VALUES (1, '', 0);

CREATE TRIGGER ovn_journal_networks_ins AFTER INSERT ON networks BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('network', NEW.id);
END;
CREATE TRIGGER ovn_journal_networks_upd AFTER UPDATE ON networks BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('network', NEW.id);
END;
CREATE TRIGGER ovn_journal_networks_del AFTER DELETE ON networks BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('network', OLD.id);
END;

CREATE TRIGGER ovn_journal_subnets_ins AFTER INSERT ON subnets BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('network', NEW.network_id);
END;
CREATE TRIGGER ovn_journal_subnets_upd AFTER UPDATE ON subnets BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('network', NEW.network_id);
END;
CREATE TRIGGER ovn_journal_subnets_del AFTER DELETE ON subnets BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('network', OLD.network_id);
END;

-- Router ports also change their router's logical router ports.
CREATE TRIGGER ovn_journal_ports_ins AFTER INSERT ON ports BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('port', NEW.id);
    INSERT INTO ovn_journal (object_type, object_id) SELECT 'router', NEW.device_id
        WHERE NEW.device_owner LIKE 'network:router%' AND NEW.device_id <> '';
END;
CREATE TRIGGER ovn_journal_ports_upd AFTER UPDATE ON ports BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('port', NEW.id);
    INSERT INTO ovn_journal (object_type, object_id) SELECT 'router', NEW.device_id
        WHERE NEW.device_owner LIKE 'network:router%' AND NEW.device_id <> '';
    INSERT INTO ovn_journal (object_type, object_id) SELECT 'router', OLD.device_id
        WHERE OLD.device_owner LIKE 'network:router%' AND OLD.device_id <> ''
          AND OLD.device_id <> NEW.device_id;
END;
CREATE TRIGGER ovn_journal_ports_del AFTER DELETE ON ports BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('port', OLD.id);
    INSERT INTO ovn_journal (object_type, object_id) SELECT 'router', OLD.device_id
        WHERE OLD.device_owner LIKE 'network:router%' AND OLD.device_id <> '';
END;

CREATE TRIGGER ovn_journal_ip_allocations_ins AFTER INSERT ON ip_allocations BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('port', NEW.port_id);
END;
CREATE TRIGGER ovn_journal_ip_allocations_del AFTER DELETE ON ip_allocations BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('port', OLD.port_id);
END;

CREATE TRIGGER ovn_journal_port_sgs_ins AFTER INSERT ON port_security_groups BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('port', NEW.port_id);
END;
CREATE TRIGGER ovn_journal_port_sgs_del AFTER DELETE ON port_security_groups BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('port', OLD.port_id);
END;

CREATE TRIGGER ovn_journal_routers_ins AFTER INSERT ON routers BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('router', NEW.id);
END;
CREATE TRIGGER ovn_journal_routers_upd AFTER UPDATE ON routers BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('router', NEW.id);
END;
CREATE TRIGGER ovn_journal_routers_del AFTER DELETE ON routers BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('router', OLD.id);
END;

-- Floating IPs are NAT rows of the router they go through.
CREATE TRIGGER ovn_journal_floatingips_ins AFTER INSERT ON floatingips BEGIN
    INSERT INTO ovn_journal (object_type, object_id) SELECT 'router', NEW.router_id
        WHERE NEW.router_id IS NOT NULL;
END;
CREATE TRIGGER ovn_journal_floatingips_upd AFTER UPDATE ON floatingips BEGIN
    INSERT INTO ovn_journal (object_type, object_id) SELECT 'router', NEW.router_id
        WHERE NEW.router_id IS NOT NULL;
    INSERT INTO ovn_journal (object_type, object_id) SELECT 'router', OLD.router_id
        WHERE OLD.router_id IS NOT NULL AND OLD.router_id IS NOT NEW.router_id;
END;
CREATE TRIGGER ovn_journal_floatingips_del AFTER DELETE ON floatingips BEGIN
    INSERT INTO ovn_journal (object_type, object_id) SELECT 'router', OLD.router_id
        WHERE OLD.router_id IS NOT NULL;
END;

CREATE TRIGGER ovn_journal_security_groups_ins AFTER INSERT ON security_groups BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('security_group', NEW.id);
END;
CREATE TRIGGER ovn_journal_security_groups_upd AFTER UPDATE ON security_groups BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('security_group', NEW.id);
END;
CREATE TRIGGER ovn_journal_security_groups_del AFTER DELETE ON security_groups BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('security_group', OLD.id);
END;

CREATE TRIGGER ovn_journal_sg_rules_ins AFTER INSERT ON security_group_rules BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('security_group', NEW.security_group_id);
END;
CREATE TRIGGER ovn_journal_sg_rules_del AFTER DELETE ON security_group_rules BEGIN
    INSERT INTO ovn_journal (object_type, object_id) VALUES ('security_group', OLD.security_group_id);
END;
