-- A shared table as jobdrop wrote it before the table had a format version (format 1): that schema
-- and two finished jobs (the records of spool-format-1). Loaded by SeveralNodesTests' upgrade test.
CREATE SEQUENCE IF NOT EXISTS jobdrop_change;
CREATE TABLE IF NOT EXISTS jobdrop_jobs (
  id text PRIMARY KEY,
  partner text,
  state text NOT NULL CHECK (state IN ('pending', 'started', 'success', 'failed')),
  record text NOT NULL,
  request bytea NOT NULL,
  created_at bigint NOT NULL,
  retry_at bigint,
  node text,
  lease_until timestamptz,
  fence bigint NOT NULL DEFAULT 0,
  cancel_requested boolean NOT NULL DEFAULT false,
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  change bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS jobdrop_jobs_pending ON jobdrop_jobs (created_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS jobdrop_jobs_started ON jobdrop_jobs (partner) WHERE state = 'started';
CREATE INDEX IF NOT EXISTS jobdrop_jobs_txid ON jobdrop_jobs (txid, id);
INSERT INTO jobdrop_jobs (id, state, record, request, created_at, change) VALUES ('ee4b2be1-6da7-4542-b2e1-65718b8edba6', 'success', '{"attempts":1,"bytes":7434,"createdAt":"2026-12-06T22:33:43.001Z","fileName":"order_export-20261206T223343Z.csv","id":"ee4b2be1-6da7-4542-b2e1-65718b8edba6","inboxClaim":{"identity":{"device":65024,"inode":16302390},"jobID":"ee4b2be1-6da7-4542-b2e1-65718b8edba6","name":[112,97,105,100,46,106,115,111,110],"sha256":"67c9c9cd6e66f96b45f7f8a03345e2f41196c401870afc7997292389ac3cdd0a"},"jobType":"order_export","request":{"dialect":"elastic_path","filter":"eq(payment,paid)","format":"csv","jobType":"order_export","reference":"fixture-paid"},"requestFile":"paid.json","rows":31,"sha256":"55fb2fcd48193249e60fc0d058b5d6c635b6ddc3074b4bbb694503cfc982dcd8","updatedAt":"2026-12-06T22:33:43.027Z"}', decode('7b2264617461223a207b2274797065223a20226a6f62222c20226a6f625f74797065223a20226f726465725f6578706f7274222c202266696c746572223a20226571287061796d656e742c7061696429222c20227265666572656e6365223a2022666978747572652d70616964227d7d0a', 'hex'), 1796596423001, nextval('jobdrop_change'));
INSERT INTO jobdrop_jobs (id, state, record, request, created_at, change) VALUES ('03e9ac0f-a64d-488a-9db8-35735a600745', 'failed', '{"attempts":0,"createdAt":"2026-12-06T22:33:42.999Z","error":"filter: unknown field ''colour'' at 4 (fields: store, status, payment, shipping, currency, product_sku, name, email, customer_id, order_number, external_ref, with_tax, without_tax, created_at, updated_at)","id":"03e9ac0f-a64d-488a-9db8-35735a600745","inboxClaim":{"identity":{"device":65024,"inode":16302391},"jobID":"03e9ac0f-a64d-488a-9db8-35735a600745","name":[98,97,100,46,106,115,111,110],"sha256":"e93d73b5966fc877a5281a134e6449873dd0c1a2151e4226c2dc04130fddb321"},"jobType":"order_export","request":{"dialect":"elastic_path","filter":"eq(colour,red)","format":"csv","jobType":"order_export"},"requestFile":"bad.json","updatedAt":"2026-12-06T22:33:42.999Z"}', decode('7b2264617461223a207b2274797065223a20226a6f62222c20226a6f625f74797065223a20226f726465725f6578706f7274222c202266696c746572223a2022657128636f6c6f75722c72656429227d7d0a', 'hex'), 1796596422999, nextval('jobdrop_change'));
