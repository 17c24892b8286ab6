-- name: receive_lead_webhook
SELECT enabled, changes, new_leads, duplicates, skipped
FROM shared.receive_lead_webhook(%(payload)s::jsonb);

-- name: lead_worker_config
SELECT enabled, default_product, max_attempts FROM shared.lead_worker_config();

-- name: lead_queue_read
SELECT msg_id, read_ct, leadgen_id FROM shared.lead_queue_read(%(vt)s, %(qty)s);

-- name: sync_lead
SELECT leadgen_id, status, person_id, created, project_id, problem
FROM shared.sync_lead(%(msg_id)s, %(lead)s::jsonb);

-- name: sync_leads
SELECT leadgen_id, status, person_id, created, project_id, problem
FROM shared.sync_leads(%(items)s::jsonb);

-- name: lead_fetch_failed
SELECT shared.lead_fetch_failed(%(msg_id)s, %(leadgen_id)s, %(final)s, %(delay_s)s,
                                %(error_code)s, %(error_subcode)s, %(error_message)s) AS outcome;
