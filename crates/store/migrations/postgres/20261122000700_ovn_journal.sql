-- What the data plane must do, recorded by triggers in the same transaction
-- as the change itself, so no API write can commit without it. Rows name
-- the object to re-read (level-triggered): the sync worker recomputes that
-- object's northbound rows from the tables, applies the difference and
-- deletes the rows it read.

CREATE TABLE ovn_journal (
    seq BIGSERIAL PRIMARY KEY,
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

-- TG_ARGV: object type, column holding the object id. Journals the new
-- and, when it differs, the old id (a floating IP moving between routers).
CREATE FUNCTION ovn_journal_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_id TEXT;
    old_id TEXT;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        new_id := to_jsonb(NEW) ->> TG_ARGV[1];
    END IF;
    IF TG_OP <> 'INSERT' THEN
        old_id := to_jsonb(OLD) ->> TG_ARGV[1];
    END IF;
    IF new_id IS NOT NULL THEN
        INSERT INTO ovn_journal (object_type, object_id) VALUES (TG_ARGV[0], new_id);
    END IF;
    IF old_id IS NOT NULL AND old_id IS DISTINCT FROM new_id THEN
        INSERT INTO ovn_journal (object_type, object_id) VALUES (TG_ARGV[0], old_id);
    END IF;
    RETURN NULL;
END $$;

-- Router ports also change their router's logical router ports.
CREATE FUNCTION ovn_journal_router_port() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        IF NEW.device_owner LIKE 'network:router%' AND NEW.device_id <> '' THEN
            INSERT INTO ovn_journal (object_type, object_id) VALUES ('router', NEW.device_id);
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        IF OLD.device_owner LIKE 'network:router%' AND OLD.device_id <> '' THEN
            IF TG_OP = 'DELETE' THEN
                INSERT INTO ovn_journal (object_type, object_id) VALUES ('router', OLD.device_id);
            ELSIF OLD.device_id <> NEW.device_id THEN
                INSERT INTO ovn_journal (object_type, object_id) VALUES ('router', OLD.device_id);
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ovn_journal_networks AFTER INSERT OR UPDATE OR DELETE ON networks
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_row('network', 'id');
CREATE TRIGGER ovn_journal_subnets AFTER INSERT OR UPDATE OR DELETE ON subnets
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_row('network', 'network_id');
CREATE TRIGGER ovn_journal_ports AFTER INSERT OR UPDATE OR DELETE ON ports
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_row('port', 'id');
CREATE TRIGGER ovn_journal_ports_router AFTER INSERT OR UPDATE OR DELETE ON ports
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_router_port();
CREATE TRIGGER ovn_journal_ip_allocations AFTER INSERT OR DELETE ON ip_allocations
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_row('port', 'port_id');
CREATE TRIGGER ovn_journal_port_sgs AFTER INSERT OR DELETE ON port_security_groups
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_row('port', 'port_id');
CREATE TRIGGER ovn_journal_routers AFTER INSERT OR UPDATE OR DELETE ON routers
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_row('router', 'id');
CREATE TRIGGER ovn_journal_floatingips AFTER INSERT OR UPDATE OR DELETE ON floatingips
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_row('router', 'router_id');
CREATE TRIGGER ovn_journal_security_groups AFTER INSERT OR UPDATE OR DELETE ON security_groups
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_row('security_group', 'id');
CREATE TRIGGER ovn_journal_sg_rules AFTER INSERT OR DELETE ON security_group_rules
    FOR EACH ROW EXECUTE FUNCTION ovn_journal_row('security_group', 'security_group_id');
